/**
 * Password hashes: scrypt from node:crypto, always the asynchronous form (it runs on libuv's thread
 * pool; scryptSync would stop the event loop, and every door with it, for tens of milliseconds).
 *
 * A hash is stored as a self-describing string, `scrypt$N$r$p$saltB64$hashB64` (standard base64),
 * so that the parameters can be raised later: a stored hash is verified with its own parameters.
 *
 * Passwords are normalized to Unicode NFKC first (NIST SP 800-63B, 5.1.1.2), so that the same
 * password typed on two keyboards gives the same hash.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCallback) as (
  password: string | Buffer,
  salt: Buffer,
  keyLength: number,
  options: ScryptOptions,
) => Promise<Buffer>;

export interface ScryptParameters {
  N: number;
  r: number;
  p: number;
}

/** The parameters of new hashes: 32 MiB and about 50-100 ms per hash on a small server. */
export const SCRYPT_PARAMETERS: Readonly<ScryptParameters> = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Bounds for parameters read back from the store, so that a doctored row cannot exhaust memory. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

/**
 * scrypt needs about 128 * r * (N + p + 2) bytes; Node's default limit (32 MiB) is just below
 * what N = 2^15, r = 8 needs, so every call sets its own limit with room to spare.
 */
function maxmem({ N, r, p }: ScryptParameters): number {
  return 128 * r * (N + p + 2) + 16 * 1024 * 1024;
}

function derive(password: string, salt: Buffer, keyLength: number, parameters: ScryptParameters): Promise<Buffer> {
  return scrypt(password.normalize('NFKC'), salt, keyLength, { ...parameters, maxmem: maxmem(parameters) });
}

export async function hashPassword(password: string, parameters: ScryptParameters = SCRYPT_PARAMETERS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, parameters);
  return `scrypt$${parameters.N}$${parameters.r}$${parameters.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface ParsedHash extends ScryptParameters {
  salt: Buffer;
  key: Buffer;
}

const BASE64 = '[A-Za-z0-9+/]+={0,2}';
const HASH_FORMAT = new RegExp(`^scrypt\\$(\\d{1,8})\\$(\\d{1,3})\\$(\\d{1,3})\\$(${BASE64})\\$(${BASE64})$`);

/** The parts of a stored hash, or undefined when it is not one this version can verify. */
export function parsePasswordHash(encoded: string): ParsedHash | undefined {
  const match = HASH_FORMAT.exec(encoded);
  if (match === null) return undefined;
  const [N, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const salt = Buffer.from(match[4]!, 'base64');
  const key = Buffer.from(match[5]!, 'base64');
  const powerOfTwo = N >= 2 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > MAX_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P) return undefined;
  if (salt.length < 8 || key.length < 16 || key.length > 128) return undefined;
  return { N, r, p, salt, key };
}

/**
 * Whether the password matches the stored hash, compared in constant time. A hash that cannot be
 * parsed is false, after the same work as a real check.
 */
export async function verifyPasswordHash(password: string, encoded: string): Promise<boolean> {
  const parsed = parsePasswordHash(encoded);
  if (parsed === undefined) {
    await spendDummyHash(password);
    return false;
  }
  const key = await derive(password, parsed.salt, parsed.key.length, parsed);
  return timingSafeEqual(key, parsed.key);
}

const dummySalt = randomBytes(SALT_BYTES);
const dummyKey = randomBytes(KEY_BYTES);

/** One hash with today's parameters and nothing to find: the time a real check takes. */
export async function spendDummyHash(password: string): Promise<void> {
  const key = await derive(password, dummySalt, KEY_BYTES, SCRYPT_PARAMETERS);
  timingSafeEqual(key, dummyKey);
}

