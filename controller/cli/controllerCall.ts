/**
 * One JSON-RPC call to the running controller over a fresh API connection, for the commands that
 * act through it (`postern scan`, `postern demo ...`): the URL from the site file (or --url), the
 * token from --token or POSTERN_TOKEN.
 */
import WebSocket from 'ws';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { SiteOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { loadSiteConfig } from './siteFile.ts';

export interface ControllerCallOptions extends SiteOptions {
  url?: string;
  token?: string;
}

/** A JSON-RPC error answer: the message, and a hint the command adds for that code. */
export type ErrorHint = (error: { code: number; message: string }) => string;

export async function callController(
  values: ControllerCallOptions,
  io: CliEnvironment,
  method: string,
  params: unknown,
  options: { tokenRole: string; hint?: ErrorHint },
): Promise<unknown> {
  const token = values.token ?? io.env.POSTERN_TOKEN;
  if (!token) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `token: pass --token or set POSTERN_TOKEN (postern token create --name NAME --role ${options.tokenRole})`);
  const url = values.url ?? defaultUrl(values.config, io.env);
  return callOnce(url, token, method, params, options.hint);
}

function defaultUrl(configFlag: string | undefined, env: NodeJS.ProcessEnv): string {
  const { api } = loadSiteConfig(configFlag, env);
  const host = api.host === '0.0.0.0' || api.host === '::' ? '127.0.0.1' : api.host;
  return `${api.tls ? 'wss' : 'ws'}://${host.includes(':') ? `[${host}]` : host}:${api.port}/api`;
}

function callOnce(url: string, token: string, method: string, params: unknown, hint: ErrorHint | undefined): Promise<unknown> {
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
      if (response.error) reject(new PosternError(ErrorCodes.REQUEST_FAILED, `${method}: ${response.error.message}${hint?.(response.error) ?? ''}`));
      else resolve(response.result);
    });
  });
}
