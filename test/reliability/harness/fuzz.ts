/**
 * Fuzzing the scanner path: random and mutated texts sent through `scanner.read` by network
 * scanners. What must hold:
 *
 * - the controller never crashes, never logs an error, and stays responsive: a probe scanner's
 *   fresh valid code is granted, and /healthz answers, every half second throughout;
 * - every answer is decided; it is a grant only when the text is a valid code, and otherwise a
 *   denial whose reason is the one the format (docs/credential-format.md) gives for that text, as
 *   an oracle written from that page alone works it out (where the page leaves a choice, any of
 *   the readings passes, and the count of such cases is reported);
 * - a single-use code is granted at most once, however many spellings of it are read;
 * - text over the API's limit (4096 characters) or a text that is no string is refused with
 *   -32602 and the connection stays usable;
 * - the audit trail agrees with every answer, records no scanned text (only its length), and
 *   verifies after a clean stop.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  base32,
  BASE32_ALPHABET,
  decode,
  encode,
  freshSubject,
  KNOWN_DENY_REASONS,
  mac,
  NO_END,
  partnerRotating,
  partnerRotatingKey,
  siteRotating,
  stepOf,
  type Decoded,
} from './codes.ts';
import { collectLog, ControllerProcess, runPostern } from './controllerProcess.ts';
import { Random } from './random.ts';
import { auditPages, RpcClient, type RpcAnswer } from './rpc.ts';
import { createSite, ensurePartner, type Site, type StoreKind } from './site.ts';
import { Counter, Failures } from './stats.ts';

export interface FuzzOptions {
  store: StoreKind;
  cases: number;
  /** Reads each fuzz scanner keeps in flight. */
  inFlightPerScanner?: number;
  seed?: number;
  deadlineMs?: number;
  progress?: (line: string) => void;
}

export interface FuzzResult {
  store: StoreKind;
  seed: number;
  cases: number;
  byGenerator: Counter;
  answers: Counter;
  grants: number;
  validCases: number;
  ambiguous: number;
  refusedParams: number;
  probe: { sent: number; granted: number; ms: number[]; healthMs: number[] };
  readMs: number[];
  decisionsVerified: number;
  durationMs: number;
  fuzzMs: number;
  casesPerSecond: number;
  warnings: Counter;
  verify: string;
  failures: Failures;
}

const SCANNERS: Record<string, string> = { fz1: 'fa', fz2: 'fb', probe: 'fa' };
const SCOPES: Record<number, string[]> = { 1: ['fa', 'fb'], 2: ['side'], 3: ['fa'] };
const WHITESPACE = [' ', '\t', '\r', '\n', '\r\n', '\u00a0', '\u2028', '\ufeff', '\u3000', '\v', '\f', '\u200b'];

type Generator =
  | 'ascii'
  | 'unicode'
  | 'long'
  | 'too-long'
  | 'base32-random'
  | 'base32-length'
  | 'prefix'
  | 'mutated'
  | 'structured'
  | 'valid'
  | 'bad-params';

interface Known {
  /** What the site holds of a code made by links.create or credentials.create. */
  siteCodes: Set<string>;
  /** Site links: subject → maxUses (null: unlimited). */
  siteLinks: Map<string, number | null>;
  credentials: Map<string, { secret: Buffer; scope: number }>;
  revoked: Set<string>;
}

interface Expectation {
  /** 'grant', deny reasons, or 'invalid-params'. */
  outcomes: Set<string>;
  /** Single-use codes: the key under which at most one grant may happen. */
  singleUse?: string;
  ambiguous: boolean;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzResult> {
  const started = performance.now();
  const random = new Random(options.seed);
  const inFlight = options.inFlightPerScanner ?? 8;
  const deadline = Date.now() + (options.deadlineMs ?? Number.POSITIVE_INFINITY);
  const log = options.progress ?? (() => undefined);
  const failures = new Failures();
  const result: FuzzResult = {
    store: options.store,
    seed: random.seed,
    cases: 0,
    byGenerator: new Counter(),
    answers: new Counter(),
    grants: 0,
    validCases: 0,
    ambiguous: 0,
    refusedParams: 0,
    probe: { sent: 0, granted: 0, ms: [], healthMs: [] },
    readMs: [],
    decisionsVerified: 0,
    durationMs: 0,
    fuzzMs: 0,
    casesPerSecond: 0,
    warnings: new Counter(),
    verify: '',
    failures,
  };

  const site: Site = await createSite({
    id: `fuzz-${options.store}`,
    store: options.store,
    doors: [{ id: 'fa' }, { id: 'fb', failMode: 'safe' }, { id: 'side' }],
    scanners: SCANNERS,
    scopes: Object.entries(SCOPES).map(([id, doors]) => ({ id: Number(id), doors })),
  });
  const partner = site.partner;
  const proc = ControllerProcess.start(site.siteFile, site.databaseUrl);
  const clients: RpcClient[] = [];
  const recent: string[] = [];
  try {
    const apiUrl = await proc.ready(90_000);
    const httpUrl = apiUrl.replace(/^ws/, 'http').replace(/\/api$/, '');
    const admin = await RpcClient.connect(apiUrl, site.adminToken);
    clients.push(admin);
    await ensurePartner(admin, partner);
    const known: Known = { siteCodes: new Set(), siteLinks: new Map(), credentials: new Map(), revoked: new Set() };
    const nowS = Math.floor(Date.now() / 1000);

    // Site material with every outcome: valid, revoked, expired, not yet valid, out of scope, online once and unlimited.
    const linkSpecs: Array<{ name: string; params: Record<string, unknown>; revoke?: boolean }> = [
      { name: 'valid', params: { scope: 1 } },
      { name: 'revoked', params: { scope: 1 }, revoke: true },
      { name: 'expired', params: { scope: 1, notBefore: 1577836800, notAfter: 1577840400 } },
      { name: 'future', params: { scope: 1, notBefore: nowS + 86_400, notAfter: nowS + 2 * 86_400 } },
      { name: 'scope2', params: { scope: 2 } },
      { name: 'scope3', params: { scope: 3, notAfter: null } },
      { name: 'online-once', params: { scope: 1, onlineOnly: true, maxUses: 1 } },
      { name: 'online-many', params: { scope: 1, onlineOnly: true } },
      { name: 'online-revoked', params: { scope: 1, onlineOnly: true, maxUses: 5 }, revoke: true },
    ];
    const baseCodes: string[] = [];
    for (const spec of linkSpecs) {
      const { link, code } = await admin.call('links.create', { name: `fuzz ${spec.name}`, ...spec.params });
      known.siteCodes.add(decode(code)!.bytes.toString('hex'));
      known.siteLinks.set(link.id, link.maxUses);
      if (spec.revoke) {
        await admin.call('links.revoke', { id: link.id });
        known.revoked.add(`0:${link.id}`);
      }
      baseCodes.push(code);
    }
    const badges: Array<{ id: bigint; secret: Buffer; scope: number }> = [];
    for (const [name, scope, revoke] of [
      ['valid', 1, false],
      ['revoked', 1, true],
      ['scope2', 2, false],
    ] as const) {
      const { credential, secret } = await admin.call('credentials.create', { name: `fuzz badge ${name}`, scope });
      known.credentials.set(credential.id, { secret: Buffer.from(secret, 'hex'), scope });
      badges.push({ id: BigInt(credential.id), secret: Buffer.from(secret, 'hex'), scope });
      if (revoke) {
        await admin.call('credentials.revoke', { id: credential.id });
        known.revoked.add(`0:${credential.id}`);
      }
    }

    /** A code with an outcome worth mutating, made now. */
    function baseCode(): string {
      const choice = random.int(0, 9);
      const subject = freshSubject();
      const step = stepOf(Date.now());
      const t = Math.floor(Date.now() / 1000);
      switch (choice) {
        case 0:
        case 1:
          return random.pick(baseCodes);
        case 2:
          return partnerRotating(partner, subject, random.pick([0, 1, 2, 3]));
        case 3: {
          const badge = random.pick(badges);
          return siteRotating(badge.secret, badge.id, random.pick([0, badge.scope]), step + random.int(-2, 2));
        }
        case 4:
          return encode({ kindByte: 1, issuer: partner.id, subject, a: t - random.int(0, 1000), b: random.chance(0.2) ? NO_END : t + random.int(-100, 5000), scope: random.pick([0, 1, 2, 3]) }, partner.secret);
        case 5:
          return encode({ kindByte: 3, issuer: partner.id, subject, a: t - 10, b: t + 3600, scope: 1 }, partner.secret);
        case 6:
          return encode({ kindByte: 2, issuer: partner.id, subject, a: step + random.int(-3, 3), b: 0, scope: 1 }, partnerRotatingKey(partner.secret, subject));
        default:
          return partnerRotating(partner, subject, 1);
      }
    }

    function randomChar(): string {
      const r = random.int(0, 9);
      if (r < 4) return String.fromCharCode(random.int(32, 126));
      if (r < 5) return String.fromCharCode(random.int(0, 31));
      if (r < 6) return String.fromCharCode(random.int(0xd800, 0xdfff)); // a lone surrogate
      if (r < 7) return String.fromCodePoint(random.int(0x1f300, 0x1faff));
      if (r < 8) return random.pick(WHITESPACE);
      return String.fromCharCode(random.int(0x80, 0xffff));
    }

    function mutate(text: string): string {
      const pos = () => random.int(0, Math.max(0, text.length - 1));
      switch (random.int(0, 11)) {
        case 0: {
          const i = random.int(3, Math.max(3, text.length - 1));
          return text.slice(0, i) + random.pick([...BASE32_ALPHABET]) + text.slice(i + 1);
        }
        case 1: {
          const i = pos();
          return text.slice(0, i) + randomChar() + text.slice(i + 1);
        }
        case 2: {
          const i = pos();
          return text.slice(0, i) + text.slice(i + 1);
        }
        case 3: {
          const i = pos();
          return text.slice(0, i) + random.pick([...BASE32_ALPHABET, randomChar()]) + text.slice(i);
        }
        case 4: {
          const i = random.int(0, Math.max(0, text.length - 2));
          return text.slice(0, i) + (text[i + 1] ?? '') + (text[i] ?? '') + text.slice(i + 2);
        }
        case 5:
          return text.slice(0, random.int(0, text.length));
        case 6:
          return text + Array.from({ length: random.int(1, 8) }, () => (random.chance(0.5) ? random.pick([...BASE32_ALPHABET]) : randomChar())).join('');
        case 7:
          return [...text].map((c) => (random.chance(0.5) ? c.toLowerCase() : c)).join('');
        case 8:
          return random.pick(WHITESPACE).repeat(random.int(1, 3)) + text + random.pick(WHITESPACE).repeat(random.int(0, 3));
        case 9:
          return `${text} ${text}`;
        case 10:
          return `https://example.org/visit?c=${text}`;
        default: {
          // One bit of the 40 bytes flipped, re-encoded: the MAC must catch it.
          const d = decode(text);
          if (!d) return text + randomChar();
          const bytes = Buffer.from(d.bytes);
          const bit = random.int(0, 319);
          bytes[bit >> 3]! ^= 1 << (bit & 7);
          return 'P1.' + base32(bytes);
        }
      }
    }

    function structured(): string {
      const t = Math.floor(Date.now() / 1000);
      const step = stepOf(Date.now());
      const kindByte = random.chance(0.9) ? random.int(1, 3) : random.int(0, 255);
      const issuer = random.pick([0, 0, partner.id, partner.id, partner.id, random.int(1, 65535)]);
      const badge = random.pick(badges);
      const subject = issuer === 0 && kindByte === 2 && random.chance(0.7) ? badge.id : random.chance(0.5) ? freshSubject() : BigInt(random.int(0, 2 ** 31));
      const a = kindByte === 2 ? random.pick([step, step - 1, step + 1, step - 2, step + 2, random.u32()]) : random.pick([t - 60, t + 600, 0, random.u32()]);
      const b = kindByte === 2 ? random.pick([0, 0, random.u32()]) : random.pick([t + 600, t - 1, NO_END, 0, random.u32()]);
      const scope = random.pick([0, 1, 2, 3, 4, random.u32(), 1073741824]);
      const fields = { kindByte, issuer, subject, a, b, scope, version: random.chance(0.97) ? 1 : random.int(0, 255) };
      let key: Buffer;
      const k = random.int(0, 9);
      if (k < 2) key = randomBytes(32);
      else if (issuer === 0 && kindByte === 2) key = known.credentials.get(String(subject))?.secret ?? randomBytes(32);
      else if (kindByte === 2) key = partnerRotatingKey(partner.secret, subject);
      else key = partner.secret;
      return encode(fields, key);
    }

    function generate(kind: Generator): unknown {
      switch (kind) {
        case 'ascii':
          return Array.from({ length: random.int(0, 80) }, () => String.fromCharCode(random.int(32, 126))).join('');
        case 'unicode':
          return Array.from({ length: random.int(0, 60) }, randomChar).join('');
        case 'long':
          if (random.chance(0.3)) {
            // A valid code padded past what the controller parses (256 characters).
            const code = baseCode();
            return ' '.repeat(random.int(100, 300)) + code + '\n'.repeat(random.int(0, 300));
          }
          return Array.from({ length: random.int(257, 4096) }, () => (random.chance(0.7) ? random.pick([...BASE32_ALPHABET]) : randomChar())).join('');
        case 'too-long':
          return 'P1.' + 'A'.repeat(random.int(4094, 6000));
        case 'base32-random':
          return (random.chance(0.8) ? 'P1.' : 'p1.') + Array.from({ length: 64 }, () => {
            const c = random.pick([...BASE32_ALPHABET]);
            return random.chance(0.2) ? c.toLowerCase() : c;
          }).join('');
        case 'base32-length': {
          let n = random.int(0, 100);
          if (n === 64) n = 65;
          return 'P1.' + Array.from({ length: n }, () => random.pick([...BASE32_ALPHABET])).join('');
        }
        case 'prefix': {
          const body = baseCode().slice(3);
          return random.pick(['P2.', 'P1', 'P1..', 'P1:', 'Q1.', 'P1. ', ' P1.', 'PI.', 'P01.', '1.', '', 'p1.']) + body;
        }
        case 'mutated': {
          let text = baseCode();
          for (let i = random.int(1, 3); i > 0; i--) text = mutate(text);
          return text;
        }
        case 'structured':
          return structured();
        case 'valid': {
          const code = baseCode();
          return random.chance(0.5) ? code : respell(code);
        }
        case 'bad-params':
          return random.pick([null, 42, true, { text: 'P1.' }, ['P1.'], undefined]);
      }
    }

    /** Spellings of a code that mean the same code: other case, surrounding white space. */
    function respell(code: string): string {
      return random.chance(0.5) ? [...code].map((c) => (random.chance(0.5) ? c.toLowerCase() : c)).join('') : random.pick([' ', '\t', '\r\n', '\n']) + code + random.pick(['', ' ', '\r', '\n']);
    }

    // ---- the oracle, from the spec ----
    function judge(d: Decoded, door: string, atMs: number): { outcomes: string[]; singleUse?: string; ambiguous?: boolean } {
      const subject = d.subject.toString();
      // 1. MAC
      let allowed: number[] | null;
      let defaultScope: number | null;
      if (d.issuer === partner.id) {
        const key = d.kind === 'rotating' ? partnerRotatingKey(partner.secret, d.subject) : partner.secret;
        if (!mac(key, d.signed).equals(d.mac)) return { outcomes: ['bad-mac'] };
        allowed = partner.allowedScopes;
        defaultScope = partner.defaultScope;
      } else if (d.issuer === 0) {
        if (d.kind === 'rotating') {
          const badge = known.credentials.get(subject);
          if (!badge || !mac(badge.secret, d.signed).equals(d.mac)) return { outcomes: ['bad-mac'] };
          allowed = [badge.scope];
          defaultScope = badge.scope;
        } else {
          if (!known.siteCodes.has(d.bytes.toString('hex'))) return { outcomes: ['bad-mac'] };
          allowed = null;
          defaultScope = null; // site.defaultScope is null
        }
      } else return { outcomes: ['unknown-issuer'] };
      // 2. window
      const nowS = Math.floor(atMs / 1000);
      if (d.kind === 'rotating') {
        const step = Math.floor(nowS / 15);
        if (d.a < step - 1) return { outcomes: ['expired'] };
        if (d.a > step + 1) return { outcomes: ['not-yet-valid'] };
      } else {
        if (nowS < d.a) return { outcomes: ['not-yet-valid'] };
        if (d.b !== NO_END && nowS > d.b) return { outcomes: ['expired'] };
      }
      // 3. revocation
      if (known.revoked.has(`${d.issuer}:${subject}`)) return { outcomes: ['revoked'] };
      // 4. scope
      const scope = d.scope === 0 ? defaultScope : allowed === null || allowed.includes(d.scope) ? d.scope : null;
      if (scope === null || !(SCOPES[scope] ?? []).includes(door)) return { outcomes: ['out-of-scope'] };
      // 5. single use
      if (d.kind === 'rotating') return { outcomes: ['grant', 'replayed'], singleUse: `${d.issuer}:${subject}:${d.a}` };
      // 7. confirmation: a standalone site confirms its own online-only links, never a partner's.
      if (d.kind === 'online-link' && d.issuer !== 0) return { outcomes: ['offline'] };
      if (d.kind === 'online-link') {
        const maxUses = known.siteLinks.get(subject);
        if (maxUses === 1) return { outcomes: ['grant', 'used-up'], singleUse: `online:${subject}` };
        if (maxUses !== null) return { outcomes: ['grant', 'used-up'], ambiguous: true };
      }
      return { outcomes: ['grant'] };
    }

    function expectationFor(text: unknown, door: string, sentMs: number, answeredMs: number): Expectation {
      if (typeof text !== 'string') return { outcomes: new Set(['invalid-params']), ambiguous: false };
      const codePoints = [...text].length;
      if (codePoints > 4096) return { outcomes: new Set(['invalid-params']), ambiguous: false };
      const outcomes = new Set<string>();
      let singleUse: string | undefined;
      let ambiguous = false;
      // "At most 4096 characters" (docs/api.md): the API counts code points, the driver keeps 4096
      // UTF-16 units. Either reading of "character" passes; such text is never a code anyway.
      if (text.length > 4096) {
        outcomes.add('invalid-params');
        ambiguous = true;
      }
      const readings = new Set<string>();
      for (const whiteSpace of ['unicode', 'javascript'] as const) {
        const d = decode(text, whiteSpace);
        readings.add(d ? d.bytes.toString('hex') : 'none');
        if (!d) {
          outcomes.add('unknown-format');
          continue;
        }
        for (const at of [sentMs, answeredMs]) {
          const j = judge(d, door, at);
          j.outcomes.forEach((o) => outcomes.add(o));
          singleUse ??= j.singleUse;
          if (j.ambiguous) ambiguous = true;
        }
      }
      // "Other Unicode white space": U+FEFF is white space to JavaScript's trim() but not to Unicode.
      if (readings.size > 1) ambiguous = true;
      // "Longer than 256 characters" in code points or in UTF-16 units: either passes.
      if (text.length > 256 && [...text].length <= 256) {
        const d = decode(text, 'unicode', Number.POSITIVE_INFINITY);
        if (d) {
          const j = judge(d, door, answeredMs);
          j.outcomes.forEach((o) => outcomes.add(o));
          singleUse ??= j.singleUse;
        }
        ambiguous = true;
      }
      return { outcomes, singleUse, ambiguous };
    }

    // ---- the run ----
    const head = await admin.call('audit.query', { order: 'desc', limit: 1 });
    const startSeq: number = head.events[0]?.seq ?? 0;
    const answered = new Map<number, { verdict: string; reason: string | null; length: number; scanner: string }>();
    const singleUseGrants = new Map<string, number>();
    const singleUseRefused = new Set<string>();

    const fuzzClients = new Map<string, RpcClient>();
    for (const id of ['fz1', 'fz2', 'probe']) {
      const c = await RpcClient.connect(apiUrl, site.scannerTokens[id]!);
      clients.push(c);
      fuzzClients.set(id, c);
    }

    const stop = { stopped: false };
    // The probe: a fresh valid code every half second, and /healthz.
    const probe = (async () => {
      const client = fuzzClients.get('probe')!;
      while (!stop.stopped) {
        const text = partnerRotating(partner, freshSubject(), 1);
        const answer = await client.request('scanner.read', { text }, 10_000);
        result.probe.sent++;
        result.probe.ms.push(answer.ms);
        if (answer.kind === 'result' && answer.result.decided && answer.result.verdict === 'grant') {
          result.probe.granted++;
          answered.set(answer.result.auditSeq, { verdict: 'grant', reason: null, length: text.length, scanner: 'probe' });
        } else failures.add(`probe: a fresh valid code was answered ${JSON.stringify(answer)}`);
        if (answer.ms > 5000) failures.add(`probe: a valid code took ${answer.ms.toFixed(0)} ms`);
        const h0 = performance.now();
        try {
          const res = await fetch(`${httpUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
          result.probe.healthMs.push(performance.now() - h0);
          if (res.status !== 200) failures.add(`probe: /healthz answered ${res.status}`);
        } catch (error) {
          failures.add(`probe: /healthz failed: ${(error as Error).message}`);
        }
        await sleep(500);
      }
    })();

    const weights: Record<Generator, number> = {
      ascii: 10,
      unicode: 8,
      long: 3,
      'too-long': 0.5,
      'base32-random': 10,
      'base32-length': 4,
      prefix: 3,
      mutated: 30,
      structured: 20,
      valid: 8,
      'bad-params': 0.5,
    };
    let issued = 0;
    const fuzzStarted = performance.now();
    const workers: Array<Promise<void>> = [];
    for (const scanner of ['fz1', 'fz2']) {
      const client = fuzzClients.get(scanner)!;
      const door = SCANNERS[scanner]!;
      for (let w = 0; w < inFlight; w++) {
        workers.push(
          (async () => {
            while (issued < options.cases && !stop.stopped) {
              if (Date.now() > deadline) {
                failures.add(`deadline passed after ${issued} of ${options.cases} cases`);
                stop.stopped = true;
                return;
              }
              issued++;
              const generator = random.weighted(weights);
              // Short texts repeat, sometimes while the same text is in flight on this scanner: with
              // debounceMs 0 each read is decided ("0 turns it off", docs/configuration.md).
              const text = generate(generator);
              result.byGenerator.add(generator);
              const shown = JSON.stringify(text)?.slice(0, 400) ?? String(text);
              recent.push(shown);
              if (recent.length > 32) recent.shift();
              const params = generator === 'bad-params' ? (text === undefined ? {} : { text }) : { text };
              const sentMs = Date.now();
              const answer: RpcAnswer = await client.request('scanner.read', params, 20_000);
              const expected = expectationFor(generator === 'bad-params' ? null : text, door, sentMs, Date.now());
              result.cases++;
              result.readMs.push(answer.ms);
              check(generator, text as string, shown, scanner, answer, expected);
              if (result.cases % 10_000 === 0) log(`[fuzz ${options.store}] ${result.cases}/${options.cases} cases, ${failures.total} failures`);
            }
          })().catch((error: unknown) => {
            stop.stopped = true;
            failures.add(`fuzz worker: ${(error as Error).stack ?? String(error)}`);
          }),
        );
      }
    }

    function check(generator: Generator, text: string, shown: string, scanner: string, answer: RpcAnswer, expected: Expectation): void {
      if (expected.ambiguous) result.ambiguous++;
      if (answer.kind === 'closed' || answer.kind === 'timeout') {
        result.answers.add(answer.kind);
        failures.add(`${generator} ${shown}: no answer (${answer.kind}); controller ${JSON.stringify(proc.exited ?? 'alive')}`);
        if (proc.exited) stop.stopped = true;
        return;
      }
      if (answer.kind === 'error') {
        result.answers.add(`error ${answer.error.code}`);
        if (expected.outcomes.has('invalid-params') && answer.error.code === -32602) result.refusedParams++;
        else failures.add(`${generator} ${shown}: error ${answer.error.code} ${answer.error.message}`);
        return;
      }
      const r = answer.result;
      if (!r.decided) {
        result.answers.add(`undecided ${r.reason}`);
        failures.add(`${generator} ${shown}: not decided (${r.reason})`);
        return;
      }
      const outcome = r.verdict === 'grant' ? 'grant' : r.reason;
      result.answers.add(outcome);
      answered.set(r.auditSeq, { verdict: r.verdict, reason: r.reason, length: text.length, scanner });
      if (expected.outcomes.has('grant')) result.validCases++;
      if (r.verdict === 'grant') result.grants++;
      if (r.verdict !== 'grant' && !KNOWN_DENY_REASONS.has(r.reason)) failures.add(`${generator} ${shown}: denied with an unknown reason "${r.reason}"`);
      if (!expected.outcomes.has(outcome)) {
        failures.add(`${generator} ${shown} at ${SCANNERS[scanner]}: answered ${outcome}, the spec says ${[...expected.outcomes].join(' or ')}`);
      }
      if (expected.singleUse) {
        if (r.verdict === 'grant') {
          const n = (singleUseGrants.get(expected.singleUse) ?? 0) + 1;
          singleUseGrants.set(expected.singleUse, n);
          if (n > 1) failures.add(`${generator} ${shown}: single-use ${expected.singleUse} GRANTED ${n} times`);
        } else if (r.reason === 'replayed' || r.reason === 'used-up') singleUseRefused.add(expected.singleUse);
      }
    }

    await Promise.all(workers);
    result.fuzzMs = performance.now() - fuzzStarted;
    result.casesPerSecond = result.cases / (result.fuzzMs / 1000);
    stop.stopped = true;
    await probe;
    if (result.cases < options.cases && failures.total === 0) failures.add(`only ${result.cases} of ${options.cases} cases ran`);
    for (const key of singleUseRefused) if (!singleUseGrants.has(key)) failures.add(`single-use ${key} was refused as used, but never granted in this run`);

    // The controller is alive and ready, and the audit trail agrees with every answer.
    if (proc.exited) failures.add(`the controller died: ${JSON.stringify(proc.exited)}\nlast cases:\n${recent.join('\n')}\n${proc.output()}`);
    const ready = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(5000) }).catch((e: Error) => e);
    if (ready instanceof Error || ready.status !== 200) failures.add(`/readyz after the fuzz: ${ready instanceof Error ? ready.message : ready.status}`);
    const seen = new Set<number>();
    for await (const events of auditPages(admin, { afterSeq: startSeq })) {
      for (const e of events) {
        if (e.type !== 'decision') continue;
        const mine = answered.get(e.seq);
        if (!mine) continue; // a decision whose answer was lost would show up as a missing seq below
        seen.add(e.seq);
        if (e.verdict !== mine.verdict || (e.reason ?? null) !== mine.reason || e.scanner !== mine.scanner) {
          failures.add(`audit seq ${e.seq}: answered ${mine.verdict} ${mine.reason ?? ''} at ${mine.scanner}, the chain holds ${e.verdict} ${e.reason ?? ''} at ${e.scanner}`);
          continue;
        }
        // The driver keeps the first 4096 UTF-16 units of a longer read (see expectationFor).
        if (e.kind === 'unknown' && (e.data === null || Object.keys(e.data).join() !== 'length' || e.data.length !== Math.min(mine.length, 4096))) {
          failures.add(`audit seq ${e.seq}: text that is no code should be recorded by its length (${mine.length}) only, found ${JSON.stringify(e.data).slice(0, 200)}`);
        }
        result.decisionsVerified++;
      }
    }
    for (const seq of answered.keys()) if (!seen.has(seq)) failures.add(`answered seq ${seq} is not a decision in the chain`);
    for (const c of clients) c.close();
    const exit = await proc.stop(20_000);
    if (exit.code !== 0 || exit.forced) failures.add(`SIGTERM: the controller ended with ${JSON.stringify(exit)}\n${proc.output()}`);
    const verify = await runPostern(['audit', 'verify', '--config', site.siteFile], site.databaseUrl, 300_000);
    result.verify = verify.stdout.trim();
    if (verify.code !== 0 || !new RegExp(`^${site.spec.id}: \\d+ events, chain intact$`, 'm').test(verify.stdout)) failures.add(`postern audit verify exited ${verify.code}:\n${verify.stdout}\n${verify.stderr}`);
  } catch (error) {
    failures.add(`harness stopped: ${(error as Error).stack ?? String(error)}\nlast cases:\n${recent.join('\n')}\n${proc.output()}`);
  } finally {
    for (const c of clients) c.close();
    if (!proc.exited) await proc.kill9();
    collectLog(proc, failures, result.warnings);
    await site.dispose();
    result.durationMs = performance.now() - started;
  }
  return result;
}
