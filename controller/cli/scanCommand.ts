/**
 * `postern scan TEXT --scanner ID`: a read of a network scanner, sent to the running controller over
 * its API; the verdict is printed, and a denial is exit status 4.
 */
import WebSocket from 'ws';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { requireString, type SiteOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { ScanDenied } from './cliErrors.ts';
import { loadSiteConfig } from './siteFile.ts';

export async function scanCommand(values: SiteOptions & { text: string; scanner?: string; url?: string; token?: string }, io: CliEnvironment): Promise<void> {
  const { text } = values;
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
