/**
 * JSON-RPC 2.0, exactly: requests, notifications, batches and the standard errors, plus Postern's
 * own errors in the server range, each carrying the stable POSTERN_ERR_* code in `data.code`.
 */
import { ErrorCodes, isPosternError, type ErrorCode } from '../../machines/shared/errors.ts';

export type JsonRpcId = string | number | null;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  method: string;
  params?: unknown;
  /** absent: a notification, which gets no answer */
  id?: JsonRpcId;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: JsonRpcId; result: unknown }
  | { jsonrpc: '2.0'; id: JsonRpcId; error: JsonRpcErrorObject };

export const RpcErrorCodes = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  // Postern's, in the range the spec leaves to servers.
  forbidden: -32001,
  notFound: -32002,
  conflict: -32003,
  rateLimited: -32004,
  unavailable: -32005,
} as const;

/** An error meant for the client, with the JSON-RPC code and the data it sees. */
export class RpcError extends Error {
  constructor(
    readonly rpcCode: number,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export const invalidParams = (field: string, message: string): RpcError =>
  new RpcError(RpcErrorCodes.invalidParams, `${field}: ${message}`, { code: ErrorCodes.INVALID_ARGUMENT, field });

const POSTERN_TO_RPC: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.INVALID_ARGUMENT]: RpcErrorCodes.invalidParams,
  [ErrorCodes.NOT_FOUND]: RpcErrorCodes.notFound,
  [ErrorCodes.CONFLICT]: RpcErrorCodes.conflict,
  [ErrorCodes.STORE_UNAVAILABLE]: RpcErrorCodes.unavailable,
  [ErrorCodes.STORE_READ_ONLY]: RpcErrorCodes.unavailable,
  [ErrorCodes.STORE_WRITE_FAILED]: RpcErrorCodes.unavailable,
  [ErrorCodes.EMAIL_FAILED]: RpcErrorCodes.unavailable,
  [ErrorCodes.UNAUTHENTICATED]: RpcErrorCodes.forbidden,
  [ErrorCodes.FORBIDDEN]: RpcErrorCodes.forbidden,
  [ErrorCodes.RATE_LIMITED]: RpcErrorCodes.rateLimited,
  [ErrorCodes.SITE_OFFLINE]: RpcErrorCodes.unavailable,
  [ErrorCodes.SITE_TIMEOUT]: RpcErrorCodes.unavailable,
};

/** What a thrown error becomes on the wire. Unknown errors say nothing of their internals. */
export function toErrorObject(error: unknown): JsonRpcErrorObject {
  if (error instanceof RpcError) return { code: error.rpcCode, message: error.message, ...(error.data ? { data: error.data } : {}) };
  if (isPosternError(error)) {
    const details = (error.details ?? {}) as Record<string, unknown>;
    const field = typeof details.field === 'string' ? { field: details.field } : {};
    return { code: POSTERN_TO_RPC[error.code] ?? RpcErrorCodes.internalError, message: error.message, data: { code: error.code, ...field } };
  }
  return { code: RpcErrorCodes.internalError, message: 'internal error' };
}

export function errorResponse(id: JsonRpcId, error: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: toErrorObject(error) };
}

export type ParsedMessage =
  | { kind: 'single'; request: JsonRpcRequest }
  | { kind: 'batch'; items: Array<JsonRpcRequest | JsonRpcResponse> }
  | { kind: 'invalid'; response: JsonRpcResponse };

/**
 * Parses one WebSocket text message. A batch item that is not a valid request is replaced by its
 * error response, so the batch's answers stay in the order of its requests.
 */
export function parseMessage(text: string): ParsedMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'invalid', response: errorResponse(null, new RpcError(RpcErrorCodes.parseError, 'parse error: the message is not JSON')) };
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return { kind: 'invalid', response: errorResponse(null, new RpcError(RpcErrorCodes.invalidRequest, 'invalid request: an empty batch')) };
    return { kind: 'batch', items: value.map((item) => validateRequest(item)) };
  }
  const checked = validateRequest(value);
  return 'method' in checked ? { kind: 'single', request: checked } : { kind: 'invalid', response: checked };
}

function validateRequest(value: unknown): JsonRpcRequest | JsonRpcResponse {
  const fail = (id: JsonRpcId, why: string) => errorResponse(id, new RpcError(RpcErrorCodes.invalidRequest, `invalid request: ${why}`));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(null, 'not an object');
  const v = value as Record<string, unknown>;
  const id = v.id;
  const idValid = id === undefined || id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
  const answerId: JsonRpcId = idValid && id !== undefined ? (id as JsonRpcId) : null;
  if (!idValid) return fail(null, 'id must be a string, a number or null');
  if (v.jsonrpc !== '2.0') return fail(answerId, 'jsonrpc must be "2.0"');
  if (typeof v.method !== 'string' || v.method.length === 0) return fail(answerId, 'method must be a non-empty string');
  if (v.params !== undefined && (v.params === null || typeof v.params !== 'object')) return fail(answerId, 'params must be an object or an array');
  return v as unknown as JsonRpcRequest;
}

export function isNotification(request: JsonRpcRequest): boolean {
  return !('id' in request) || request.id === undefined;
}
