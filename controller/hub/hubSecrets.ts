/**
 * The hub's two secrets and their hashes. Enrolment codes are short, typed by a person
 * (`ABCD-EFGH-JKLM-NPQR`, 16 symbols of the 32 letters and digits without 0/O and 1/I: 80 bits);
 * credentials are long, kept by a controller (`pc_<controllerId>_<32 random bytes, base64url>`:
 * the id tells the hub which row to compare with, without a search by hash). The hub keeps only
 * sha256 hex of either.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// 32 symbols, so that byte % 32 picks one without bias.
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const CODE_GROUPS = 4;
const CODE_GROUP_LENGTH = 4;

/** How long an enrolment code works. */
export const ENROLMENT_CODE_TTL_MS = 24 * 60 * 60 * 1000;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function newEnrolmentCode(): string {
  const bytes = randomBytes(CODE_GROUPS * CODE_GROUP_LENGTH);
  const letters = [...bytes].map((b) => CODE_ALPHABET[b % 32]!);
  const groups: string[] = [];
  for (let i = 0; i < CODE_GROUPS; i++) groups.push(letters.slice(i * CODE_GROUP_LENGTH, (i + 1) * CODE_GROUP_LENGTH).join(''));
  return groups.join('-');
}

/** The code as it is hashed: upper case, without spaces; anything that cannot be a code is undefined. */
export function normaliseEnrolmentCode(text: unknown): string | undefined {
  if (typeof text !== 'string' || text.length > 64) return undefined;
  const code = text.trim().toUpperCase();
  return /^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/.test(code) ? code : undefined;
}

/** Controller ids never hold `_`: a credential's id ends at its second `_`. */
export function newControllerId(): string {
  return `ctl-${randomBytes(6).toString('hex')}`;
}

export function newCredential(controllerId: string): string {
  return `pc_${controllerId}_${randomBytes(32).toString('base64url')}`;
}

const CREDENTIAL_PATTERN = /^pc_([a-z0-9-]{1,64})_([A-Za-z0-9_-]{43})$/;

/** The controller id a credential names, or undefined for text that is no credential. */
export function credentialControllerId(credential: string): string | undefined {
  return CREDENTIAL_PATTERN.exec(credential)?.[1];
}

/** Account ids never hold `_` either: an API token's id ends at its second `_`. */
export function newAccountId(): string {
  return `acc-${randomBytes(6).toString('hex')}`;
}

/** A token of the hub's API (hubAccounts.ts): `ph_<accountId>_<32 random bytes, base64url>`, shown once. */
export function newAccountToken(accountId: string): string {
  return `ph_${accountId}_${randomBytes(32).toString('base64url')}`;
}

const ACCOUNT_TOKEN_PATTERN = /^ph_([a-z0-9-]{1,64})_([A-Za-z0-9_-]{43})$/;

/** The account id an API token names, or undefined for text that is no token. */
export function accountTokenId(token: string): string | undefined {
  return ACCOUNT_TOKEN_PATTERN.exec(token)?.[1];
}

/** Whether the credential (or API token: any of the hub's long secrets) hashes to the stored sha256 hex, in time that does not depend on where they differ. */
export function credentialMatches(credential: string, storedHash: string | null): boolean {
  if (storedHash === null) return false;
  const given = Buffer.from(sha256Hex(credential), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return stored.length === given.length && timingSafeEqual(given, stored);
}
