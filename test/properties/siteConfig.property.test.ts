/**
 * Properties of the site file (controller/config/loadConfig.ts, configSchema.ts): any YAML or JSON
 * either loads as a frozen valid config or is refused with CONFIG_INVALID naming every problem by
 * its path; generated valid site files load, keep what they say, get the documented defaults and
 * round trip through YAML and JSON.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { loadConfig, validateConfig } from '../../controller/config/loadConfig.ts';
import type { SiteConfig } from '../../controller/config/configSchema.ts';
import { ErrorCodes, isPosternError } from '../../machines/shared/errors.ts';
import { params } from './propertyRuns.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'postern-config-properties-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function writeSiteFile(text: string, extension: string): string {
  const file = path.join(dir, `site-${++files}.${extension}`);
  writeFileSync(file, text);
  return file;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = Record<string, unknown>;

// ---- Valid site files ---------------------------------------------------------------------

const idArb = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,11}$/);
const nameArb = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 })).filter((s) => s.length <= 120);
const positive = (max: number) => fc.oneof(fc.constantFrom(max, 1, 0.5), fc.double({ min: 0.001, max, noNaN: true }));
const int = (min: number, max: number) => fc.integer({ min, max });
const hostArb = fc.domain();
const urlArb = fc.tuple(fc.constantFrom('http', 'https'), hostArb, fc.option(int(1, 65_535), { nil: undefined }), fc.stringMatching(/^(\/[a-z0-9]{1,8}){0,3}$/)).map(([scheme, host, port, p]) => `${scheme}://${host}${port ? `:${port}` : ''}${p}`);
const secretArb = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_!$'), minLength: 32, maxLength: 64 });
const envNameArb = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,15}$/);
const webhook = fc.tuple(urlArb, fc.boolean(), secretArb, envNameArb).map(([url, inline, secret, env]) => (inline ? { url, secret } : { url, secretEnv: env }));

const doorIo = fc.oneof(
  fc.record({ driver: fc.constant('simulated'), autoWalkThrough: fc.boolean() }, { requiredKeys: ['driver'] }),
  fc
    .record({ driver: fc.constant('hid-relay'), serial: fc.stringMatching(/^[!-~]{1,5}$/), path: fc.constantFrom('/dev/hidraw0', '/dev/hidraw7'), channel: int(1, 8), energizeToUnlock: fc.boolean() }, { requiredKeys: ['driver', 'channel'] })
    .filter((io) => io.serial !== undefined || io.path !== undefined),
);

const hidOptions = fc
  .record(
    {
      vendorId: int(0, 0xffff),
      productId: int(0, 0xffff),
      serial: fc.string({ minLength: 1, maxLength: 8 }),
      path: fc.constantFrom('/dev/hidraw3', 'hid:1'),
      mode: fc.constantFrom('keyboard', 'pos'),
      layout: fc.constantFrom('us', 'uk', 'de', 'fr'),
      suffix: fc.constantFrom('enter', 'tab'),
      interCharTimeoutMs: int(1, 10_000),
    },
    { requiredKeys: [] },
  )
  .filter((o) => o.path !== undefined || (o.vendorId !== undefined && o.productId !== undefined));

const cameraOptions = fc
  .record({
    source: fc.oneof(fc.record({ device: fc.constantFrom('/dev/video0', '/dev/video2') }), fc.record({ url: fc.constantFrom('rtsp://cam.local/stream', 'test.mp4') })),
    more: fc.record(
      { loop: fc.boolean(), realtime: fc.boolean(), fps: int(1, 60), downscale: int(1, 8), stallTimeoutMs: int(500, 120_000), ffmpegPath: fc.constantFrom('ffmpeg', '/usr/bin/ffmpeg') },
      { requiredKeys: [] },
    ),
    frame: fc.option(
      fc.tuple(int(16, 3840), int(16, 2160), fc.nat(), fc.nat(), fc.nat(), fc.nat()).map(([width, height, a, b, c, d]) => {
        const w = 16 + (a % (width - 15));
        const h = 16 + (b % (height - 15));
        return { width, height, region: { x: c % (width - w + 1), y: d % (height - h + 1), width: w, height: h } };
      }),
      { nil: undefined },
    ),
  })
  .map(({ source, more, frame }) => ({ ...source, ...more, ...(frame ?? {}) }));

const apiArb = fc.record(
  {
    enabled: fc.boolean(),
    host: fc.constantFrom('127.0.0.1', '0.0.0.0', '::1', 'controller.local'),
    port: int(0, 65_535),
    tls: fc.record({ cert: fc.constantFrom('cert.pem', '/etc/postern/cert.pem'), key: fc.constantFrom('key.pem', '../key.pem') }),
    allowedOrigins: fc.array(urlArb, { maxLength: 3 }),
    maxMessageBytes: int(1024, 16 * 1024 * 1024),
    maxBufferedBytes: int(16 * 1024, 256 * 1024 * 1024),
    maxBatch: int(1, 1000),
    heartbeatSeconds: positive(3600),
    rateLimit: fc.record({ perConnection: fc.record({ rate: positive(100_000), burst: int(1, 100_000) }), perToken: fc.record({ rate: positive(100_000), burst: int(1, 100_000) }) }),
    publicMetrics: fc.boolean(),
  },
  { requiredKeys: [] },
);

const emailArb = fc.record(
  {
    from: fc.oneof(fc.emailAddress(), fc.tuple(fc.stringMatching(/^[A-Za-z ]{0,12}$/), fc.emailAddress()).map(([n, a]) => `${n} <${a}>`)),
    smtp: fc
      .record(
        {
          host: fc.constantFrom('smtp.example.org', '127.0.0.1'),
          port: int(1, 65_535),
          secure: fc.boolean(),
          requireTLS: fc.boolean(),
          user: fc.string({ minLength: 1, maxLength: 10 }),
          password: fc.string({ minLength: 1, maxLength: 10 }),
          passwordFile: fc.constantFrom('smtp-password', '/run/secrets/smtp'),
        },
        { requiredKeys: ['host'] },
      )
      .filter((s) => !(s.password !== undefined && s.passwordFile !== undefined) && (s.user !== undefined || (s.password === undefined && s.passwordFile === undefined))),
  },
  { requiredKeys: ['from'] },
);

interface Generated {
  input: Obj;
}

const siteArb: fc.Arbitrary<Generated> = fc
  .record({
    doorIds: fc.uniqueArray(idArb, { minLength: 1, maxLength: 4 }),
    scannerIds: fc.uniqueArray(idArb, { minLength: 0, maxLength: 5 }),
    scopeIds: fc.uniqueArray(int(1, 0x3fffffff), { minLength: 0, maxLength: 3 }),
    siteDelegation: fc.option(
      fc.tuple(webhook, fc.record({ enabled: fc.boolean(), timeoutMs: int(100, 5000) }, { requiredKeys: [] }), fc.option(fc.nat(), { nil: undefined })),
      { nil: undefined },
    ),
    seed: fc.array(fc.nat(), { minLength: 40, maxLength: 40 }),
  })
  .chain(({ doorIds, scannerIds, scopeIds, siteDelegation, seed }) => {
    const pick = <T>(list: readonly T[], i: number): T => list[seed[i % seed.length]! % list.length]!;
    const override = siteDelegation === undefined ? fc.oneof(fc.constant(false), fc.constant({ enabled: false }), webhook) : fc.oneof(fc.boolean(), fc.record({ enabled: fc.boolean() }), webhook);
    const door = (id: string) =>
      fc.record(
        { id: fc.constant(id), name: nameArb, io: doorIo, unlockSeconds: positive(3600), heldOpenSeconds: positive(86_400), failMode: fc.constantFrom('secure', 'safe'), rexUnlocks: fc.boolean(), delegation: override },
        { requiredKeys: ['id', 'name'] },
      );
    const scanner = (id: string, i: number) =>
      fc
        .record(
          {
            common: fc.record({ id: fc.constant(id), door: fc.constant(pick(doorIds, i)), debounceMs: int(0, 60_000), delegation: override }, { requiredKeys: ['id', 'door'] }),
            variant: i === 0
              ? fc.oneof(fc.constant({ driver: 'terminal' }), fc.constant({ driver: 'terminal', options: {} }))
              : fc.oneof(
                  fc.constantFrom({ driver: 'simulated' }, { driver: 'network' }, { driver: 'kiosk', options: {} }),
                  hidOptions.map((options) => ({ driver: 'hid', options })),
                  cameraOptions.map((options) => ({ driver: 'camera', options })),
                ),
          },
        )
        .map(({ common, variant }) => ({ ...common, ...variant }));
    const scopes = scopeIds.map((id, i) =>
      fc.record({ id: fc.constant(id), name: nameArb, doors: fc.shuffledSubarray(doorIds, { minLength: 1 }) }).map((s) => (i === 0 && s.doors.length > 1 ? { ...s, doors: [...s.doors, s.doors[0]!] } : s)),
    );
    return fc.record(
      {
        site: fc.record({ id: idArb, name: nameArb, defaultScope: scopeIds.length > 0 ? fc.constantFrom(null, ...scopeIds) : fc.constant(null) }, { requiredKeys: ['id', 'name'] }),
        dataDir: fc.constantFrom('./data', 'data', '/var/lib/postern', '../elsewhere'),
        logLevel: fc.constantFrom('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
        throttle: fc.record({ maxFailures: int(1, 1000), windowSeconds: positive(3600), lockoutSeconds: positive(3600), maxLockoutSeconds: positive(86_400) }),
        api: apiArb,
        badge: fc.record({ publicUrl: urlArb }, { requiredKeys: [] }),
        web: fc.record({ enabled: fc.boolean(), sessionIdleMinutes: positive(1440), sessionMaxHours: positive(720), loginFailures: int(1, 1000), loginWindowMinutes: positive(1440) }, { requiredKeys: [] }),
        scopes: fc.tuple(...scopes.map((s) => s), fc.constant(null)).map((list) => list.slice(0, -1)),
        doors: fc.tuple(...doorIds.map(door), fc.constant(null)).map((list) => list.slice(0, -1)),
        scanners: fc.tuple(...scannerIds.map((id, i) => scanner(id, seed[39]! % 2 === 0 ? i : i + 1)), fc.constant(null)).map((list) => list.slice(0, -1)),
        decoder: fc.record({ workers: int(1, 16) }, { requiredKeys: [] }),
        email: emailArb,
        delegation: siteDelegation === undefined
          ? fc.constant(undefined)
          : fc.constant({
              ...siteDelegation[0],
              ...siteDelegation[1],
              ...(siteDelegation[2] !== undefined && scannerIds.length > 0 ? { scanners: [pick(scannerIds, siteDelegation[2])] } : {}),
            }),
      },
      // What other entries refer to is there: the scopes (site.defaultScope), the scanners (delegation.scanners),
      // the site delegation block (the door and scanner overrides were made for it). Empty lists may be left out.
      {
        requiredKeys: [
          'site',
          'doors',
          ...(scopeIds.length > 0 ? (['scopes'] as const) : []),
          ...(scannerIds.length > 0 ? (['scanners'] as const) : []),
          ...(siteDelegation !== undefined ? (['delegation'] as const) : []),
        ],
      },
    );
  })
  .map((input) => ({ input: JSON.parse(JSON.stringify(input)) as Obj }));

// ---- Helpers ----------------------------------------------------------------------------

function isDeeplyFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  return Object.isFrozen(value) && Object.values(value).every(isDeeplyFrozen);
}

/** A refusal's problems and message, after checking it is CONFIG_INVALID; undefined when it loads. */
function problemsOf(run: () => unknown): { problems: Array<{ path: string; message: string }>; message: string } | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    expect(isPosternError(error, ErrorCodes.CONFIG_INVALID)).toBe(true);
    const e = error as Error & { details?: unknown };
    return { problems: Array.isArray(e.details) ? e.details : [], message: e.message };
  }
}

/** Whether a problem's path names a place of the input: everything but its last step exists. */
function pathResolves(input: unknown, problemPath: string): boolean {
  if (problemPath === '(root)') return true;
  let node = input;
  const steps = problemPath.split('.');
  for (const step of steps.slice(0, -1)) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, step)) return false;
    node = (node as Obj)[step];
  }
  return node !== null && typeof node === 'object';
}

function expectRefusalNamesPaths(input: unknown, problems: Array<{ path: string; message: string }>, message: string): void {
  expect(problems.length).toBeGreaterThan(0);
  for (const p of problems) {
    expect(typeof p.path === 'string' && p.path.length > 0 && typeof p.message === 'string' && p.message.length > 0).toBe(true);
    expect(message).toContain(`  - ${p.path}: ${p.message}`);
    expect({ path: p.path, resolves: pathResolves(input, p.path) }).toEqual({ path: p.path, resolves: true });
  }
}

function objectPaths(value: unknown, at: string[] = []): string[][] {
  if (value === null || typeof value !== 'object') return [];
  const own = Array.isArray(value) ? [] : [at];
  return [...own, ...Object.entries(value).flatMap(([k, v]) => objectPaths(v, [...at, k]))];
}

function allPaths(value: unknown, at: string[] = []): string[][] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [[...at, k], ...allPaths(v, [...at, k])]);
}

function nodeAt(root: unknown, at: string[]): Obj {
  return at.reduce((node, step) => (node as Obj)[step], root) as Obj;
}

// ---- Arbitrary YAML/JSON, shaped like a site file or not ------------------------------------

const KEYS = ['site', 'id', 'name', 'defaultScope', 'dataDir', 'logLevel', 'throttle', 'api', 'badge', 'web', 'scopes', 'doors', 'scanners', 'decoder', 'email', 'delegation', 'io', 'driver', 'door', 'options', 'unlockSeconds', 'heldOpenSeconds', 'failMode', 'channel', 'serial', 'path', 'mode', 'layout', 'url', 'secret', 'secretEnv', 'enabled', 'smtp', 'from', 'host', 'port', 'tls', 'cert', 'key', 'rateLimit', 'perConnection', 'perToken', 'rate', 'burst', 'region', 'width', 'height', 'x', 'y', 'device', 'timeoutMs', 'user', 'password', 'passwordFile', 'publicUrl', 'workers', '__proto__', 'constructor'];
const LEAVES: Json[] = ['simulated', 'hid-relay', 'terminal', 'network', 'hid', 'camera', 'kiosk', 'front', 'lab', 'secure', 'safe', 'us', 'pos', 'keyboard', 'enter', 'all', 'https://example.org/hook', 'a@b.c', 'x'.repeat(40), '', 0, 1, -1, 8, 1.5, 65_536, 0x40000000, true, false, null];

const jsonTree: fc.Arbitrary<Json> = fc.letrec<{ node: Json }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.constantFrom(...LEAVES), fc.jsonValue({ maxDepth: 0 }) as fc.Arbitrary<Json>),
    fc.array(tie('node'), { maxLength: 3 }),
    fc.dictionary(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KEYS) }, fc.string({ maxLength: 5 })), tie('node'), { maxKeys: 5 }),
  ),
})).node;

/** A valid site file with one node replaced by arbitrary JSON, or removed. */
const brokenSite = fc.tuple(siteArb, fc.nat(), jsonTree, fc.boolean()).map(([{ input }, n, value, remove]) => {
  const paths = allPaths(input);
  const at = paths[n % paths.length]!;
  const parent = nodeAt(input, at.slice(0, -1));
  const key = at.at(-1)!;
  if (remove && Array.isArray(parent)) parent.splice(Number(key), 1);
  else if (remove) delete parent[key];
  else parent[key] = value;
  return input as Json;
});

const anyConfig = fc.oneof(jsonTree, { weight: 2, arbitrary: brokenSite }, fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>);

describe('site file properties', () => {
  it('loads every generated valid site file, deeply frozen, keeping what it says and filling the documented defaults', () => {
    fc.assert(
      fc.property(siteArb, ({ input }) => {
        const config = validateConfig(structuredClone(input));
        expect(isDeeplyFrozen(config)).toBe(true);
        const i = input as any;
        expect(config.site).toEqual({ id: i.site.id, name: i.site.name, defaultScope: i.site.defaultScope ?? null });
        expect(config.doors.map((d) => [d.id, d.name])).toEqual(i.doors.map((d: Obj) => [d.id, d.name]));
        config.doors.forEach((d, n) => {
          const given = i.doors[n];
          expect([d.unlockSeconds, d.heldOpenSeconds, d.failMode, d.rexUnlocks]).toEqual([given.unlockSeconds ?? 5, given.heldOpenSeconds ?? 30, given.failMode ?? 'secure', given.rexUnlocks ?? true]);
          expect(d.io).toMatchObject(given.io ?? { driver: 'simulated', autoWalkThrough: false });
        });
        expect(config.scanners.map((s) => [s.id, s.door, s.driver, s.debounceMs])).toEqual((i.scanners ?? []).map((s: Obj) => [s.id, s.door, s.driver, s.debounceMs ?? 1500]));
        expect(config.scopes).toEqual(i.scopes ?? []);
        expect(config.dataDir).toBe(i.dataDir ?? './data');
        expect(config.logLevel).toBe(i.logLevel ?? 'info');
        const api = i.api ?? {};
        expect([config.api.enabled, config.api.host, config.api.port, config.api.maxBatch, config.api.maxMessageBytes, config.api.allowedOrigins]).toEqual([
          api.enabled ?? true, api.host ?? '127.0.0.1', api.port ?? 8080, api.maxBatch ?? 50, api.maxMessageBytes ?? 65_536, api.allowedOrigins ?? [],
        ]);
        expect(config.api.rateLimit).toEqual(api.rateLimit ?? { perConnection: { rate: 50, burst: 100 }, perToken: { rate: 200, burst: 400 } });
        expect(config.throttle).toEqual(i.throttle ?? { maxFailures: 8, windowSeconds: 10, lockoutSeconds: 5, maxLockoutSeconds: 120 });
        // What validation gives is itself a valid site file that means the same.
        expect(validateConfig(JSON.parse(JSON.stringify(config)))).toEqual(config);
      }),
      params(400),
    );
  });

  it('round trips a valid site file through YAML and JSON files: the same config, with paths resolved beside the file', () => {
    fc.assert(
      fc.property(siteArb, fc.boolean(), ({ input }, asYaml) => {
        const expected = validateConfig(structuredClone(input));
        const file = writeSiteFile(asYaml ? toYaml(input) : JSON.stringify(input, null, 2), asYaml ? 'yaml' : 'json');
        const loaded = loadConfig(file);
        expect(isDeeplyFrozen(loaded)).toBe(true);
        const beside = (p: string) => path.resolve(path.dirname(file), p);
        const smtp = expected.email?.smtp;
        const want: SiteConfig = {
          ...expected,
          dataDir: beside(expected.dataDir),
          api: { ...expected.api, ...(expected.api.tls ? { tls: { cert: beside(expected.api.tls.cert), key: beside(expected.api.tls.key) } } : {}) },
          ...(smtp?.passwordFile ? { email: { ...expected.email!, smtp: { ...smtp, passwordFile: beside(smtp.passwordFile) } } } : {}),
          // A camera's file (not an rtsp:// stream) is a path of the site too.
          scanners: expected.scanners.map((s) =>
            s.driver === 'camera' && s.options.url !== undefined && !s.options.url.includes('://') ? { ...s, options: { ...s.options, url: beside(s.options.url) } } : s,
          ),
        };
        expect(loaded).toEqual(want);
      }),
      params(200),
    );
  });

  it('refuses a key the schema does not know, at any level, naming that object and the key', () => {
    fc.assert(
      fc.property(siteArb, fc.nat(), fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,8}$/), jsonTree, ({ input }, n, suffix, value) => {
        const places = objectPaths(input);
        const at = places[n % places.length]!;
        const key = `zz${suffix}`;
        nodeAt(input, at)[key] = value;
        const refusal = problemsOf(() => validateConfig(input));
        expect(refusal).toBeDefined();
        const where = at.length === 0 ? '(root)' : at.join('.');
        expect(refusal!.problems.some((p) => p.path === where && p.message.includes(key))).toBe(true);
      }),
      params(400),
    );
  });

  it('never crashes on arbitrary YAML/JSON values: a frozen config, or CONFIG_INVALID naming each problem by a path into the file', () => {
    fc.assert(
      fc.property(anyConfig, (raw) => {
        const input = structuredClone(raw);
        let config: SiteConfig | undefined;
        const refusal = problemsOf(() => (config = validateConfig(input)));
        if (refusal === undefined) expect(isDeeplyFrozen(config)).toBe(true);
        else expectRefusalNamesPaths(raw, refusal.problems, refusal.message);
      }),
      params(1000),
    );
  });

  it('reads a JSON site file as JSON: the loader (a YAML parser) gives the verdict JSON.parse would', () => {
    const text = fc.oneof(
      anyConfig.map((v) => JSON.stringify(v)),
      siteArb.map(({ input }) => JSON.stringify(input)),
      fc.json({ maxDepth: 2 }),
    );
    fc.assert(
      fc.property(text, fc.boolean(), (json, pretty) => {
        const written = pretty ? JSON.stringify(JSON.parse(json), null, 2) : json;
        const file = writeSiteFile(written, 'json');
        const viaJson = problemsOf(() => validateConfig(JSON.parse(written)));
        const viaFile = problemsOf(() => loadConfig(file));
        expect(viaFile?.problems.map((p) => p.path)).toEqual(viaJson?.problems.map((p) => p.path));
      }),
      params(300),
    );
  });

  it('never crashes on arbitrary text as a site file: CONFIG_INVALID naming the file or the problems', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: fc.constantFrom('site:', ' id: a', '\n', '  ', '- ', '[', ']', '{', '}', ': ', 'doors:', '&a ', '*a', '!!str ', '---', '#', '"', "'", '\t', 'name: x'), maxLength: 40 }),
      anyConfig.map((v) => toYaml(v)),
    );
    // The YAML parser warns on process (an unresolved tag, an ambiguous alias): not this test's output.
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    fc.assert(
      fc.property(text, (source) => {
        const file = writeSiteFile(source, 'yaml');
        try {
          const config = loadConfig(file);
          expect(isDeeplyFrozen(config)).toBe(true);
        } catch (error) {
          expect(isPosternError(error, ErrorCodes.CONFIG_INVALID)).toBe(true);
          const e = error as Error & { details?: Array<{ path: string; message: string }> };
          expect(e.message).toContain(file);
          for (const p of e.details ?? []) expect(e.message).toContain(`  - ${p.path}: ${p.message}`);
        }
      }),
      params(300),
    );
    warnings.mockRestore();
  });
});
