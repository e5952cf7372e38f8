/**
 * Properties of the JSON-RPC layer (controller/api/jsonRpc.ts, invokeMethod.ts, rpcConnection.ts)
 * against JSON-RPC 2.0 and docs/api.md: whatever a client sends, the parser never throws and every
 * answer has the shape the spec gives, with the id echoed when it was usable and the error codes
 * docs/api.md lists; batches answer in order, notifications never.
 */
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Principal, Role } from '../../controller/accounts/accountTypes.ts';
import { parseMessage, type JsonRpcResponse } from '../../controller/api/jsonRpc.ts';
import { allMethods } from '../../controller/api/methods/allMethods.ts';
import type { ApiServices } from '../../controller/api/apiServices.ts';
import { method, type MethodTable } from '../../controller/api/methodTypes.ts';
import { RpcConnection } from '../../controller/api/rpcConnection.ts';
import { TokenBucket } from '../../controller/api/tokenBucket.ts';
import { createLogger } from '../../controller/logger.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { params } from './propertyRuns.ts';

/** docs/api.md, "Errors": every code an answer may carry. */
const DOCUMENTED_CODES = [-32700, -32600, -32601, -32602, -32603, -32001, -32002, -32003, -32004, -32005];

/** The shape JSON-RPC 2.0 gives an answer, checked key by key. */
function expectAnswerShape(answer: unknown): void {
  expect(answer).toBeTypeOf('object');
  expect(answer).not.toBeNull();
  const a = answer as Record<string, unknown>;
  expect(a.jsonrpc).toBe('2.0');
  expect('id' in a).toBe(true);
  expect(a.id === null || typeof a.id === 'string' || (typeof a.id === 'number' && Number.isFinite(a.id))).toBe(true);
  expect('result' in a !== 'error' in a).toBe(true);
  expect(Object.keys(a).sort()).toEqual(['error' in a ? 'error' : 'result', 'id', 'jsonrpc'].sort());
  if ('error' in a) {
    const e = a.error as Record<string, unknown>;
    expect(Number.isInteger(e.code)).toBe(true);
    expect(DOCUMENTED_CODES).toContain(e.code);
    expect(typeof e.message === 'string' && e.message.length > 0).toBe(true);
    for (const key of Object.keys(e)) expect(['code', 'message', 'data']).toContain(key);
    if ('data' in e) expect(e.data !== null && typeof e.data === 'object' && !Array.isArray(e.data)).toBe(true);
    if (e.code === -32602) expect(e.data).toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT, field: expect.any(String) });
    // An unexpected failure says nothing of its internals.
    if (e.code === -32603 && !('data' in e)) expect(e.message).toBe('internal error');
  }
}

// ---- A model of JSON-RPC 2.0's request rules, written from the spec -------------------------

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const usableId = (id: unknown): boolean => id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));

/** undefined when the value is a valid request; else the id its error answer must carry. */
function invalidRequestId(v: unknown): { id: unknown } | undefined {
  if (!isObject(v)) return { id: null };
  const hasId = Object.hasOwn(v, 'id') && v.id !== undefined;
  const id = hasId && usableId(v.id) ? v.id : null;
  if (hasId && !usableId(v.id)) return { id: null };
  if (v.jsonrpc !== '2.0') return { id };
  if (typeof v.method !== 'string' || v.method === '') return { id };
  if (Object.hasOwn(v, 'params') && v.params !== undefined && (v.params === null || typeof v.params !== 'object')) return { id };
  return undefined;
}

// ---- Arbitraries: JSON and near-requests ---------------------------------------------------

const METHOD_NAMES = ['math.add', 'echo', 'slow', 'fail.internal', 'fail.notFound', 'admin.only', 'scan.read', 'no.such', '', '__proto__', 'constructor', 'toString', 'hasOwnProperty'];

const idArb = fc.oneof(fc.integer(), fc.string({ maxLength: 6 }), fc.constant(null), fc.double(), fc.boolean(), fc.constant([1]), fc.constant({ id: 1 }));

const requestLike = (paramsArb: fc.Arbitrary<unknown>) =>
  fc
    .record(
      {
        jsonrpc: fc.oneof({ weight: 8, arbitrary: fc.constant('2.0') }, fc.constantFrom('2', 2, 2.0, '1.0', null, ' 2.0', '2.0 ')),
        method: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...METHOD_NAMES) }, fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 })),
        params: paramsArb,
        id: idArb,
        extra: fc.jsonValue({ maxDepth: 1 }),
      },
      { requiredKeys: ['jsonrpc', 'method'] },
    )
    .map((r) => r as Record<string, unknown>);

const testParams = fc.oneof(
  fc.record({ a: fc.oneof(fc.integer(), fc.string({ maxLength: 2 })), b: fc.integer() }, { requiredKeys: [] }),
  fc.record({ value: fc.oneof(fc.string({ maxLength: 60 }), fc.integer()) }, { requiredKeys: [] }),
  fc.record({ hops: fc.integer({ min: -1, max: 6 }) }, { requiredKeys: [] }),
  fc.constantFrom({}, [], [{}], [{ a: 1, b: 2 }, 'ignored'], null, 'params', 7, true),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Requests of the test methods with the params they take (by name or as a one-element array). */
const wellFormed = fc
  .constantFrom('math.add', 'echo', 'slow', 'fail.internal', 'fail.notFound', 'admin.only', 'scan.read')
  .chain((name) => {
    const given: fc.Arbitrary<unknown> =
      name === 'math.add' ? fc.record({ a: fc.integer(), b: fc.double({ noNaN: true, noDefaultInfinity: true }) })
      : name === 'echo' ? fc.record({ value: fc.string({ maxLength: 50 }) }, { requiredKeys: [] })
      : name === 'slow' ? fc.record({ hops: fc.integer({ min: 0, max: 6 }) }, { requiredKeys: [] })
      : fc.constant({});
    return fc.record(
      { jsonrpc: fc.constant('2.0'), method: fc.constant(name), params: fc.oneof(given, given.map((p) => [p])), id: fc.oneof(fc.integer(), fc.string({ maxLength: 6 }), fc.constant(null)) },
      { requiredKeys: ['jsonrpc', 'method'] },
    );
  })
  .map((r) => r as Record<string, unknown>);

const item = fc.oneof({ weight: 4, arbitrary: requestLike(testParams) }, { weight: 4, arbitrary: wellFormed }, fc.jsonValue({ maxDepth: 2 }));

/** A message: JSON of a request, a batch (sometimes longer than maxBatch), or anything else. */
const messageText = fc.oneof(
  { weight: 4, arbitrary: item.map((v) => JSON.stringify(v)) },
  { weight: 4, arbitrary: fc.array(item, { minLength: 0, maxLength: 10 }).map((v) => JSON.stringify(v)) },
  fc.json({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '1', 'e', '9', ' ', 'null', '"id"', '"jsonrpc"', '"2.0"', '"method"'), maxLength: 30 }),
  fc.constantFrom('{"jsonrpc":"2.0","id":1e400,"method":"echo"}', '[[]]', '[{}]', '{"jsonrpc":"2.0","method":"echo","id":-0}'),
);

describe('JSON-RPC parser properties', () => {
  it('never throws, and sorts every message as the spec says: not JSON, an invalid request, one request, or a batch', () => {
    fc.assert(
      fc.property(messageText, (text) => {
        const parsed = parseMessage(text);
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          expect(parsed).toEqual({ kind: 'invalid', response: { jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.any(String) } } });
          return;
        }
        if (Array.isArray(value) && value.length === 0) {
          expect(parsed).toMatchObject({ kind: 'invalid', response: { id: null, error: { code: -32600 } } });
        } else if (Array.isArray(value)) {
          expect(parsed.kind).toBe('batch');
          const items = (parsed as { items: unknown[] }).items;
          expect(items).toHaveLength(value.length);
          value.forEach((v, i) => {
            const invalid = invalidRequestId(v);
            if (invalid === undefined) expect(items[i]).toEqual(v);
            else expect(items[i]).toEqual({ jsonrpc: '2.0', id: invalid.id, error: { code: -32600, message: expect.any(String) } });
          });
        } else {
          const invalid = invalidRequestId(value);
          if (invalid === undefined) expect(parsed).toEqual({ kind: 'single', request: value });
          else expect(parsed).toEqual({ kind: 'invalid', response: { jsonrpc: '2.0', id: invalid.id, error: { code: -32600, message: expect.any(String) } } });
        }
        if (parsed.kind === 'invalid') {
          expectAnswerShape(parsed.response);
          expect(JSON.parse(JSON.stringify(parsed.response))).toEqual(parsed.response);
        }
      }),
      params(1500),
    );
  });
});

// ---- A connection with a fake socket ---------------------------------------------------------

class FakeSocket extends EventEmitter {
  readonly sent: string[] = [];
  bufferedAmount = 0;
  send(text: string): void {
    this.sent.push(text);
  }
  ping(): void {}
  terminate(): void {}
  close(): void {}
}

const MAX_BATCH = 8;
const logger = createLogger('silent');

function connect(methods: MethodTable, role: Role): FakeSocket {
  const socket = new FakeSocket();
  const principal: Principal = { kind: 'token', id: 't1', name: 'properties', role, scanner: role === 'scanner' ? 'net-1' : null };
  new RpcConnection(socket as never, principal, methods, new TokenBucket(1, 1e9), new TokenBucket(1, 1e9), { maxBufferedBytes: 1 << 30, maxBatch: MAX_BATCH }, logger, () => {});
  return socket;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Sends one message and collects what comes back once the connection is idle. */
async function exchange(socket: FakeSocket, text: string | Buffer): Promise<unknown[]> {
  const before = socket.sent.length;
  socket.emit('message', Buffer.from(text), Buffer.isBuffer(text));
  // The slowest test method waits 6 turns of the event loop.
  for (let i = 0; i < 12; i++) await tick();
  return socket.sent.slice(before).map((t) => JSON.parse(t));
}

const testMethods: MethodTable = {
  'math.add': method({ role: 'viewer', params: z.strictObject({ a: z.number(), b: z.number() }), handler: ({ a, b }) => a + b }),
  echo: method({ role: 'viewer', params: z.strictObject({ value: z.string().max(50).optional() }), handler: ({ value }) => value }),
  slow: method({
    role: 'viewer',
    params: z.strictObject({ hops: z.number().int().min(0).max(6).default(3) }),
    handler: async ({ hops }) => {
      for (let i = 0; i < hops; i++) await tick();
      return { hops };
    },
  }),
  'fail.internal': method({ role: 'viewer', params: z.strictObject({}), handler: () => { throw new Error('/var/lib/postern/secret.key: disk on fire'); } }),
  'fail.notFound': method({ role: 'viewer', params: z.strictObject({}), handler: () => { throw new PosternError(ErrorCodes.NOT_FOUND, 'no door "x"', { details: { field: 'door' } }); } }),
  'admin.only': method({ role: 'admin', params: z.strictObject({}), handler: () => 'yes' }),
  'scan.read': method({ role: 'scanner', params: z.strictObject({}), handler: () => 'read' }),
};

const ROLE_RANK: Record<string, number> = { viewer: 0, operator: 1, integrator: 2, admin: 3 };

/** The answer docs/api.md gives one valid request, or undefined for a notification. */
function expectedAnswer(request: Record<string, unknown>, role: Role): { id: unknown; result?: unknown; code?: number } | undefined {
  const notification = !Object.hasOwn(request, 'id') || request.id === undefined;
  const id = notification ? null : request.id;
  const answer = ((): { result?: unknown; code?: number } => {
    const name = request.method as string;
    const definition = Object.hasOwn(testMethods, name) ? testMethods[name]! : undefined;
    if (definition === undefined) return { code: -32601 };
    const allowed = definition.role === 'scanner' ? role === 'scanner' || (ROLE_RANK[role] ?? -1) >= 2 : role !== 'scanner' && ROLE_RANK[role]! >= ROLE_RANK[definition.role]!;
    if (!allowed) return { code: -32001 };
    const given = request.params;
    const raw = Array.isArray(given) ? (given.length === 0 ? {} : given[0]) : (given ?? {});
    if (!isObject(raw)) return { code: -32602 };
    const keys = Object.keys(raw);
    switch (name) {
      case 'math.add':
        return keys.length === 2 && typeof raw.a === 'number' && typeof raw.b === 'number' ? { result: raw.a + raw.b } : { code: -32602 };
      case 'echo':
        return keys.every((k) => k === 'value') && (raw.value === undefined || (typeof raw.value === 'string' && raw.value.length <= 50)) ? { result: raw.value ?? null } : { code: -32602 };
      case 'slow': {
        const hops = Object.hasOwn(raw, 'hops') ? raw.hops : 3;
        return keys.every((k) => k === 'hops') && Number.isInteger(hops) && (hops as number) >= 0 && (hops as number) <= 6 ? { result: { hops } } : { code: -32602 };
      }
      default:
        if (keys.length > 0) return { code: -32602 };
        return name === 'fail.internal' ? { code: -32603 } : name === 'fail.notFound' ? { code: -32002 } : name === 'admin.only' ? { result: 'yes' } : { result: 'read' };
    }
  })();
  return notification ? undefined : { id, ...answer };
}

function expectMatches(answer: unknown, want: { id: unknown; result?: unknown; code?: number }): void {
  expectAnswerShape(answer);
  const a = answer as { id: unknown; result?: unknown; error?: { code: number; data?: unknown } };
  // The id as JSON carries it (-0 is 0 on the wire).
  expect(a.id).toEqual(JSON.parse(JSON.stringify(want.id)));
  if (want.code === undefined) expect(a).toEqual({ jsonrpc: '2.0', id: a.id, result: want.result });
  else expect(a.error?.code).toBe(want.code);
  if (want.code === -32001) expect(a.error?.data).toEqual({ code: ErrorCodes.FORBIDDEN });
  if (want.code === -32002) expect(a.error?.data).toEqual({ code: ErrorCodes.NOT_FOUND, field: 'door' });
}

const roleArb = fc.constantFrom<Role>('viewer', 'operator', 'integrator', 'admin', 'scanner');

describe('JSON-RPC connection properties', () => {
  it('answers every message once (or not at all for notifications), conformant, ids echoed, batches in order', async () => {
    await fc.assert(
      fc.asyncProperty(roleArb, messageText, fc.boolean(), async (role, text, binary) => {
        const socket = connect(testMethods, role);
        const answers = await exchange(socket, binary ? Buffer.from(text) : text);
        if (binary) {
          expect(answers).toEqual([{ jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.any(String) } }]);
          return;
        }
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          expect(answers).toEqual([{ jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.any(String) } }]);
          return;
        }
        if (Array.isArray(value)) {
          if (value.length === 0 || value.length > MAX_BATCH) {
            expect(answers).toHaveLength(1);
            expectMatches(answers[0], { id: null, code: -32600 });
            return;
          }
          const wanted = value
            .map((v) => {
              const invalid = invalidRequestId(v);
              return invalid === undefined ? expectedAnswer(v as Record<string, unknown>, role) : { id: invalid.id, code: -32600 };
            })
            .filter((w) => w !== undefined);
          if (wanted.length === 0) {
            expect(answers).toEqual([]);
            return;
          }
          expect(answers).toHaveLength(1);
          expect(Array.isArray(answers[0])).toBe(true);
          const batch = answers[0] as unknown[];
          expect(batch).toHaveLength(wanted.length);
          wanted.forEach((w, i) => expectMatches(batch[i], w));
          return;
        }
        const invalid = invalidRequestId(value);
        const want = invalid === undefined ? expectedAnswer(value as Record<string, unknown>, role) : { id: invalid.id, code: -32600 };
        if (want === undefined) expect(answers).toEqual([]);
        else {
          expect(answers).toHaveLength(1);
          expectMatches(answers[0], want);
        }
      }),
      params(1000),
    );
  });

  it('runs the real method table on any params and role: codes in the order method, role, params, and a field for bad params', async () => {
    // The services behind the methods are a stand-in that fails on any use: what is tested is
    // everything before a handler touches the controller, and what its failure looks like.
    const poison: object = new Proxy(function poison() {}, {
      get: (_t, key) => (key === 'then' ? undefined : poison),
      apply: () => {
        throw new Error('stand-in services: not for use');
      },
    });
    const api = new Proxy({}, { get: (_t, key) => (key === 'config' ? { api: { maxMessageBytes: 65_536 } } : poison) }) as ApiServices;
    const methods = allMethods(api);
    const names = Object.keys(methods);
    const keys = ['door', 'seconds', 'on', 'topics', 'doors', 'subscription', 'id', 'name', 'email', 'scope', 'notBefore', 'notAfter', 'onlineOnly', 'maxUses', 'limit', 'offset', 'includeRevoked', 'text', 'scanner', 'image', 'reason', 'to', 'secret', 'allowedScopes', 'defaultScope', 'since', 'until', 'verdict', 'order', 'bucketMinutes', 'hours'];
    const value = fc.oneof(
      fc.constantFrom('front', '', 'x'.repeat(65), '123', '-1', 'door', 'audit', 'asc', 'deny', 'aGVsbG8=', 'a'.repeat(64)),
      fc.constantFrom(0, 1, -1, 5, 3600, 3601, 1.5, 2 ** 53, 0xfffffffe, 0xffffffff, 65_535, 65_536, true, false, null),
      fc.constantFrom(['door'], ['front', 'lab'], [], [1, 2], ['audit', 'door', 'link', 'scanner']),
      fc.jsonValue({ maxDepth: 1 }),
    );
    const paramsArb = fc.oneof(
      { weight: 4, arbitrary: fc.dictionary(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...keys) }, fc.string({ maxLength: 4 })), value, { maxKeys: 4 }) },
      fc.constantFrom(undefined, [], null, 'x', 3),
      fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 3 }).map((p) => [p]),
    );
    const request = fc.record({
      id: fc.oneof(fc.integer(), fc.string({ maxLength: 4 })),
      method: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...names) }, fc.constantFrom('no.such', '__proto__', 'constructor', 'doors')),
      params: paramsArb,
    });
    await fc.assert(
      fc.asyncProperty(roleArb, request, async (role, r) => {
        const socket = connect(methods, role);
        const message = { jsonrpc: '2.0', id: r.id, method: r.method, ...(r.params === undefined ? {} : { params: r.params }) };
        const answers = await exchange(socket, JSON.stringify(message));
        expect(answers).toHaveLength(1);
        const answer = answers[0] as JsonRpcResponse & { error?: { code: number; message: string; data?: { field?: string } } };
        expectAnswerShape(answer);
        expect(answer.id).toEqual(r.id);
        const definition = Object.hasOwn(methods, r.method) ? methods[r.method] : undefined;
        if (r.params !== undefined && (r.params === null || typeof r.params !== 'object')) {
          expect(answer.error?.code).toBe(-32600);
          return;
        }
        if (definition === undefined) {
          expect(answer.error?.code).toBe(-32601);
          return;
        }
        const allowed = definition.role === 'scanner' ? role === 'scanner' || (ROLE_RANK[role] ?? -1) >= 2 : role !== 'scanner' && ROLE_RANK[role]! >= ROLE_RANK[definition.role]!;
        if (!allowed) {
          expect(answer.error).toMatchObject({ code: -32001, data: { code: ErrorCodes.FORBIDDEN } });
          return;
        }
        const raw = Array.isArray(r.params) ? (r.params.length === 0 ? {} : r.params[0]) : (r.params ?? {});
        if (!definition.params.safeParse(raw).success) {
          expect(answer.error?.code).toBe(-32602);
          const field = answer.error!.data!.field!;
          expect(answer.error!.message.startsWith(`${field}: `)).toBe(true);
          // The field is the params, or a path into them that starts at a name the client gave or the method takes.
          const shape = (definition.params as { shape?: Record<string, unknown> }).shape;
          if (field !== 'params') expect([...Object.keys(shape ?? {}), ...Object.keys(raw as object)]).toContain(field.split('.')[0]);
          return;
        }
        // Valid params reach the handler, whose stand-in services fail: never with their internals.
        expect(answer.error).toBeDefined();
        if (answer.error!.code === -32603) expect(answer.error).toEqual({ code: -32603, message: 'internal error' });
      }),
      params(1000),
    );
  });
});
