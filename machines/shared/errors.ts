/**
 * Every error Postern raises on purpose carries a stable code. Codes are part of the public
 * contract (CLI exit messages today, API error data later): never rename one, only add.
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'POSTERN_ERR_CONFIG_INVALID',
  CONFIG_UNREADABLE: 'POSTERN_ERR_CONFIG_UNREADABLE',
  STORE_UNAVAILABLE: 'POSTERN_ERR_STORE_UNAVAILABLE',
  STORE_READ_ONLY: 'POSTERN_ERR_STORE_READ_ONLY',
  STORE_CORRUPT: 'POSTERN_ERR_STORE_CORRUPT',
  STORE_WRITE_FAILED: 'POSTERN_ERR_STORE_WRITE_FAILED',
  NOT_FOUND: 'POSTERN_ERR_NOT_FOUND',
  INVALID_ARGUMENT: 'POSTERN_ERR_INVALID_ARGUMENT',
  CONFLICT: 'POSTERN_ERR_CONFLICT',
  DRIVER_FAILED: 'POSTERN_ERR_DRIVER_FAILED',
  AUDIT_CHAIN_BROKEN: 'POSTERN_ERR_AUDIT_CHAIN_BROKEN',
  CONTROLLER_UNREACHABLE: 'POSTERN_ERR_CONTROLLER_UNREACHABLE',
  REQUEST_FAILED: 'POSTERN_ERR_REQUEST_FAILED',
  FORBIDDEN: 'POSTERN_ERR_FORBIDDEN',
  RATE_LIMITED: 'POSTERN_ERR_RATE_LIMITED',
  EMAIL_FAILED: 'POSTERN_ERR_EMAIL_FAILED',
  STORE_IN_USE: 'POSTERN_ERR_STORE_IN_USE',
  /** The store was written by a newer Postern (a migration this code does not know): refused, never opened. */
  STORE_TOO_NEW: 'POSTERN_ERR_STORE_TOO_NEW',
  /** The hub's API (docs/hub-api.md): no token, or one that is unknown or revoked. */
  UNAUTHENTICATED: 'POSTERN_ERR_UNAUTHENTICATED',
  /** site.call: no controller of the site has a live link to this hub. */
  SITE_OFFLINE: 'POSTERN_ERR_SITE_OFFLINE',
  /** site.call: the site's controller did not answer in time (10 s). */
  SITE_TIMEOUT: 'POSTERN_ERR_SITE_TIMEOUT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class PosternError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PosternError';
    this.code = code;
    this.details = options.details;
  }
}

export function isPosternError(error: unknown, code?: ErrorCode): error is PosternError {
  return error instanceof PosternError && (code === undefined || error.code === code);
}
