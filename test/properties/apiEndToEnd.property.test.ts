/**
 * The integrator API end to end (a real controller, its WebSocket, every method of the real
 * table, an admin token): whatever params a client sends, each answer has the JSON-RPC 2.0 shape
 * and a code of docs/api.md, a -32602 names its field, and no client input is an internal error.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServices } from '../../controller/api/apiServices.ts';
import { allMethods } from '../../controller/api/methods/allMethods.ts';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { params } from './propertyRuns.ts';

const DOCUMENTED_CODES = [-32700, -32600, -32601, -32602, -32603, -32001, -32002, -32003, -32004, -32005];

let site: ApiSite;
let admin: ApiClient;
/** Each method's parameter names, from its schema. */
let methods: Record<string, string[]>;
beforeAll(async () => {
  site = await startApiSite((input) => {
    input.api = { ...input.api, rateLimit: { perConnection: { rate: 100_000, burst: 100_000 }, perToken: { rate: 100_000, burst: 100_000 } } };
  });
  admin = await ApiClient.connect(site.url, site.tokens.admin);
  // The names of the real method table (its services are not used to list them).
  const config = { api: { maxMessageBytes: 65_536 } };
  const table = allMethods(new Proxy({}, { get: (_t, key) => (key === 'config' ? config : new Proxy({}, {})) }) as ApiServices);
  methods = Object.fromEntries(Object.entries(table).map(([name, d]) => [name, Object.keys((d.params as { shape?: object }).shape ?? {})]));
});
afterAll(async () => {
  admin?.close();
  await site?.stop();
});

const KEYS = ['door', 'seconds', 'on', 'topics', 'doors', 'subscription', 'id', 'name', 'email', 'scope', 'notBefore', 'notAfter', 'onlineOnly', 'maxUses', 'limit', 'offset', 'includeRevoked', 'text', 'scanner', 'image', 'reason', 'to', 'secret', 'allowedScopes', 'defaultScope', 'since', 'until', 'verdict', 'order', 'subject', 'partner', 'controllerId', 'afterSeq', 'beforeSeq'];
const value = fc.oneof(
  fc.constantFrom('front', 'lab', 'nowhere', '', 'x'.repeat(65), '0', '7', '01', '18446744073709551615', '18446744073709551616', '99999999999999999999', '-1', 'door', 'audit', 'asc', 'grant', 'net-1', 'lab-in', 'a@b.c', 'aGVsbG8=', 'ab'.repeat(32)),
  fc.constantFrom(0, 1, -1, 3, 7, 5, 3600, 3601, 1.5, 2 ** 31, 2 ** 53, 0x3fffffff, 0x40000000, 0xfffffffe, 0xffffffff, 65_535, 65_536, true, false, null),
  fc.constantFrom(['door'], ['front', 'lab'], ['front', 'front'], [], [1, 2], [3], [7, 3], ['audit', 'door', 'link', 'scanner'], ['a,b']),
  fc.jsonValue({ maxDepth: 1 }),
);
const nowSeconds = Math.floor(Date.now() / 1000);
const subjectText = fc.oneof(fc.constantFrom('0', '1', '7', '01', '18446744073709551615', '18446744073709551616', '99999999999999999999', ' 7', '7.0'), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String));
/** Values a client would plausibly give each name (and sometimes anything). */
const PLAUSIBLE: Record<string, fc.Arbitrary<unknown>> = {
  door: fc.constantFrom('front', 'lab', 'store', 'nowhere', ''),
  doors: fc.subarray(['front', 'lab', 'store', 'nowhere', 'front']),
  seconds: fc.oneof(fc.constantFrom(0, 0.001, 1, 3600, 3601), fc.double({ min: 0, max: 4000, noNaN: true })),
  on: fc.boolean(),
  topics: fc.subarray(['door', 'scanner', 'link', 'audit', 'nope']),
  subscription: fc.constantFrom('s1', 's2', 's3', 's999', ''),
  id: fc.oneof(subjectText, fc.integer({ min: -1, max: 70_000 })),
  subject: subjectText,
  partner: fc.integer({ min: -1, max: 70_000 }),
  name: fc.string({ minLength: 0, maxLength: 30 }),
  email: fc.oneof(fc.emailAddress(), fc.constantFrom(null, 'not an address', '')),
  to: fc.oneof(fc.emailAddress(), fc.constantFrom('x', 'a@b')),
  scope: fc.constantFrom(0, 3, 5, 7, 0x40000000, 0xffffffff),
  notBefore: fc.oneof(fc.constantFrom(0, nowSeconds, 0xfffffffe, 0xffffffff), fc.integer({ min: nowSeconds - 10 ** 6, max: nowSeconds + 10 ** 6 })),
  notAfter: fc.oneof(fc.constantFrom(null, 0, nowSeconds, 0xfffffffe), fc.integer({ min: nowSeconds - 10 ** 6, max: nowSeconds + 10 ** 6 })),
  onlineOnly: fc.boolean(),
  maxUses: fc.constantFrom(null, 0, 1, 3),
  limit: fc.integer({ min: 0, max: 1001 }),
  offset: fc.integer({ min: -1, max: 100 }),
  includeRevoked: fc.boolean(),
  text: fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('P1.' + 'A'.repeat(64), '')),
  scanner: fc.constantFrom('net-1', 'lab-in', 'front-in', 'nope'),
  image: fc.constantFrom('aGVsbG8=', 'iVBORw0KGgo=', '////', 'not base64!'),
  reason: fc.string({ maxLength: 20 }),
  secret: fc.constantFrom('ab'.repeat(32), 'ab'.repeat(31), 'zz'.repeat(32)),
  allowedScopes: fc.constantFrom([3], [7], [3, 7], [], [5]),
  defaultScope: fc.constantFrom(null, 3, 7, 5),
  since: fc.integer({ min: 0, max: Date.now() + 10 ** 7 }),
  until: fc.integer({ min: 0, max: Date.now() + 10 ** 7 }),
  verdict: fc.constantFrom('grant', 'deny', 'maybe'),
  order: fc.constantFrom('asc', 'desc'),
  controllerId: fc.constantFrom('test-site', 'test-site/admin', 'nope'),
  afterSeq: fc.integer({ min: -1, max: 100 }),
  beforeSeq: fc.integer({ min: -1, max: 100 }),
};
const valueOf = (name: string) => fc.oneof({ weight: 4, arbitrary: PLAUSIBLE[name] ?? value }, value);

/** Params for a method: mostly its own names with plausible values, sometimes anything. */
const paramsFor = (names: string[]) =>
  fc.oneof(
    { weight: 6, arbitrary: names.length === 0 ? fc.constant({}) : fc.subarray(names).chain((keys) => fc.tuple(...keys.map(valueOf)).map((values) => Object.fromEntries(keys.map((k, i) => [k, values[i]])))) },
    { weight: 2, arbitrary: fc.dictionary(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...KEYS) }, fc.string({ maxLength: 4 })), value, { maxKeys: 5 }) },
    fc.constantFrom(undefined, []),
  );

describe('integrator API end to end', () => {
  it('answers any params of any method conformantly, never with an internal error', async () => {
    expect(Object.keys(methods).length).toBeGreaterThan(10);
    const call = fc.constantFrom(...Object.keys(methods)).chain((name) => fc.tuple(fc.constant(name), paramsFor(methods[name]!)));
    await fc.assert(
      fc.asyncProperty(call, async ([name, p]) => {
        const answer = await admin.request(name, p);
        expect(answer.jsonrpc).toBe('2.0');
        expect(typeof answer.id).toBe('number');
        expect('result' in answer !== 'error' in answer).toBe(true);
        if (!answer.error) return;
        const e = answer.error;
        expect(DOCUMENTED_CODES).toContain(e.code);
        expect({ name, params: p, error: e }).not.toMatchObject({ error: { code: -32603 } });
        if (e.code === -32602) expect({ name, params: p, error: e }).toMatchObject({ error: { data: { code: 'POSTERN_ERR_INVALID_ARGUMENT', field: expect.any(String) } } });
      }),
      params(400),
    );
  });
});
