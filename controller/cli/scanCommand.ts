import WebSocket from 'ws';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { parse, requirePositional, requireString } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { loadSiteConfig } from './cliContext.ts';

export const SCAN_USAGE = `postern scan TEXT --scanner ID [--url ws://HOST:PORT/api] [--token TOKEN]
  Sends TEXT as a read of network scanner ID to the running controller and prints the verdict
  (exit 0: grant, 4: deny). The token (--token or $POSTERN_TOKEN) needs the integrator role,
  or the scanner role bound to that scanner.`;

/** Exit status for a denied scan, so scripts can tell it from a failure to ask. */
export class ScanDenied extends Error {}

export async function scanCommand(args: string[], io: CliEnvironment): Promise<void> {
  const { values, positionals } = parse(args, { scanner: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' } });
  const text = requirePositional(positionals[0], 'TEXT (what the scanner read)');
  const scanner = requireString(values.scanner, 'scanner');
  const token = values.token ?? io.env.POSTERN_TOKEN;
  if (!token) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, 'token: pass --token or set POSTERN_TOKEN (postern token create --name NAME --role integrator)');
  const url = values.url ?? defaultUrl(values.config, io.env);
  const answer = await callOnce(url, token, 'scanner.read', { scanner, text });
  const result = answer as { decided: boolean; verdict?: string; reason: string | null; door?: string };
  if (!result.decided) throw new PosternError(ErrorCodes.REQUEST_FAILED, `the read was not decided: ${result.reason}`);
  io.stdout.write(`${result.verdict === 'grant' ? 'GRANT' : 'DENY'} ${result.door}${result.reason ? `: ${result.reason}` : ''}\n`);
  if (result.verdict !== 'grant') throw new ScanDenied();
}

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
      const response = JSON.parse(String(data)) as { result?: unknown; error?: { message: string } };
      socket.close();
      if (response.error) reject(new PosternError(ErrorCodes.REQUEST_FAILED, `${method}: ${response.error.message}`));
      else resolve(response.result);
    });
  });
}
