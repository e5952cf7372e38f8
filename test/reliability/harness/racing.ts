/**
 * Racing single-use codes: the same code read at the same moment by two network scanners at two
 * doors, each with its own connection and token, many times over. The codes are single-use:
 * a partner's rotating codes and site badges' rotating codes (once per 15 s step, site-wide), and
 * online-only links with maxUses 1. What must hold, for every pair:
 *
 * - at most one of the two reads is granted, and (the code being valid and fresh) exactly one;
 * - the other is denied `replayed` (rotating) or `used-up` (online-only link);
 * - the audit trail agrees: the event at each answer's `auditSeq` is that decision, and the chain
 *   holds exactly as many grants of the code as the answers said (one).
 *
 * Then the doors relock, the controller stops cleanly on SIGTERM and `postern audit verify` passes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { freshSubject, partnerRotating, siteRotating, stepOf } from './codes.ts';
import { collectLog, ControllerProcess, runPostern } from './controllerProcess.ts';
import { Random } from './random.ts';
import { auditPages, RpcClient, type RpcAnswer } from './rpc.ts';
import { createSite, ensurePartner, type Site, type StoreKind } from './site.ts';
import { Counter, Failures } from './stats.ts';

export interface RacingOptions {
  store: StoreKind;
  pairs: number;
  /** Pairs in flight at once. */
  parallel?: number;
  /** Site badges (rotating credentials) made for the race; each gives two codes per 15 s. */
  siteCredentials?: number;
  seed?: number;
  deadlineMs?: number;
  progress?: (line: string) => void;
}

export interface RacingResult {
  store: StoreKind;
  seed: number;
  pairs: number;
  byKind: Counter;
  oneGrant: number;
  doubleGrants: number;
  noGrant: Counter;
  loserReasons: Counter;
  wonByFirstSent: number;
  undecided: Counter;
  rpcErrors: Counter;
  pairMs: number[];
  decisionsVerified: number;
  grantsInChain: number;
  durationMs: number;
  raceMs: number;
  startMs: number;
  warnings: Counter;
  verify: string;
  failures: Failures;
}

type PairKind = 'partner-rotating' | 'online-link' | 'site-rotating';

interface Code {
  kind: PairKind;
  text: string;
  key: string;
}

const SCANNERS: Record<string, string> = { ra: 'da', rb: 'db' };

export async function runRacing(options: RacingOptions): Promise<RacingResult> {
  const started = performance.now();
  const random = new Random(options.seed);
  const parallel = options.parallel ?? 4;
  const deadline = Date.now() + (options.deadlineMs ?? Number.POSITIVE_INFINITY);
  const log = options.progress ?? (() => undefined);
  const failures = new Failures();
  const result: RacingResult = {
    store: options.store,
    seed: random.seed,
    pairs: 0,
    byKind: new Counter(),
    oneGrant: 0,
    doubleGrants: 0,
    noGrant: new Counter(),
    loserReasons: new Counter(),
    wonByFirstSent: 0,
    undecided: new Counter(),
    rpcErrors: new Counter(),
    pairMs: [],
    decisionsVerified: 0,
    grantsInChain: 0,
    durationMs: 0,
    raceMs: 0,
    startMs: 0,
    warnings: new Counter(),
    verify: '',
    failures,
  };

  const site: Site = await createSite({
    id: `race-${options.store}`,
    store: options.store,
    doors: [{ id: 'da' }, { id: 'db' }],
    scanners: SCANNERS,
    scopes: [{ id: 1, doors: ['da', 'db'] }],
  });
  const proc = ControllerProcess.start(site.siteFile, site.databaseUrl);
  const clients: RpcClient[] = [];
  try {
    const apiUrl = await proc.ready(90_000);
    result.startMs = proc.startMs!;
    const admin = await RpcClient.connect(apiUrl, site.adminToken);
    clients.push(admin);
    const clientA = await RpcClient.connect(apiUrl, site.scannerTokens.ra!);
    const clientB = await RpcClient.connect(apiUrl, site.scannerTokens.rb!);
    clients.push(clientA, clientB);
    await ensurePartner(admin, site.partner);

    // The codes: online-only links (maxUses 1) made in batches; site badges; partner codes made here.
    const plan: PairKind[] = Array.from({ length: options.pairs }, (_, i) => (['partner-rotating', 'online-link', 'site-rotating'] as const)[i % 3]!);
    const links: Code[] = [];
    const wantedLinks = plan.filter((k) => k === 'online-link').length;
    for (let made = 0; made < wantedLinks; made += 50) {
      const n = Math.min(50, wantedLinks - made);
      const answers = await admin.batch(Array.from({ length: n }, (_, i) => ({ method: 'links.create', params: { name: `race ${made + i}`, scope: 1, onlineOnly: true, maxUses: 1 } })), 60_000);
      for (const a of answers) {
        if (a.kind !== 'result') throw new Error(`links.create: ${JSON.stringify(a)}`);
        links.push({ kind: 'online-link', text: a.result.code, key: `0:${a.result.link.id}` });
      }
    }
    const badges: Array<{ id: bigint; secret: Buffer }> = [];
    const credentialCount = options.siteCredentials ?? Math.min(40, Math.max(4, Math.ceil(options.pairs / 3)));
    for (let made = 0; made < credentialCount; made += 50) {
      const n = Math.min(50, credentialCount - made);
      const answers = await admin.batch(Array.from({ length: n }, (_, i) => ({ method: 'credentials.create', params: { name: `badge ${made + i}`, scope: 1 } })), 60_000);
      for (const a of answers) {
        if (a.kind !== 'result') throw new Error(`credentials.create: ${JSON.stringify(a)}`);
        badges.push({ id: BigInt(a.result.credential.id), secret: Buffer.from(a.result.secret, 'hex') });
      }
    }
    /** Badge codes already raced: "<credential>:<step>". */
    const usedbadgeSteps = new Set<string>();

    function nextCode(kind: PairKind): Code {
      if (kind === 'online-link') {
        const link = links.pop();
        if (link) return link;
      }
      if (kind === 'site-rotating') {
        // The current step and the next are both valid now and stay valid for the race.
        const now = stepOf(Date.now());
        for (const step of [now, now + 1]) {
          const free = badges.filter((b) => !usedbadgeSteps.has(`${b.id}:${step}`));
          if (free.length === 0) continue;
          const badge = random.pick(free);
          usedbadgeSteps.add(`${badge.id}:${step}`);
          return { kind, text: siteRotating(badge.secret, badge.id, 0, step), key: `0:${badge.id}:${step}` };
        }
      }
      const subject = freshSubject();
      return { kind: 'partner-rotating', text: partnerRotating(site.partner, subject, random.chance(0.5) ? 0 : 1), key: `${site.partner.id}:${subject}` };
    }

    const head = await admin.call('audit.query', { order: 'desc', limit: 1 });
    const startSeq: number = head.events[0]?.seq ?? 0;
    /** seq → what the answer said, and the code's key. */
    const answered = new Map<number, { verdict: string; reason: string | null; scanner: string; key: string }>();
    /** Grants answered per code key (rotating badges per step). */
    const grantsAnswered = new Map<string, number>();

    async function race(index: number): Promise<void> {
      const code = nextCode(plan[index]!);
      result.byKind.add(code.kind);
      const aFirst = random.chance(0.5);
      const [first, second] = aFirst ? (['ra', 'rb'] as const) : (['rb', 'ra'] as const);
      const client = (id: string) => (id === 'ra' ? clientA : clientB);
      const t0 = performance.now();
      // Both requests leave in the same tick, on two connections.
      const p1 = client(first).request('scanner.read', { text: code.text }, 20_000);
      const p2 = client(second).request('scanner.read', { text: code.text }, 20_000);
      const answers: Array<[string, RpcAnswer]> = [
        [first, await p1],
        [second, await p2],
      ];
      result.pairMs.push(performance.now() - t0);
      result.pairs++;
      const decisions: Array<{ scanner: string; verdict: string; reason: string | null; seq: number }> = [];
      for (const [scanner, answer] of answers) {
        if (answer.kind !== 'result') {
          result.rpcErrors.add(answer.kind === 'error' ? `${answer.error.code} ${answer.error.message}` : answer.kind);
          failures.add(`pair ${index} (${code.kind}): ${scanner} answered ${JSON.stringify(answer)}`);
          continue;
        }
        const r = answer.result;
        if (!r.decided) {
          result.undecided.add(r.reason);
          failures.add(`pair ${index} (${code.kind}): ${scanner} not decided: ${r.reason}`);
          continue;
        }
        if (r.scanner !== scanner || r.door !== SCANNERS[scanner]) failures.add(`pair ${index}: answer for ${scanner} names ${r.scanner} at ${r.door}`);
        decisions.push({ scanner, verdict: r.verdict, reason: r.reason, seq: r.auditSeq });
        answered.set(r.auditSeq, { verdict: r.verdict, reason: r.reason, scanner, key: code.key });
      }
      const grants = decisions.filter((d) => d.verdict === 'grant');
      grantsAnswered.set(code.key, (grantsAnswered.get(code.key) ?? 0) + grants.length);
      if (grants.length > 1) {
        result.doubleGrants++;
        failures.add(`pair ${index}: ${code.kind} ${code.key} GRANTED ON BOTH scanners (seqs ${grants.map((g) => g.seq).join(', ')})`);
      } else if (grants.length === 1) {
        result.oneGrant++;
        if (grants[0]!.scanner === first) result.wonByFirstSent++;
      } else if (decisions.length === 2) {
        const reasons = decisions.map((d) => d.reason).join(' + ');
        result.noGrant.add(`${code.kind}: ${reasons}`);
        // An online-only link whose live confirmation missed its deadline is denied `offline` by design
        // (and its use may still have been counted): reported, not a failure.
        if (!(code.kind === 'online-link' && decisions.some((d) => d.reason === 'offline'))) {
          failures.add(`pair ${index}: valid ${code.kind} ${code.key} granted on neither scanner: ${reasons}`);
        }
      }
      const expectedLoser = code.kind === 'online-link' ? ['used-up', 'offline'] : ['replayed'];
      for (const d of decisions) {
        if (d.verdict === 'grant') continue;
        result.loserReasons.add(`${code.kind}: ${d.reason}`);
        if (grants.length === 1 && !expectedLoser.includes(d.reason ?? '')) failures.add(`pair ${index}: the loser of ${code.kind} ${code.key} was denied "${d.reason}", expected ${expectedLoser.join(' or ')}`);
      }
    }

    const raceStarted = performance.now();
    let next = 0;
    const workers = Array.from({ length: parallel }, async () => {
      while (next < plan.length) {
        if (Date.now() > deadline) {
          failures.add(`deadline passed after ${result.pairs} of ${options.pairs} pairs`);
          next = plan.length;
          return;
        }
        const index = next++;
        await race(index);
        if ((index + 1) % 1000 === 0) log(`[race ${options.store}] ${index + 1}/${options.pairs} pairs, ${result.doubleGrants} double grants, ${failures.total} failures`);
      }
    });
    await Promise.all(workers);
    result.raceMs = performance.now() - raceStarted;

    // The audit trail agrees with every answer, and holds one grant per code.
    const grantsInChain = new Map<string, number>();
    const seen = new Set<number>();
    let previous = startSeq;
    for await (const events of auditPages(admin, { afterSeq: startSeq })) {
      for (const e of events) {
        if (e.seq !== previous + 1) failures.add(`audit chain: seq ${e.seq} follows ${previous}`);
        previous = e.seq;
        if (e.type !== 'decision') continue;
        const mine = answered.get(e.seq);
        if (e.verdict === 'grant') {
          const key = e.kind === 'rotating' && e.issuer === 0 ? undefined : `${e.issuer}:${e.subject}`;
          // A badge's key carries its step, which the event does not: take the answer's key.
          const k = mine?.key ?? key ?? `0:${e.subject}:?`;
          grantsInChain.set(k, (grantsInChain.get(k) ?? 0) + 1);
          result.grantsInChain++;
        }
        if (mine === undefined) {
          failures.add(`audit seq ${e.seq}: a decision (${e.verdict} ${e.reason ?? ''} at ${e.scanner}) no answer carried`);
          continue;
        }
        seen.add(e.seq);
        const [issuer, subject] = mine.key.split(':');
        if (e.verdict !== mine.verdict || (e.reason ?? null) !== mine.reason || e.scanner !== mine.scanner || String(e.issuer) !== issuer || e.subject !== subject) {
          failures.add(`audit seq ${e.seq}: answered ${mine.verdict} ${mine.reason ?? ''} ${mine.key} at ${mine.scanner}, the chain holds ${e.verdict} ${e.reason ?? ''} ${e.issuer}:${e.subject} at ${e.scanner}`);
          continue;
        }
        result.decisionsVerified++;
      }
    }
    for (const seq of answered.keys()) if (!seen.has(seq)) failures.add(`answered seq ${seq} (${JSON.stringify(answered.get(seq))}) is not a decision in the chain`);
    for (const [key, n] of grantsAnswered) {
      const inChain = grantsInChain.get(key) ?? 0;
      if (inChain !== n) failures.add(`${key}: ${n} grant(s) answered, ${inChain} in the chain`);
    }

    await sleep(1000);
    const doors = (await admin.call('doors.list')) as any[];
    for (const door of doors) if (door.state !== 'secured' || door.relayUnlocked) failures.add(`after the race: door ${door.id} is ${door.state}, relay ${door.relayUnlocked ? 'UNLOCKED' : 'locked'}`);
    for (const c of clients) c.close();
    const exit = await proc.stop(20_000);
    if (exit.code !== 0 || exit.forced) failures.add(`SIGTERM: the controller ended with ${JSON.stringify(exit)}\n${proc.output()}`);
    const verify = await runPostern(['audit', 'verify', '--config', site.siteFile], site.databaseUrl, 300_000);
    result.verify = verify.stdout.trim();
    if (verify.code !== 0 || !new RegExp(`^${site.spec.id}: \\d+ events, chain intact$`, 'm').test(verify.stdout)) failures.add(`postern audit verify exited ${verify.code}:\n${verify.stdout}\n${verify.stderr}`);
  } catch (error) {
    failures.add(`harness stopped: ${(error as Error).stack ?? String(error)}\n${proc.output()}`);
  } finally {
    for (const c of clients) c.close();
    if (!proc.exited) await proc.kill9();
    collectLog(proc, failures, result.warnings);
    await site.dispose();
    result.durationMs = performance.now() - started;
  }
  return result;
}
