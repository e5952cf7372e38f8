/**
 * `postern hub ...` end to end: a hub served by the real command (a child process) and the admin
 * commands run in this process against its database; a revocation made with `hub revoke` reaches a
 * controller linked to the served hub, and `hub status` shows a flagged controller.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { runMain, spawnCli } from '../support/runCli.ts';
import { chainEvents } from './hubHarness.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('postern hub commands', pgUp), () => {
  let db: TestDatabase;
  let serve: ReturnType<typeof spawnCli>;
  let port: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    serve = spawnCli(['hub', 'serve', '--port', '0', '--host', '127.0.0.1', '--log-format', 'json'], { DATABASE_URL: db.url });
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      serve.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const found = /on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (found) resolve(Number(found[1]));
      });
      serve.once('exit', (code) => reject(new Error(`hub serve exited ${code}`)));
    });
  });
  afterAll(async () => {
    if (serve !== undefined && serve.exitCode === null) {
      serve.kill('SIGTERM');
      await new Promise((resolve) => serve.once('exit', resolve));
    }
    await db?.drop();
  });

  it('site add, controller add, enrol, hub revoke reaches the link, status shows a flag; serve stops on SIGTERM', async () => {
    const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/wrong' };
    const url = ['--database-url', db.url];
    expect((await runMain(['hub', 'site', 'add', 'lyon', '--name', 'Lyon', ...url], env)).stdout).toMatch(/^Site lyon added/);
    const again = await runMain(['hub', 'site', 'add', 'lyon', ...url], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists already/);
    const added = await runMain(['hub', 'controller', 'add', 'lyon', '--name', 'front desk', ...url], env);
    expect(added.code).toBe(0);
    const code = /enrolment code: (\S+)/.exec(added.stdout)![1]!;
    const enrolled = await fetch(`http://127.0.0.1:${port}/enrol`, { method: 'POST', body: JSON.stringify({ code }) });
    expect(enrolled.status).toBe(200);
    const { credential, controllerId } = (await enrolled.json()) as { credential: string; controllerId: string };
    expect(added.stdout).toContain(controllerId);

    const ws = new WebSocket(`ws://127.0.0.1:${port}/sync`, { headers: { authorization: `Bearer ${credential}` } });
    const frames: Array<Record<string, unknown>> = [];
    const arrived = (type: string) =>
      new Promise<Record<string, unknown>>((resolve) => {
        const found = frames.find((f) => f.type === type);
        if (found) return resolve(found);
        ws.on('message', (data) => {
          const frame = JSON.parse(data.toString()) as Record<string, unknown>;
          if (frame.type === type) resolve(frame);
        });
      });
    ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
    await new Promise((resolve) => ws.once('open', resolve));
    const synced = arrived('synced');
    ws.send(JSON.stringify({ type: 'hello', cursor: 0, chain: 'lyon', time: Date.now() }));
    await synced;

    const changes = arrived('changes');
    const revoked = await runMain(['hub', 'revoke', 'lyon', '9', '--issuer', '12', '--reason', 'lost', ...url], env);
    expect(revoked.stdout).toMatch(/^Subject 9 of issuer 12 revoked at site lyon/);
    expect((await changes).items).toEqual([expect.objectContaining({ issuer: 12, subject: '9', reason: 'lost' })]);

    const rejected = arrived('auditRejected');
    ws.send(JSON.stringify({ type: 'audit', events: chainEvents('lyon', 2, 1) }));
    expect(await rejected).toMatchObject({ problem: 'gap', seq: 2 });
    const status = await runMain(['hub', 'status', 'lyon', ...url], env);
    expect(status.stdout).toMatch(/^Site lyon \(Lyon\): 1 revocation\(s\)/);
    expect(status.stdout).toMatch(new RegExp(`${controllerId} +front desk +lyon .*FLAGGED: gap at seq 2`));
    const json = JSON.parse((await runMain(['hub', 'status', '--json', ...url], env)).stdout) as Array<{ controllers: Array<{ problem: string }> }>;
    expect(json[0]!.controllers[0]!.problem).toBe('gap');

    const closed = new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
    expect((await runMain(['hub', 'controller', 'revoke', controllerId, ...url], env)).stdout).toMatch(/revoked/);
    expect(await closed).toBe(4003);

    serve.kill('SIGTERM');
    const exit = await new Promise<number | null>((resolve) => serve.once('exit', resolve));
    expect(exit).toBe(0);
  });

  it('refuses a hub command without a database', async () => {
    const result = await runMain(['hub', 'status'], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--database-url or set DATABASE_URL/);
  });
});
