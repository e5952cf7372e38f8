/** Over TLS the session cookie is Secure, and socket.io works on the same HTTPS server. */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { makeTestCertificate, skipWithoutOpenssl } from '../support/testCertificate.ts';
import { startWebSite, USERS } from '../support/webSite.ts';


describe.skipIf(skipWithoutOpenssl)('web UI over TLS', () => {
  it('sets a Secure cookie and accepts socket.io over HTTPS', async () => {
    const { cert, key } = await makeTestCertificate();
    const ca = readFileSync(cert, 'utf8');
    const site = await startWebSite({ patch: (c) => void (c.api = { port: 0, tls: { cert, key } }) });
    try {
      const { port } = new URL(site.url);
      const setCookie = await new Promise<string[]>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/auth/login', method: 'POST', ca, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.headers['set-cookie'] ?? []);
        });
        req.on('error', reject);
        req.end(JSON.stringify({ name: USERS.viewer.name, password: USERS.viewer.password }));
      });
      expect(setCookie[0]).toMatch(/^postern_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Secure$/);
      const cookie = setCookie[0]!.split(';')[0]!;
      const socket = io(site.url, { path: '/socket.io', extraHeaders: { cookie }, ca, reconnection: false, forceNew: true, transports: ['websocket'] });
      const hello = await new Promise<any>((resolve, reject) => {
        socket.once('hello', resolve);
        socket.once('connect_error', reject);
      });
      expect(hello.user).toEqual({ name: 'vera', role: 'viewer' });
      socket.close();
    } finally {
      await site.stop();
    }
  });
});
