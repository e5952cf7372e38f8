/**
 * Helpers for the hub's tests: hubs on port 0 over a throwaway database, raw `ws` clients acting
 * as controllers, and audit chains built with the real hash.
 */
import { expect } from 'vitest';
import WebSocket from 'ws';

import { GENESIS_HASH, hashEvent } from '../../controller/audit/auditChain.ts';
import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import { Hub, type HubOptions } from '../../controller/hub/hubServer.ts';
import type { AuditEvent } from '../../controller/store/storeTypes.ts';

export async function startHub(databaseUrl: string, options: Partial<HubOptions> = {}): Promise<Hub> {
  const hub = new Hub({ databaseUrl, port: 0, host: '127.0.0.1', ...options });
  await hub.start();
  return hub;
}

export function hubUrl(hub: Hub, scheme: 'http' | 'ws' = 'http'): string {
  return `${scheme}://127.0.0.1:${hub.address().port}`;
}

export async function enrol(hub: Hub, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${hubUrl(hub)}/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A site with one enrolled controller: its id and credential. */
export async function enrolledController(admin: HubAdmin, hub: Hub, siteId: string): Promise<{ controllerId: string; credential: string }> {
  const { code } = await admin.addController(siteId, `${siteId} desk`);
  const answer = await enrol(hub, { code });
  expect(answer.status).toBe(200);
  return { controllerId: answer.body.controllerId as string, credential: answer.body.credential as string };
}

export type Frame = Record<string, unknown> & { type: string };

/** A controller's end of a sync link: every frame it got, in order, and the close. */
export class TestLink {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => undefined);
  }

  static async open(hub: Hub, credential: string): Promise<TestLink> {
    const ws = new WebSocket(`${hubUrl(hub, 'ws')}/sync`, { headers: { authorization: `Bearer ${credential}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}`)));
      ws.once('error', reject);
    });
    return new TestLink(ws);
  }

  /** The HTTP status a link with these headers is refused with (or 101 when it opens). */
  static async refusal(hub: Hub, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    const ws = new WebSocket(`${hubUrl(hub, 'ws')}/sync`, { headers });
    return new Promise((resolve) => {
      ws.once('open', () => {
        ws.terminate();
        resolve({ status: 101, body: '' });
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.once('error', () => undefined);
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends hello and waits for synced: the frames of that catch-up. */
  async hello(cursor: number, chain: string): Promise<Frame[]> {
    const from = this.frames.length;
    this.send({ type: 'hello', cursor, chain, time: Date.now() });
    await this.next('synced', from);
    return this.frames.slice(from);
  }

  /** The first frame of this type (or one of these) at or after index `from`, waiting for it up to `ms`. */
  async next(type: string | string[], from = 0, ms = 5000): Promise<Frame> {
    const deadline = Date.now() + ms;
    const types = typeof type === 'string' ? [type] : type;
    for (;;) {
      const found = this.frames.slice(from).find((f) => types.includes(f.type));
      if (found !== undefined) return found;
      if (this.closed !== undefined) throw new Error(`link closed (${this.closed.code}) before a ${type} frame; got ${JSON.stringify(this.frames)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} frame within ${ms} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async waitClosed(ms = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + ms;
    while (this.closed === undefined) {
      if (Date.now() > deadline) throw new Error('link not closed');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.closed;
  }

  close(): void {
    this.ws.terminate();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** `count` events of chain `chain` from seq `from`, linked to `prevHash`. */
export function chainEvents(chain: string, from: number, count: number, prevHash = GENESIS_HASH): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prev = prevHash;
  for (let seq = from; seq < from + count; seq++) {
    const fields = { controllerId: chain, seq, at: 1_767_225_600_000 + seq, type: 'decision', door: 'front', scanner: 'front-in', subject: `s${seq}`, kind: 'link', issuer: 0, verdict: 'grant', reason: null, actor: null, data: { n: seq } };
    const hash = hashEvent(prev, fields);
    events.push({ ...fields, prevHash: prev, hash });
    prev = hash;
  }
  return events;
}
