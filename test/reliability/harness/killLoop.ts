/**
 * The kill -9 loop: a controller process under scan load from network scanners is killed with
 * SIGKILL at a random moment and started again, over and over, on one store. What must hold:
 *
 * - every grant a scanner was answered is in the audit trail exactly once: the event at the
 *   answer's `auditSeq` is that decision (verdict, subject, issuer, scanner, door), and no
 *   single-use code (a partner's rotating code, an online-only link with maxUses 1) is granted
 *   twice anywhere in the chain, across all the kills;
 * - a code answered `grant` before a kill is denied after the restart (the replay mark and the
 *   use count survived);
 * - the chain is intact (`postern audit verify`), its seqs without gaps;
 * - every door reports `secured` (relay locked, mode normal) after each restart, and at the end
 *   once the relock timers ran;
 * - the controller never logs an error nor crashes on its own; the final SIGTERM stops it cleanly.
 *
 * Only public interfaces: the `postern` command, the site file, the JSON-RPC API.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { encode, freshSubject, partnerRotating, partnerRotatingKey, stepOf } from './codes.ts';
import { collectLog, ControllerProcess, runPostern } from './controllerProcess.ts';
import { Random } from './random.ts';
import { auditPages, RpcClient, type RpcAnswer } from './rpc.ts';
import { createSite, ensurePartner, type Site, type StoreKind } from './site.ts';
import { postgresFault, sqliteFault, type FaultKind, type StoreFault } from './storeFault.ts';
import { Counter, Failures, percentile } from './stats.ts';

export interface KillLoopOptions {
  store: StoreKind;
  /** How many times the controller is killed with SIGKILL. */
  kills: number;
  /** Reads each scanner keeps in flight during the load. */
  inFlightPerScanner?: number;
  /** The kill comes this long after the load started: uniform in [min, max] ms. */
  killAfterMs?: [number, number];
  /** Share of the kills that hit the controller while it starts (before its API is up). */
  killDuringStart?: number;
  /** Online-only links (maxUses 1) made at each start. */
  onlineLinksPerCycle?: number;
  /** Grants answered last before a kill, scanned again after the restart. */
  rescansPerCycle?: number;
  /**
   * Store faults: in most cycles the store fails shortly before the kill (PostgreSQL: its
   * connections cut or stalled through a proxy; SQLite: its write lock taken by another process),
   * so the kill hits a controller whose store is down. What the controller answered must still be
   * in the chain after the restart: the design's "durable (store, or local journal)".
   */
  storeFaults?: boolean;
  seed?: number;
  /** Stop early (and fail) when the whole loop passes this. */
  deadlineMs?: number;
  progress?: (line: string) => void;
}

export interface KillLoopResult {
  store: StoreKind;
  seed: number;
  kills: number;
  killsDuringStart: number;
  /** Kills that hit a controller whose store was failing, by fault. */
  killsInFault: Counter;
  killsUnderLoad: number;
  starts: number;
  startMs: number[];
  durationMs: number;
  loadMs: number;
  reads: { sent: number; answered: number; lostInKill: number; undecided: Counter; rpcErrors: Counter };
  grantsAnswered: number;
  grantsVerified: number;
  deniesAnswered: number;
  deniesVerified: number;
  /** Answered decisions the chain did not hold after the restart (missing, or their seq reused by another event). */
  grantsLost: number;
  deniesLost: number;
  denyReasons: Counter;
  validDenied: Counter;
  rescans: { checked: number; reasons: Counter };
  doorChecks: number;
  auditEvents: number;
  startedEvents: number;
  singleUseGrantsInChain: number;
  warnings: Counter;
  verify: string;
  failures: Failures;
}

type CaseKind = 'partner-rotating' | 'online-link' | 'replay' | 'bad-mac' | 'garbage' | 'out-of-scope';

interface Issued {
  code: string;
  kind: CaseKind;
  /** issuer:subject of a single-use code */
  key: string | null;
}

interface AnsweredDecision {
  /** Answered while the store was failing (fault mode). */
  inFault: boolean;
  seq: number;
  verdict: 'grant' | 'deny';
  reason: string | null;
  scanner: string;
  door: string;
  key: string | null;
  cycle: number;
}

const SITE_DOORS = [
  { id: 'd1', failMode: 'secure' as const },
  { id: 'd2', failMode: 'secure' as const },
  { id: 'd3', failMode: 'safe' as const },
];
const SCANNERS: Record<string, string> = { k1: 'd1', k2: 'd2', k3: 'd3' };

export async function runKillLoop(options: KillLoopOptions): Promise<KillLoopResult> {
  const started = performance.now();
  const random = new Random(options.seed);
  const inFlight = options.inFlightPerScanner ?? 4;
  const [killMin, killMax] = options.killAfterMs ?? [100, 1200];
  const killDuringStart = options.killDuringStart ?? 0.1;
  const linksPerCycle = options.onlineLinksPerCycle ?? 6;
  const rescansPerCycle = options.rescansPerCycle ?? 4;
  const deadline = Date.now() + (options.deadlineMs ?? Number.POSITIVE_INFINITY);
  const log = options.progress ?? (() => undefined);
  const failures = new Failures();

  const result: KillLoopResult = {
    store: options.store,
    seed: random.seed,
    kills: 0,
    killsDuringStart: 0,
    killsInFault: new Counter(),
    killsUnderLoad: 0,
    starts: 0,
    startMs: [],
    durationMs: 0,
    loadMs: 0,
    reads: { sent: 0, answered: 0, lostInKill: 0, undecided: new Counter(), rpcErrors: new Counter() },
    grantsAnswered: 0,
    grantsVerified: 0,
    deniesAnswered: 0,
    deniesVerified: 0,
    grantsLost: 0,
    deniesLost: 0,
    denyReasons: new Counter(),
    validDenied: new Counter(),
    rescans: { checked: 0, reasons: new Counter() },
    doorChecks: 0,
    auditEvents: 0,
    startedEvents: 0,
    singleUseGrantsInChain: 0,
    warnings: new Counter(),
    verify: '',
    failures,
  };

  const site: Site = await createSite({
    id: `${options.storeFaults ? 'fault' : 'kill'}-${options.store}`,
    store: options.store,
    doors: SITE_DOORS,
    scanners: SCANNERS,
    scopes: [
      { id: 1, doors: ['d1', 'd2', 'd3'] },
      { id: 2, doors: ['d2'] },
    ],
  });
  const partner = site.partner;
  const fault: StoreFault | undefined = !options.storeFaults ? undefined : site.databaseUrl ? await postgresFault(site.databaseUrl) : sqliteFault(site.dataDir);
  /** The controller's store: through the fault proxy when there is one. */
  const controllerDatabaseUrl = fault?.databaseUrl ?? site.databaseUrl;
  /** While a fault is on, a valid code may be denied `store-unavailable`. */
  let faultOn = false;

  /** Answered decisions not yet matched against the stored chain. */
  let unverified: AnsweredDecision[] = [];
  /** Grants answered, by cycle, newest last: what is scanned again after a restart. */
  let grantedThisCycle: Issued[] = [];
  /** Codes answered `grant` (any cycle), for replays in the load. */
  const grantedRing: Issued[] = [];
  /** Unused online-only links (maxUses 1). */
  const linkPool: Issued[] = [];
  /** Single-use keys we made, and grants per key seen in the chain. */
  const singleUse = new Set<string>();
  const grantsInChain = new Map<string, number>();
  let verifiedHead = 0;
  let current: ControllerProcess | undefined;

  const keyOf = (issuer: number, subject: bigint | string) => `${issuer}:${subject}`;

  function freshRotating(scope: number): Issued {
    const subject = freshSubject();
    const key = keyOf(partner.id, subject);
    singleUse.add(key);
    return { code: partnerRotating(partner, subject, scope), kind: 'partner-rotating', key };
  }

  function pickCase(door: string): Issued {
    const kind = random.weighted<CaseKind>({ 'partner-rotating': 62, 'online-link': 10, replay: 10, 'bad-mac': 6, garbage: 6, 'out-of-scope': 6 });
    switch (kind) {
      case 'partner-rotating':
        return freshRotating(random.chance(0.5) ? 0 : 1);
      case 'online-link':
        return linkPool.pop() ?? freshRotating(1);
      case 'replay': {
        if (grantedRing.length === 0) return freshRotating(1);
        const old = random.pick(grantedRing);
        return { ...old, kind: 'replay' };
      }
      case 'bad-mac': {
        const subject = freshSubject();
        return { code: encode({ kindByte: 2, issuer: partner.id, subject, a: stepOf(Date.now()), b: 0, scope: 1 }, randomBytes(32)), kind: 'bad-mac', key: null };
      }
      case 'garbage':
        return { code: `TICKET-${randomBytes(random.int(1, 24)).toString('base64url')}`, kind: 'garbage', key: null };
      case 'out-of-scope': {
        // Scope 2 is door d2 only: a valid code read at another door.
        if (door === 'd2') return freshRotating(1);
        const subject = freshSubject();
        return { code: encode({ kindByte: 2, issuer: partner.id, subject, a: stepOf(Date.now()), b: 0, scope: 2 }, partnerRotatingKey(partner.secret, subject)), kind: 'out-of-scope', key: null };
      }
    }
  }

  /**
   * Denials that say the store could not be asked rather than what the code is: while a fault is on,
   * `store-unavailable` (any check that reads the store) and `offline` (an online-only link's live
   * confirmation); and `offline` for an online-only link at any time (its confirmation has a hard
   * deadline, which a loaded machine can miss).
   */
  function excused(issued: Issued, reason: string | null): boolean {
    if (faultOn && (reason === 'store-unavailable' || reason === 'offline')) return true;
    return reason === 'offline' && issued.key !== null && issued.key.startsWith('0:');
  }

  /** What the answer must be for each case (grant, or these denials). */
  function judge(issued: Issued, answer: { verdict: string; reason: string | null }, scanner: string, cycle: number): void {
    const valid = issued.kind === 'partner-rotating' || issued.kind === 'online-link';
    if (answer.verdict === 'grant') {
      if (!valid) failures.add(`cycle ${cycle}: ${issued.kind} code GRANTED at ${scanner} (${issued.key ?? issued.code.slice(0, 12)})`);
      return;
    }
    const expected: Record<CaseKind, string[]> = {
      'partner-rotating': [],
      'online-link': [],
      replay: ['replayed', 'used-up', 'expired'],
      'bad-mac': ['bad-mac'],
      garbage: ['unknown-format'],
      'out-of-scope': ['out-of-scope'],
    };
    if (valid) {
      result.validDenied.add(`${issued.kind}: ${answer.reason}`);
      // An online-only link whose live confirmation missed its deadline is denied `offline` by
      // design (a hard timeout that denies): counted and reported, not a failure.
      if (!excused(issued, answer.reason)) failures.add(`cycle ${cycle}: a valid ${issued.kind} code was denied at ${scanner}: ${answer.reason}`);
    } else if (!expected[issued.kind].includes(answer.reason ?? '') && !excused(issued, answer.reason)) {
      failures.add(`cycle ${cycle}: ${issued.kind} denied with "${answer.reason}", expected ${expected[issued.kind].join(' or ')}`);
    }
  }

  /** Records what one read became. Returns the decision when it was decided. */
  function record(issued: Issued, answer: RpcAnswer, scanner: string, cycle: number, expectDeny = false): AnsweredDecision | undefined {
    result.reads.sent++;
    if (answer.kind === 'closed') {
      result.reads.lostInKill++;
      return undefined;
    }
    if (answer.kind !== 'result') {
      const what = answer.kind === 'error' ? `error ${answer.error.code} ${answer.error.message}` : answer.kind;
      result.reads.rpcErrors.add(what);
      failures.add(`cycle ${cycle}: scanner.read at ${scanner} answered ${what}`);
      return undefined;
    }
    result.reads.answered++;
    const r = answer.result;
    if (!r.decided) {
      result.reads.undecided.add(r.reason);
      if (r.reason !== 'stopped') failures.add(`cycle ${cycle}: read at ${scanner} not decided: ${r.reason}`);
      return undefined;
    }
    if (r.scanner !== scanner || r.door !== SCANNERS[scanner]) failures.add(`cycle ${cycle}: answer names scanner ${r.scanner} door ${r.door}, sent to ${scanner}`);
    const decision: AnsweredDecision = { inFault: faultOn, seq: r.auditSeq, verdict: r.verdict, reason: r.reason, scanner, door: SCANNERS[scanner]!, key: issued.key, cycle };
    if (expectDeny) {
      if (r.verdict === 'grant') failures.add(`cycle ${cycle}: ${issued.key} answered grant before the kill was GRANTED AGAIN after the restart (seq ${r.auditSeq})`);
      else if (!['replayed', 'used-up', 'expired'].includes(r.reason) && !excused(issued, r.reason)) failures.add(`cycle ${cycle}: ${issued.key}, granted before the kill, denied "${r.reason}" after the restart`);
    } else judge(issued, r, scanner, cycle);
    if (r.verdict === 'grant') {
      result.grantsAnswered++;
      if (issued.kind !== 'replay') {
        grantedThisCycle.push(issued);
        grantedRing.push(issued);
        if (grantedRing.length > 500) grantedRing.splice(0, grantedRing.length - 500);
      }
    } else {
      result.deniesAnswered++;
      result.denyReasons.add(r.reason);
    }
    unverified.push(decision);
    return decision;
  }

  /** Reads the chain from where we stopped and matches every answered decision against it. */
  async function verifyAgainstChain(admin: RpcClient, cycle: number): Promise<void> {
    const bySeq = new Map<number, any>();
    for await (const events of auditPages(admin, { afterSeq: verifiedHead })) {
      for (const e of events) {
        if (e.seq !== verifiedHead + 1) failures.add(`audit chain: seq ${e.seq} follows ${verifiedHead} (a gap or a repeat)`);
        verifiedHead = e.seq;
        result.auditEvents++;
        if (e.type === 'system' && e.reason === 'started') result.startedEvents++;
        if (e.type === 'decision') bySeq.set(e.seq, e);
        if (e.type === 'decision' && e.verdict === 'grant' && e.subject !== null) {
          const key = keyOf(e.issuer, e.subject);
          if (singleUse.has(key)) {
            result.singleUseGrantsInChain++;
            const n = (grantsInChain.get(key) ?? 0) + 1;
            grantsInChain.set(key, n);
            if (n > 1) failures.add(`single-use code ${key} granted ${n} times in the chain (seq ${e.seq})`);
          }
        }
      }
    }
    for (const d of unverified) {
      const e = bySeq.get(d.seq);
      const [issuer, subject] = d.key?.split(':') ?? [null, null];
      const matches =
        e !== undefined &&
        e.verdict === d.verdict &&
        (e.reason ?? null) === d.reason &&
        e.scanner === d.scanner &&
        e.door === d.door &&
        (d.key === null || (String(e.issuer) === issuer && e.subject === subject));
      if (!matches) {
        if (d.verdict === 'grant') result.grantsLost++;
        else result.deniesLost++;
        const found = e === undefined ? `the chain has no decision there (stored head ${verifiedHead})` : `the chain holds ${e.verdict} ${e.reason ?? ''} ${e.issuer}:${e.subject} at ${e.scanner} there`;
        const message = `cycle ${d.cycle}: answered ${d.verdict} ${d.reason ?? ''} (seq ${d.seq}, ${d.key ?? 'no subject'}) at ${d.scanner}${d.inFault ? ', while the store was failing,' : ''} is not in the chain after the restart of cycle ${cycle}: ${found}`;
        // A denial answered while the store was down may be lost with the process (the door stayed shut):
        // counted, not a failure. A grant never may: the door opened.
        if (d.verdict === 'grant' || !d.inFault) failures.add(message);
        continue;
      }
      if (d.verdict === 'grant') result.grantsVerified++;
      else result.deniesVerified++;
    }
    unverified = [];
  }

  async function checkDoors(admin: RpcClient, when: string): Promise<void> {
    const doors = (await admin.call('doors.list')) as any[];
    result.doorChecks++;
    for (const door of doors) {
      if (door.state !== 'secured' || door.relayUnlocked !== false || door.mode !== 'normal' || door.fault !== null) {
        failures.add(`${when}: door ${door.id} is ${door.state} (relay ${door.relayUnlocked ? 'UNLOCKED' : 'locked'}, mode ${door.mode}, fault ${door.fault})`);
      }
    }
  }

  async function makeLinks(admin: RpcClient, n: number): Promise<void> {
    if (n === 0) return;
    const answers = await admin.batch(Array.from({ length: n }, (_, i) => ({ method: 'links.create', params: { name: `kill loop ${i}`, scope: 1, onlineOnly: true, maxUses: 1 } })));
    for (const a of answers) {
      if (a.kind === 'closed') continue;
      if (a.kind !== 'result') {
        failures.add(`links.create answered ${a.kind === 'error' ? a.error.message : a.kind}`);
        continue;
      }
      const key = keyOf(0, a.result.link.id);
      singleUse.add(key);
      linkPool.push({ code: a.result.code, kind: 'online-link', key });
    }
  }

  /** Connects the admin and every scanner; the partner is added once. */
  async function connectAll(apiUrl: string): Promise<{ admin: RpcClient; scanners: Map<string, RpcClient> }> {
    const admin = await RpcClient.connect(apiUrl, site.adminToken);
    const scanners = new Map<string, RpcClient>();
    try {
      for (const [id, token] of Object.entries(site.scannerTokens)) scanners.set(id, await RpcClient.connect(apiUrl, token));
    } catch (error) {
      admin.close();
      for (const c of scanners.values()) c.close();
      throw error;
    }
    return { admin, scanners };
  }

  /** Scanners read as fast as they are answered until `stop` is set. */
  function startLoad(scanners: Map<string, RpcClient>, cycle: number, stop: { stopped: boolean }): Promise<void> {
    const workers: Array<Promise<void>> = [];
    for (const [scanner, client] of scanners) {
      for (let w = 0; w < inFlight; w++) {
        workers.push(
          (async () => {
            // A replay may be in flight twice on one scanner: with debounceMs 0 both are decided.
            while (!stop.stopped && !client.closed) {
              const issued = pickCase(SCANNERS[scanner]!);
              const answer = await client.request('scanner.read', { text: issued.code }, 20_000);
              record(issued, answer, scanner, cycle);
            }
          })().catch((error: unknown) => {
            stop.stopped = true;
            failures.add(`load at ${scanner}: ${(error as Error).stack ?? String(error)}`);
          }),
        );
      }
    }
    return Promise.all(workers).then(() => undefined);
  }

  function collectWarnings(proc: ControllerProcess): void {
    // Cutting PostgreSQL's connections drops the controller's claim, which the store reports as an error.
    collectLog(proc, failures, result.warnings, (line) => (fault && line.includes('"problem":"claim-lost"') ? 'error: store problem claim-lost (connections cut)' : undefined));
  }

  /** One start: verify what the previous run answered, check doors, scan again what it granted last. */
  async function afterStart(proc: ControllerProcess, cycle: number): Promise<{ admin: RpcClient; scanners: Map<string, RpcClient> }> {
    const apiUrl = await proc.ready(90_000);
    result.starts++;
    result.startMs.push(proc.startMs!);
    const clients = await connectAll(apiUrl);
    await checkDoors(clients.admin, `after start ${cycle}`);
    await verifyAgainstChain(clients.admin, cycle);
    if (cycle === 0) await ensurePartner(clients.admin, partner);
    // What was granted last before the kill must stay used.
    const last = grantedThisCycle.slice(-rescansPerCycle);
    grantedThisCycle = [];
    const scannerIds = [...clients.scanners.keys()];
    for (const issued of last) {
      const scanner = random.pick(scannerIds);
      const answer = await clients.scanners.get(scanner)!.request('scanner.read', { text: issued.code }, 20_000);
      const decision = record({ ...issued, kind: 'replay' }, answer, scanner, cycle, true);
      if (decision) {
        result.rescans.checked++;
        result.rescans.reasons.add(decision.verdict === 'grant' ? 'GRANT' : (decision.reason ?? '?'));
      }
    }
    await makeLinks(clients.admin, linksPerCycle);
    return clients;
  }

  function closeAll(clients: { admin: RpcClient; scanners: Map<string, RpcClient> } | undefined): void {
    clients?.admin.close();
    for (const c of clients?.scanners.values() ?? []) c.close();
  }

  try {
    for (let cycle = 0; cycle < options.kills; cycle++) {
      if (Date.now() > deadline) {
        failures.add(`deadline passed after ${cycle} of ${options.kills} kills`);
        break;
      }
      const proc = ControllerProcess.start(site.siteFile, controllerDatabaseUrl);
      current = proc;
      let clients: Awaited<ReturnType<typeof afterStart>> | undefined;
      try {
        if (cycle > 0 && random.chance(killDuringStart)) {
          // Somewhere in the start: migrations, the audit chain's head, the doors' first commands.
          await sleep(random.int(0, 2500));
          const exit = await proc.kill9();
          if (exit.signal !== 'SIGKILL' && exit.code !== null) failures.add(`cycle ${cycle}: the controller exited by itself (${JSON.stringify(exit)}) while starting\n${proc.output()}`);
          result.kills++;
          result.killsDuringStart++;
          if (proc.apiUrl) {
            result.starts++;
            result.startMs.push(proc.startMs!);
          }
          collectWarnings(proc);
          continue;
        }
        clients = await afterStart(proc, cycle);
        const stop = { stopped: false };
        const loadStarted = performance.now();
        const load = startLoad(clients.scanners, cycle, stop);
        let faultKind: FaultKind | undefined;
        if (fault && random.chance(0.75)) {
          // The store fails, then the kill comes: before or after the controller gave up waiting for it.
          await sleep(random.int(50, Math.max(50, killMin)));
          faultKind = site.databaseUrl ? random.pick(['cut', 'stall'] as const) : 'stall';
          fault.inject(faultKind);
          faultOn = true;
          await sleep(random.int(0, 3500));
        } else await sleep(random.int(killMin, killMax));
        if (proc.exited) failures.add(`cycle ${cycle}: the controller died by itself under load: ${JSON.stringify(proc.exited)}\n${proc.output()}`);
        await proc.kill9();
        if (faultKind) {
          fault!.heal();
          result.killsInFault.add(faultKind === 'stall' && !site.databaseUrl ? 'write lock held' : faultKind === 'cut' ? 'connections cut' : 'connections stalled');
        }
        stop.stopped = true;
        closeAll(clients);
        await load;
        faultOn = false;
        result.loadMs += performance.now() - loadStarted;
        result.kills++;
        result.killsUnderLoad++;
      } finally {
        closeAll(clients);
        if (!proc.exited) await proc.kill9();
        fault?.heal();
        faultOn = false;
        collectWarnings(proc);
      }
      if ((cycle + 1) % 10 === 0 || cycle + 1 === options.kills) {
        log(`[${site.spec.id}] ${cycle + 1}/${options.kills} kills, ${result.grantsAnswered} grants answered, ${result.grantsVerified} verified, ${failures.total} failures, start p50 ${percentile(result.startMs, 50)?.toFixed(0)} ms`);
      }
    }

    // The last start: no kill. Check, load a little, let the doors relock, check again, stop cleanly.
    const proc = ControllerProcess.start(site.siteFile, controllerDatabaseUrl);
    current = proc;
    let clients: Awaited<ReturnType<typeof afterStart>> | undefined;
    try {
      clients = await afterStart(proc, options.kills);
      const stop = { stopped: false };
      const loadStarted = performance.now();
      const load = startLoad(clients.scanners, options.kills, stop);
      await sleep(500);
      stop.stopped = true;
      await load;
      result.loadMs += performance.now() - loadStarted;
      // unlockSeconds is 0.3: every door has relocked after a second.
      await sleep(1000);
      await checkDoors(clients.admin, 'at the end');
      await verifyAgainstChain(clients.admin, options.kills + 1);
      closeAll(clients);
      clients = undefined;
      const exit = await proc.stop(20_000);
      if (exit.code !== 0 || exit.forced) failures.add(`SIGTERM: the controller ended with ${JSON.stringify(exit)}\n${proc.output()}`);
    } finally {
      closeAll(clients);
      if (!proc.exited) await proc.kill9();
      collectWarnings(proc);
    }

    const verify = await runPostern(['audit', 'verify', '--config', site.siteFile], site.databaseUrl, 600_000);
    result.verify = verify.stdout.trim();
    const own = new RegExp(`^${site.spec.id}: (\\d+) events, chain intact$`, 'm').exec(verify.stdout);
    if (verify.code !== 0 || !own) failures.add(`postern audit verify exited ${verify.code}:\n${verify.stdout}\n${verify.stderr}`);
    else if (Number(own[1]) < verifiedHead) failures.add(`postern audit verify checked ${own[1]} events, but ${verifiedHead} were read over the API`);
    if (result.startedEvents < result.starts || result.startedEvents > options.kills + 1) {
      failures.add(`${result.startedEvents} "started" events for ${result.starts} starts that reached the API (${options.kills + 1} processes)`);
    }
    if (result.grantsVerified !== result.grantsAnswered) failures.add(`${result.grantsAnswered} grants answered, ${result.grantsVerified} found as answered in the chain`);
  } catch (error) {
    failures.add(`harness stopped: ${(error as Error).stack ?? String(error)}${current ? `\n${current.output()}` : ''}`);
  } finally {
    if (current && !current.exited) await current.kill9().catch(() => undefined);
    await fault?.close();
    await site.dispose();
    result.durationMs = performance.now() - started;
  }
  return result;
}
