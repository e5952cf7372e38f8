/**
 * The Postern QR credential, version 1 (docs/credential-format.md): text form and the 40
 * bytes behind it. Pure and synchronous: it runs on every scan.
 */
import { createHmac } from 'node:crypto';
import { base32Decode, base32Encode } from './base32.ts';

export const CODE_PREFIX = 'P1.';
export const CODE_BYTES = 40;
export const SIGNED_BYTES = 24;
export const MAC_BYTES = 16;
export const NO_END = 0xffffffff;
export const ROTATION_PERIOD_SECONDS = 15;
/** Longest scan text looked at: a code with generous white space. Longer input is never parsed. */
export const MAX_SCAN_TEXT = 256;

export const CredentialKind = { link: 0x01, rotating: 0x02, onlineLink: 0x03 } as const;
export type CredentialKindName = 'link' | 'rotating' | 'online-link';

const KIND_NAMES: Record<number, CredentialKindName> = { 1: 'link', 2: 'rotating', 3: 'online-link' };

export interface CredentialFields {
  kind: CredentialKindName;
  issuer: number; // 0 = site, 1..65535 = partner
  subject: bigint; // unsigned 64-bit
  /** kinds link/online-link: not-before; rotating: the time step. */
  a: number;
  /** kinds link/online-link: not-after; rotating: 0. */
  b: number;
  scope: number;
}

export interface DecodedCredential extends CredentialFields {
  /** bytes 0..23, what the MAC covers */
  signed: Buffer;
  mac: Buffer;
}

/**
 * Parses scan text into a credential, or undefined when it is not a Postern code (which then goes
 * to delegation or is denied `unknown-format`).
 */
export function decodeCredential(text: string): DecodedCredential | undefined {
  if (text.length > MAX_SCAN_TEXT) return undefined;
  const trimmed = text.trim();
  if (trimmed.length < 3 || trimmed.slice(0, 3).toUpperCase() !== CODE_PREFIX) return undefined;
  const bytes = base32Decode(trimmed.slice(3));
  if (bytes === undefined || bytes.length !== CODE_BYTES || bytes[0] !== 0x01) return undefined;
  const kind = KIND_NAMES[bytes[1]!];
  if (kind === undefined) return undefined;
  return {
    kind,
    issuer: bytes.readUInt16BE(2),
    subject: bytes.readBigUInt64BE(4),
    a: bytes.readUInt32BE(12),
    b: bytes.readUInt32BE(16),
    scope: bytes.readUInt32BE(20),
    signed: bytes.subarray(0, SIGNED_BYTES),
    mac: bytes.subarray(SIGNED_BYTES, CODE_BYTES),
  };
}

export function signedBytes(fields: CredentialFields): Buffer {
  const bytes = Buffer.alloc(SIGNED_BYTES);
  bytes[0] = 0x01;
  bytes[1] = kindByte(fields.kind);
  bytes.writeUInt16BE(fields.issuer, 2);
  bytes.writeBigUInt64BE(fields.subject, 4);
  bytes.writeUInt32BE(fields.a, 12);
  bytes.writeUInt32BE(fields.b, 16);
  bytes.writeUInt32BE(fields.scope, 20);
  return bytes;
}

export function computeMac(key: Uint8Array, signed: Uint8Array): Buffer {
  return createHmac('sha256', key).update(signed).digest().subarray(0, MAC_BYTES);
}

export function encodeCredential(fields: CredentialFields, key: Uint8Array): string {
  const signed = signedBytes(fields);
  return CODE_PREFIX + base32Encode(Buffer.concat([signed, computeMac(key, signed)]));
}

/** The key of a partner's rotating credential, derived so partners need no call to Postern. */
export function derivePartnerRotatingKey(partnerSecret: Uint8Array, subject: bigint): Buffer {
  const subjectBytes = Buffer.alloc(8);
  subjectBytes.writeBigUInt64BE(subject);
  return createHmac('sha256', partnerSecret)
    .update('postern/rotating/v1')
    .update(subjectBytes)
    .digest();
}

export function timeStep(unixSeconds: number): number {
  return Math.floor(unixSeconds / ROTATION_PERIOD_SECONDS);
}

/** Text that is safe to log for a scan: never the full code, which would be a usable credential. */
export function redactScan(text: string): string {
  const trimmed = text.slice(0, MAX_SCAN_TEXT).trim();
  if (trimmed.length <= 8) return `[${trimmed.length} chars]`;
  return `${trimmed.slice(0, 6).replace(/[^\x20-\x7e]/g, '?')}…[${text.length} chars]`;
}

function kindByte(kind: CredentialKindName): number {
  return kind === 'link' ? CredentialKind.link : kind === 'rotating' ? CredentialKind.rotating : CredentialKind.onlineLink;
}
