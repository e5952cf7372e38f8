/**
 * `postern demo force-open|hold-open|close DOOR`: the demo's door commands (demo.forceOpen,
 * demo.holdOpen, demo.close), sent to the running controller over its API as `postern scan` sends
 * a read, so that a new user sees the alarms from a second terminal. Prints the door's state after.
 */
import WebSocket from 'ws';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { SiteOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { loadSiteConfig } from './siteFile.ts';

interface DemoValues extends SiteOptions {
  door: string;
  url?: string;
  token?: string;
}

interface DoorStatus {
  id: string;
  state: string;
  doorOpen: boolean;
  relayUnlocked: boolean;
  alarm: { kind: string; active: boolean; acknowledged: boolean } | null;
}

export const forceOpen = (values: DemoValues, io: CliEnvironment) => demoCommand('demo.forceOpen', values, io);
export const holdOpen = (values: DemoValues, io: CliEnvironment) => demoCommand('demo.holdOpen', values, io);
export const close = (values: DemoValues, io: CliEnvironment) => demoCommand('demo.close', values, io);

async function demoCommand(method: string, values: DemoValues, io: CliEnvironment): Promise<void> {
  const token = values.token ?? io.env.POSTERN_TOKEN;
  if (!token) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, 'token: pass --token or set POSTERN_TOKEN (postern token create --name NAME --role operator)');
  const url = values.url ?? defaultUrl(values.config, io.env);
  const door = (await callOnce(url, token, method, { door: values.door })) as DoorStatus;
  const alarm = door.alarm ? `; alarm ${door.alarm.kind}${door.alarm.active ? '' : ' (door closed again)'}${door.alarm.acknowledged ? ', acknowledged' : ''}` : '';
  io.stdout.write(`door ${door.id}: ${door.state} (door ${door.doorOpen ? 'open' : 'closed'}, relay ${door.relayUnlocked ? 'unlocked' : 'locked'})${alarm}\n`);
}

// The two helpers below are scanCommand.ts's, which does not export them.
function defaultUrl(configFlag: string | undefined, env: NodeJS.ProcessEnv): string {
  const { api } = loadSiteConfig(configFlag, env);
  const host = api.host === '0.0.0.0' || api.host === '::' ? '127.0.0.1' : api.host;
  return `${api.tls ? 'wss' : 'ws'}://${host.includes(':') ? `[${host}]` : host}:${api.port}/api`;
}

/** One JSON-RPC call over a fresh connection. */
function callOnce(url: string, token: string, method: string, params: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, handshakeTimeout: 5000 });
    const fail = (message: string) => {
      socket.terminate();
      reject(new PosternError(ErrorCodes.CONTROLLER_UNREACHABLE, message));
    };
    socket.on('unexpected-response', (_req, res) => fail(`${url} refused the connection: HTTP ${res.statusCode} (check the token)`));
    socket.on('error', (error) => fail(`cannot reach the controller at ${url}: ${error.message}`));
    socket.on('open', () => socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params })));
    socket.on('message', (data) => {
      const response = JSON.parse(String(data)) as { result?: unknown; error?: { code: number; message: string } };
      socket.close();
      if (response.error) {
        // The controller runs no simulated door: it offers no demo method.
        const hint = response.error.code === -32601 ? ' (the demo commands need a site with simulated doors, such as `postern start --demo`)' : '';
        reject(new PosternError(ErrorCodes.REQUEST_FAILED, `${method}: ${response.error.message}${hint}`));
      } else resolve(response.result);
    });
  });
}
