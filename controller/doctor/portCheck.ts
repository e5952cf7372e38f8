/**
 * The API port: the doctor listens on it for a moment, as the controller would. A port that is
 * taken is fine when the program holding it is a running Postern (it answers /healthz with "ok"
 * and /api with 426, asking for a WebSocket), and a failure otherwise.
 */
import http from 'node:http';
import https from 'node:https';
import { createServer } from 'node:net';
import type { DoctorCheck, DoctorContext } from './doctor.ts';

const PROBE_TIMEOUT_MS = 2000;

export async function apiPortCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  const { api } = ctx.config;
  const name = 'api port';
  if (!api.enabled) return { name, status: 'ok', message: 'api.enabled is false: no HTTP server, so no port' };
  const setting = (ctx.env.POSTERN_API_PORT ?? '').trim() !== '' ? 'POSTERN_API_PORT' : 'api.port';
  if (api.port === 0) {
    return { name, status: 'warn', message: `${setting} is 0: the controller picks a free port at each start, which clients cannot know`, hint: 'set a fixed port, such as 8080 (or 8443 with api.tls)' };
  }
  const where = `${api.host.includes(':') ? `[${api.host}]` : api.host}:${api.port}`;
  const code = await tryListen(api.host, api.port);
  if (code === undefined) return { name, status: 'ok', message: `${where} (${setting}) is free` };
  if (code === 'EADDRINUSE') {
    const holder = await probePostern(api.host, api.port, api.tls !== undefined);
    if (holder === 'ready') return { name, status: 'ok', message: `${where} (${setting}) is held by a running Postern, which is ready` };
    if (holder === 'not-ready') return { name, status: 'warn', message: `${where} (${setting}) is held by a running Postern that is not ready (/readyz answers 503)`, hint: 'journalctl -u postern says why' };
    return {
      name,
      status: 'fail',
      message: `${where} (${setting}) is in use by another program, which is not a Postern: the controller cannot start its API there`,
      hint: `ss -ltnp 'sport = :${api.port}' names the program; stop it, or set another api.port`,
    };
  }
  if (code === 'EACCES') {
    return {
      name,
      status: 'fail',
      message: `${where} (${setting}): ${ctx.user} may not listen on a port below 1024`,
      hint: 'use a port from 1024 up (8080, or 8443 with api.tls), or give the unit AmbientCapabilities=CAP_NET_BIND_SERVICE and CapabilityBoundingSet=CAP_NET_BIND_SERVICE (systemctl edit postern)',
    };
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { name, status: 'fail', message: `${where}: api.host ${api.host} is not an address of this machine (${code})`, hint: 'use 127.0.0.1, 0.0.0.0 (every interface) or one of the addresses ip -brief address shows' };
  }
  return { name, status: 'fail', message: `${where} (${setting}) cannot be listened on: ${code}` };
}

/** Listens and closes at once; the error code when it cannot listen. */
function tryListen(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Whether a Postern answers on that port, and whether it is ready; undefined when something else does. */
async function probePostern(host: string, port: number, tls: boolean): Promise<'ready' | 'not-ready' | undefined> {
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const health = await get(target, port, tls, '/healthz');
  if (health?.status !== 200 || health.body !== 'ok\n') return undefined;
  const api = await get(target, port, tls, '/api');
  if (api?.status !== 426) return undefined;
  const ready = await get(target, port, tls, '/readyz');
  return ready?.status === 200 ? 'ready' : 'not-ready';
}

function get(host: string, port: number, tls: boolean, path: string): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const request = (tls ? https : http).get(
      // The doctor only asks who is there: a self-signed certificate is fine for that. No
      // keep-alive (agent: false): the connection closes with the answer.
      { host, port, path, agent: false, timeout: PROBE_TIMEOUT_MS, rejectUnauthorized: false, headers: { 'user-agent': 'postern-doctor' } },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          if (body.length < 4096) body += chunk;
        });
        response.on('end', () => {
          request.destroy();
          resolve({ status: response.statusCode ?? 0, body });
        });
        response.on('error', () => resolve(undefined));
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(undefined));
  });
}
