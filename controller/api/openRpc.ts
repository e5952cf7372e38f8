/**
 * The integrator API as an OpenRPC 1.3 document, made from the method table itself: each method's
 * parameters are its zod schema as JSON Schema, so the contract cannot drift from what the server
 * checks. Results are described loosely (`{}`): the methods have no result schemas, and a hand-made
 * one would be exactly the drift this avoids. docs/api.md is checked against this document by
 * test/api/openRpcDocs.test.ts.
 */
import { z } from 'zod';
import { ErrorCodes, PosternError, type ErrorCode } from '../../machines/shared/errors.ts';
import { RpcErrorCodes, toErrorObject } from './jsonRpc.ts';
import type { MethodTable } from './methodTypes.ts';

export const OPENRPC_VERSION = '1.3.2';

/**
 * The WebSocket close codes a client of /api can meet. 1006 is never sent (no close frame: the
 * socket is cut) but is what a client sees for a drop. 1002, 1007 and 1009 are sent by the `ws`
 * library for what it refuses before a message reaches the server's code.
 */
export const CLOSE_CODES = [
  { code: 1001, reason: 'controller stopping', meaning: 'the controller is stopping', reconnect: true },
  { code: 1002, reason: null, meaning: 'protocol error: a frame that breaks the WebSocket protocol', reconnect: true },
  { code: 1006, reason: null, meaning: 'no close frame: dropped as a slow reader, for a missed pong, or the network failed', reconnect: true },
  { code: 1007, reason: null, meaning: 'a text message that is not valid UTF-8', reconnect: true },
  { code: 1008, reason: 'credentials revoked', meaning: 'the token was revoked (or its user disabled): reconnecting with it is refused (401)', reconnect: false },
  { code: 1008, reason: 'credentials changed', meaning: "the token's role was changed to or from scanner, or to another scanner", reconnect: false },
  { code: 1008, reason: 'rate limit ignored', meaning: 'the client kept sending while refused for its rate: new connections are refused (429) for a while', reconnect: true },
  { code: 1009, reason: null, meaning: 'a message larger than api.maxMessageBytes', reconnect: true },
] as const;

/**
 * JSON-RPC codes that concern a message as a whole, before any method runs: they are never the
 * answer of one method, so they are listed in the components only.
 */
const MESSAGE_ERRORS = [
  { name: 'ParseError', code: RpcErrorCodes.parseError, message: 'parse error: the message is not JSON (or is binary)' },
  { name: 'InvalidRequest', code: RpcErrorCodes.invalidRequest, message: 'invalid request: not a JSON-RPC 2.0 request, an empty batch, a batch too large' },
  { name: 'MethodNotFound', code: RpcErrorCodes.methodNotFound, message: 'method not found' },
];

const RPC_MESSAGES: Record<number, string> = {
  [RpcErrorCodes.invalidParams]: 'invalid params',
  [RpcErrorCodes.internalError]: 'internal error',
  [RpcErrorCodes.forbidden]: 'forbidden',
  [RpcErrorCodes.notFound]: 'not found',
  [RpcErrorCodes.conflict]: 'conflict',
  [RpcErrorCodes.rateLimited]: 'rate limited',
  [RpcErrorCodes.unavailable]: 'unavailable',
};

/**
 * The JSON-RPC code each POSTERN_ERR_* code is answered with. A method's PosternError goes through
 * toErrorObject, as on the wire; forbidden and rate-limited are raised by the transport as
 * RpcErrors with those codes, not as PosternErrors, so toErrorObject alone would say -32603.
 */
function rpcCodeOf(code: ErrorCode): number {
  if (code === ErrorCodes.FORBIDDEN) return RpcErrorCodes.forbidden;
  if (code === ErrorCodes.RATE_LIMITED) return RpcErrorCodes.rateLimited;
  return toErrorObject(new PosternError(code, '')).code;
}

export interface OpenRpcDocument {
  openrpc: string;
  info: { title: string; version: string; description: string };
  servers: Array<{ name: string; url: string; summary: string }>;
  methods: OpenRpcMethod[];
  components: { errors: Record<string, OpenRpcError> };
  'x-postern-close-codes': typeof CLOSE_CODES;
}

export interface OpenRpcMethod {
  name: string;
  paramStructure: 'by-name';
  params: Array<{ name: string; required: boolean; schema: Record<string, unknown> }>;
  result: { name: string; schema: Record<string, unknown> };
  errors: Array<{ $ref: string }>;
  'x-postern-role': string;
}

export interface OpenRpcError {
  code: number;
  message: string;
  data?: { code: string };
}

function paramsOf(schema: z.ZodType): OpenRpcMethod['params'] {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-07', unrepresentable: 'any' }) as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({ name, required: required.has(name), schema: property }));
}

/** The document for `methods`, as rpc.discover answers it. */
export function openRpcDocument(methods: MethodTable, version: string): OpenRpcDocument {
  const errors: Record<string, OpenRpcError> = {};
  for (const e of MESSAGE_ERRORS) errors[e.name] = { code: e.code, message: e.message };
  // An unexpected failure says nothing of itself: no data.code.
  errors.InternalError = { code: RpcErrorCodes.internalError, message: 'internal error' };
  for (const code of Object.values(ErrorCodes)) {
    const rpc = rpcCodeOf(code);
    errors[code] = { code: rpc, message: RPC_MESSAGES[rpc] ?? 'error', data: { code } };
  }
  // Every method can meet every error a method may raise: roles, parameters, limits, the store,
  // and whatever its handler refuses.
  const methodErrors = Object.keys(errors)
    .filter((key) => !MESSAGE_ERRORS.some((e) => e.name === key))
    .map((key) => ({ $ref: `#/components/errors/${key}` }));
  return {
    openrpc: OPENRPC_VERSION,
    info: {
      title: 'Postern integrator API',
      version,
      description: 'JSON-RPC 2.0 over one WebSocket, /api, authenticated with `Authorization: Bearer <token>` at the upgrade. docs/api.md is the reference.',
    },
    servers: [{ name: 'controller', url: '/api', summary: 'the WebSocket on the controller\'s HTTP server: ws://HOST:PORT/api, or wss:// with api.tls' }],
    methods: Object.entries(methods)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, definition]) => ({
        name,
        paramStructure: 'by-name' as const,
        params: paramsOf(definition.params),
        result: { name: 'result', schema: {} },
        errors: methodErrors,
        'x-postern-role': definition.role,
      })),
    components: { errors },
    'x-postern-close-codes': CLOSE_CODES,
  };
}
