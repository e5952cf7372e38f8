/**
 * A real network partition between a controller and its hub: the hub runs as its own process
 * (`postern hub serve`) inside a network namespace this test makes, reached over a veth pair; it
 * reaches PostgreSQL over a second veth pair (a forwarder in this process, on the host side, to the
 * server on 127.0.0.1). The controller runs in this process, in the root namespace. The partition
 * is the namespace's end of the controller's veth set down: packets vanish both ways, no socket is
 * closed, new connections go nowhere. The controller must notice by heartbeat silence, keep
 * deciding, and once the link is up again take the revocation made meanwhile before it reports
 * live and upload its chain with no duplicate and no gap.
 *
 * Root only, with `ip` and network namespaces (no netem or iptables needed); skipped with a name
 * that says why otherwise, unless POSTERN_TEST_REQUIRE_ALL=1 and root.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncTiming } from '../../controller/sync/syncLink.ts';
import { adminUrl, postgresAvailable, requireAll } from '../support/postgres.ts';
import { startHubProxy, type HubProxy } from './hubProxy.ts';
import { CHAIN, ControllerSite, FAST, doorsLocked, expectSameChain, hubDatabase, hubSeq, settledChains, until, type HubDatabaseFixture } from './hubSite.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const isRoot = process.getuid?.() === 0;
const hasIp = spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0;
const pgUp = await postgresAvailable();

/** Whether this machine lets us make a namespace (a container may not, even as root). */
function canMakeNamespaces(): boolean {
  if (!isRoot || !hasIp) return false;
  const probe = `pstprobe${randomBytes(3).toString('hex')}`;
  if (spawnSync('ip', ['netns', 'add', probe], { stdio: 'ignore' }).status !== 0) return false;
  spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
  return true;
}
const netnsOk = canMakeNamespaces();
const why = !isRoot ? 'not root' : !hasIp ? '`ip` (iproute2) is missing' : !netnsOk ? 'cannot make network namespaces here' : !pgUp ? 'PostgreSQL not reachable' : undefined;
const run = why === undefined || (requireAll && isRoot);
const suiteName = why === undefined ? 'a real partition (ip netns + veth) between a controller and its hub' : `a real partition (ip netns + veth) between a controller and its hub (${run ? `${why}, and POSTERN_TEST_REQUIRE_ALL=1: failing` : `skipped: ${why}`})`;

function ip(...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr || result.error?.message}`);
}

describe.skipIf(!run)(suiteName, () => {
  const tag = randomBytes(2).toString('hex');
  const ns = `pstn${tag}`;
  // Interface names are at most 15 characters.
  const linkHost = `pl${tag}h`;
  const linkNs = `pl${tag}n`;
  const dbHost = `pd${tag}h`;
  const dbNs = `pd${tag}n`;
  // A /30 each in 10.213.x.0/24, x from the tag, so that two runs side by side do not collide.
  const octet = parseInt(tag, 16) % 250;
  const net = { linkHost: `10.213.${octet}.1`, linkNs: `10.213.${octet}.2`, dbHost: `10.213.${octet}.5`, dbNs: `10.213.${octet}.6` };
  const HUB_PORT = 8450;
  const hubUrl = `http://${net.linkNs}:${HUB_PORT}`;
  const timing: SyncTiming = { ...FAST, heartbeatMs: 200, silenceMs: 1000 };

  let fixture: HubDatabaseFixture | undefined;
  let pgForwarder: HubProxy | undefined;
  let hubProcess: ChildProcess | undefined;
  let hubOutput = '';
  let site: ControllerSite | undefined;
  const sites: ControllerSite[] = [];
  let madeNamespace = false;

  beforeAll(async () => {
    ip('netns', 'add', ns);
    madeNamespace = true;
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
    for (const [host, inside, hostAddress, nsAddress] of [
      [linkHost, linkNs, net.linkHost, net.linkNs],
      [dbHost, dbNs, net.dbHost, net.dbNs],
    ] as const) {
      ip('link', 'add', host, 'type', 'veth', 'peer', 'name', inside);
      ip('link', 'set', inside, 'netns', ns);
      ip('addr', 'add', `${hostAddress}/30`, 'dev', host);
      ip('link', 'set', host, 'up');
      ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${nsAddress}/30`, 'dev', inside);
      ip('netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up');
    }

    fixture = await hubDatabase();
    // PostgreSQL listens on 127.0.0.1 only: the namespace reaches it through a forwarder on the host side of its veth.
    const server = new URL(adminUrl);
    pgForwarder = await startHubProxy(Number(server.port || 5432), server.hostname, net.dbHost);
    const hubDbUrl = new URL(fixture.db.url);
    hubDbUrl.hostname = net.dbHost;
    hubDbUrl.port = String(pgForwarder.port);

    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'controller/bin/postern.ts', 'hub', 'serve', '--database-url', hubDbUrl.toString(), '--host', net.linkNs, '--port', String(HUB_PORT), '--log-format', 'json'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'info' },
    });
    hubProcess = child;
    child.stdout!.on('data', (chunk: Buffer) => (hubOutput += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (hubOutput += chunk.toString()));
    await until(() => hubOutput.includes('Postern hub on') || child.exitCode !== null, 45_000, 'the hub in the namespace to listen');
    if (!hubOutput.includes('Postern hub on')) throw new Error(`the hub did not start in ${ns}: ${hubOutput}`);
  }, 90_000);

  afterAll(async () => {
    for (const started of sites) await started.stop().catch(() => undefined);
    if (hubProcess !== undefined && hubProcess.exitCode === null) {
      const exited = new Promise<void>((resolve) => hubProcess!.once('exit', () => resolve()));
      hubProcess.kill('SIGTERM');
      const timer = setTimeout(() => hubProcess?.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await pgForwarder?.close();
    await fixture?.close().catch(() => undefined);
    // Deleting the namespace deletes the veth ends in it, and with them their peers; the host ends are deleted too in case.
    if (madeNamespace) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    for (const link of [linkHost, dbHost]) spawnSync('ip', ['link', 'del', link], { stdio: 'ignore' });
  }, 30_000);

  it('the controller notices the partition by heartbeat silence, keeps deciding, and after it takes the revocation made meanwhile before live and uploads with no duplicate and no gap', async () => {
    const { admin } = fixture!;
    await admin.addSite('lisbon');
    const { controllerId, code } = await admin.addController('lisbon', 'desk');
    site = await ControllerSite.create();
    sites.push(site);
    await site.enrol(hubUrl, code);
    await site.start({ hubUrl, timing });
    await until(() => site!.running.syncStatus?.state === 'live', 15_000, 'the link live across the veth');
    const open = await site.issue('Open');
    const gone = await site.issue('Gone');
    const later = await site.issue('Later');
    const first = await admin.revokeSubject('lisbon', 0, gone.id, 'lost');
    await until(() => (site!.running.syncStatus?.cursor ?? 0) >= first.cursor, 5000, 'the revocation pushed across the veth');
    const uploaded = async () => {
      await doorsLocked(site!);
      await until(async () => site!.running.syncStatus?.outboxDepth === 0 && (await hubSeq(admin, controllerId)) === site!.head, 20_000, 'the hub to hold the head');
      return site!.head;
    };
    const before = await uploaded();

    // The partition: the namespace's end of the controller's veth goes down.
    const cutAt = Date.now();
    ip('netns', 'exec', ns, 'ip', 'link', 'set', linkNs, 'down');
    for (let i = 0; i < 3; i++) {
      expect(await site.scan(open.code)).toMatchObject({ verdict: 'grant' });
      expect(await site.scan(gone.code)).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    }
    await until(() => site!.running.syncStatus?.state === 'backoff', 10_000, 'the partition noticed');
    const noticedMs = Date.now() - cutAt;
    expect(site.running.syncStatus!.lastError).toBe('hub silent for 1 s');
    // Made while partitioned: the hub (still on its database over the other veth) has it; the controller cannot.
    const second = await admin.revokeSubject('lisbon', 0, later.id, 'revoked during the partition');
    await until(() => (site!.running.syncStatus?.attempts ?? 0) >= 3, 15_000, 'retries into the partition');
    expect(await site.scan(later.code)).toMatchObject({ verdict: 'grant' });
    expect(site.running.syncStatus!.state).not.toBe('live');
    expect(await hubSeq(admin, controllerId)).toBe(before);

    let liveCursor: number | undefined;
    const off = site.internals.sync!.onStatus((status) => {
      if (status.state === 'live' && liveCursor === undefined) liveCursor = status.cursor;
    });
    try {
      ip('netns', 'exec', ns, 'ip', 'link', 'set', linkNs, 'up');
      await until(() => liveCursor !== undefined, 30_000, 'live again after the partition');
    } finally {
      off();
    }
    expect(liveCursor).toBe(second.cursor);
    expect(await site.scan(later.code)).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    const { trail, held } = await settledChains(site, admin, fixture!.db.url, controllerId);
    const head = expectSameChain(held, trail);
    expect(head).toBeGreaterThan(before + 7);
    expect((await admin.status('lisbon'))[0]!.controllers[0]).toMatchObject({ chain: CHAIN, auditSeq: head, problem: null });
    console.info(`[hubNetns] partition noticed after ${noticedMs} ms (silence setting 1000 ms)`);
  }, 90_000);

  it('the hub cut off from PostgreSQL (its veth to the database down): the controller keeps deciding, and after it the hub takes the queued events once and pushes the revocation made meanwhile', async () => {
    const { admin } = fixture!;
    await admin.addSite('porto');
    const { controllerId, code } = await admin.addController('porto', 'desk');
    const porto = await ControllerSite.create();
    sites.push(porto);
    await porto.enrol(hubUrl, code);
    await porto.start({ hubUrl, timing });
    await until(() => porto.running.syncStatus?.state === 'live', 15_000, 'the link live across the veth');
    const open = await porto.issue('Open');
    const later = await porto.issue('Later');
    await doorsLocked(porto);
    await until(async () => porto.running.syncStatus?.outboxDepth === 0 && (await hubSeq(admin, controllerId)) === porto.head, 20_000, 'the hub to hold the head');
    const before = porto.head;

    ip('link', 'set', dbHost, 'down');
    let healed = false;
    try {
      for (let i = 0; i < 3; i++) expect(await porto.scan(open.code)).toMatchObject({ verdict: 'grant' });
      // Written straight to PostgreSQL: the hub's listening connection cannot hear it while the veth is down.
      const { cursor } = await admin.revokeSubject('porto', 0, later.id, 'revoked while the hub had no database');
      expect(await porto.scan(later.code)).toMatchObject({ verdict: 'grant' });
      await doorsLocked(porto);
      expect(await hubSeq(admin, controllerId)).toBe(before);
      expect(porto.running.syncStatus!.cursor).toBeLessThan(cursor);
      ip('link', 'set', dbHost, 'up');
      healed = true;
      await until(() => (porto.running.syncStatus?.cursor ?? 0) >= cursor, 45_000, 'the revocation once the hub reaches its database again');
    } finally {
      if (!healed) ip('link', 'set', dbHost, 'up');
    }
    expect(await porto.scan(later.code)).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    const { trail, held } = await settledChains(porto, admin, fixture!.db.url, controllerId, 45_000);
    const head = expectSameChain(held, trail);
    expect(head).toBeGreaterThan(before + 4);
    expect((await admin.status('porto'))[0]!.controllers[0]).toMatchObject({ chain: CHAIN, auditSeq: head, problem: null });
  }, 120_000);
});
