/**
 * Checks of option values that commander leaves to the command: required options (with the message
 * `missing --NAME`), whole numbers, lists and times. A failed check is a UsageError (exit status 2).
 */
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { UsageError } from './cliErrors.ts';

/** Every command's option: the site file. */
export interface SiteOptions {
  config?: string;
}

/** The option of every command that opens the store: it may make an empty one. */
export interface StoreOptions extends SiteOptions {
  create?: boolean;
}

export function requireString(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`missing --${flag}`);
  return value;
}

export function intFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError(`--${flag} must be a whole number, not "${String(value)}"`);
  return n;
}

export function intList(value: unknown, flag: string): number[] | undefined {
  if (value === undefined) return undefined;
  return String(value)
    .split(',')
    .map((part) => intFlag(part.trim(), flag)!);
}

/**
 * A time for --from/--until: an ISO 8601 date or date-time, unix seconds, or an offset from now
 * such as +30m, +8h, +7d. Returns unix seconds.
 */
export function parseTime(value: string, flag: string, nowMs: number): number {
  const offset = /^\+(\d+)([smhd])$/.exec(value);
  if (offset) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[offset[2] as 's' | 'm' | 'h' | 'd'];
    return Math.floor(nowMs / 1000) + Number(offset[1]) * unit;
  }
  if (/^\d{9,10}$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `--${flag}: "${value}" is not a time (use e.g. 2026-12-01T09:00, +8h or unix seconds)`);
  }
  return Math.floor(ms / 1000);
}

/** How a command opens the store, from its options: an empty store is made only with --create. */
export function opening(values: StoreOptions): { create: boolean } {
  return { create: values.create === true };
}
