/**
 * Checks of option values that commander leaves to the command: required options (with the message
 * `missing --NAME`), whole numbers, lists and times. A failed check is a UsageError (exit status 2).
 */
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { MAX_SEARCH_CHARS } from '../store/storeTypes.ts';
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

/** --search: text of a name (or an id, or an email); at most MAX_SEARCH_CHARS. */
export function searchFlag(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value.trim() : '';
  if (text === '' || text.length > MAX_SEARCH_CHARS) throw new UsageError(`--search is the text to look for, 1 to ${MAX_SEARCH_CHARS} characters`);
  return text;
}

/** --scope: a scope of the site file by id, or by its name in any letter case. */
export function scopeFlag(value: unknown, scopes: ReadonlyArray<{ id: number; name: string }>): number | undefined {
  if (typeof value === 'string' && !/^\d+$/.test(value)) {
    const named = scopes.filter((s) => s.name.toLowerCase() === value.trim().toLowerCase());
    if (named.length === 1) return named[0]!.id;
    const known = scopes.map((s) => `${s.id} (${s.name})`).join(', ') || 'none';
    throw new UsageError(`--scope "${value}" is ${named.length > 1 ? 'the name of more than one scope: give its id' : 'no scope of this site'}; this site has ${known}`);
  }
  return intFlag(value, 'scope');
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
