/**
 * examples/partner-webhook/ticketWebhook.mjs, the webhook of docs/partners.md, run as a partner
 * runs it (a child process on a free port) and asked by a real controller about ticket codes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../controller/controller.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { SimulatedDoorIo } from '../../drivers/doorIo/simulatedDoorIo.ts';
import { scanAt, tempDir, testSite } from '../support/testSite.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/partner-webhook/ticketWebhook.mjs', import.meta.url));
const SECRET = 'ticket-webhook-secret-5d1e9b7c3a8f2e4d6b0a';
const TICKETS = { 'TKT-7F3K-2291': 'Ada Lovelace', 'TKT-9QX2-0042': 'Grace Hopper' };

interface Webhook {
  child: ChildProcessWithoutNullStreams;
  url: string;
  output(): string;
}

/** Starts the example on port 0 and waits for its "listening on" line. */
async function startExample(env: Record<string, string>): Promise<Webhook> {
  const child = spawn(process.execPath, [EXAMPLE], { env: { PATH: process.env.PATH ?? '', PORT: '0', ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example did not start: ${out}`)), 15_000);
    child.stdout.on('data', () => {
      const match = /listening on (http:\/\/[\d.]+:\d+\/)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the example exited with ${code}: ${out}`));
    });
  });
  return { child, url, output: () => out };
}

function stopExample(webhook: Webhook | undefined): Promise<void> {
  if (!webhook || webhook.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    webhook.child.on('exit', () => resolve());
    webhook.child.kill('SIGTERM');
  });
}

async function startController(url: string, secret: string): Promise<{ controller: Controller; dataDir: string }> {
  const dataDir = await tempDir('postern-ticket-webhook-');
  const config = testSite(dataDir, (input) => {
    input.scanners = [
      { id: 'front-in', door: 'front', driver: 'simulated', debounceMs: 0 },
      { id: 'lab-in', door: 'lab', driver: 'simulated', debounceMs: 0 },
    ];
    input.delegation = { url, secret, timeoutMs: 3000, scanners: ['front-in'] };
  });
  const controller = new Controller({ config, terminal: new PassThrough() });
  await controller.start();
  return { controller, dataDir };
}


async function auditEvent(dataDir: string, seq: number) {
  const store = openStore({ dataDir });
  await store.start();
  try {
    return (await store.queryAudit({ controllerId: 'test-site', limit: 1000 })).find((e) => e.seq === seq)!;
  } finally {
    await store.stop();
  }
}

describe('examples/partner-webhook/ticketWebhook.mjs', () => {
  let webhook: Webhook;
  const controllers: Controller[] = [];

  beforeAll(async () => {
    const dir = await tempDir('postern-tickets-');
    const ticketsFile = path.join(dir, 'tickets.json');
    await writeFile(ticketsFile, JSON.stringify(TICKETS));
    webhook = await startExample({ POSTERN_WEBHOOK_SECRET: SECRET, TICKETS_FILE: ticketsFile });
  });

  afterAll(async () => {
    for (const c of controllers) await c.stop();
    await stopExample(webhook);
  });

  it('opens the door for a listed ticket, with its holder\'s name in the audit event, and denies an unlisted one', async () => {
    const { controller, dataDir } = await startController(webhook.url, SECRET);
    controllers.push(controller);

    const granted = await scanAt(controller, 'front-in', 'TKT-7F3K-2291');
    expect(granted).toMatchObject({ verdict: 'grant', reason: null, kind: 'delegated', door: 'front' });
    expect((controller.doorIo('front') as SimulatedDoorIo).relayHistory).toEqual([false, true]);
    const event = await auditEvent(dataDir, granted.auditSeq);
    expect(event).toMatchObject({ type: 'decision', verdict: 'grant', kind: 'delegated', scanner: 'front-in' });
    expect(event.data).toMatchObject({ delegation: { subjectName: 'Ada Lovelace', reason: 'ticket valid at front', status: 200 } });

    const denied = await scanAt(controller, 'front-in', 'TKT-0000-NOPE');
    expect(denied).toMatchObject({ verdict: 'deny', reason: 'delegate-denied' });
    expect((await auditEvent(dataDir, denied.auditSeq)).data).toMatchObject({ delegation: { reason: 'unknown ticket' } });

    // A scanner without delegation keeps unknown-format, and the webhook never hears of it.
    const before = webhook.output();
    expect(await scanAt(controller, 'lab-in', 'TKT-9QX2-0042')).toMatchObject({ verdict: 'deny', reason: 'unknown-format' });
    // A Postern-looking code that is not one still goes; the example does not know it.
    expect((await scanAt(controller, 'front-in', 'P1.AAAA')).reason).toBe('delegate-denied');
    await expect.poll(() => webhook.output().split('\n').filter((l) => l.includes(': deny')).length).toBe(2);
    expect(webhook.output().slice(before.length)).not.toContain('grant');
    expect(webhook.output()).toMatch(/^[0-9a-f-]{36} test-site\/front: grant \(Ada Lovelace\)$/m);
  });

  it('refuses a controller with another secret (401), which the controller denies as non-2xx', async () => {
    const { controller, dataDir } = await startController(webhook.url, 'not-the-shared-secret-but-long-enough-1234');
    controllers.push(controller);
    const denied = await scanAt(controller, 'front-in', 'TKT-9QX2-0042');
    expect(denied).toMatchObject({ verdict: 'deny', reason: 'delegate-error' });
    expect((await auditEvent(dataDir, denied.auditSeq)).data).toMatchObject({ delegation: { detail: 'non-2xx 401', status: 401 } });
  });

  it('will not start without a secret', async () => {
    const failed = await startExample({}).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failed?.message).toContain('POSTERN_WEBHOOK_SECRET must hold the shared secret');
  });
});
