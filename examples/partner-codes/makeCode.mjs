#!/usr/bin/env node
// Makes Postern QR codes (credential format version 1) with a shared secret. Node.js 18 or later,
// no package. Usage:
//
//   node makeCode.mjs link        ISSUER SECRET_HEX SUBJECT SCOPE NOT_BEFORE NOT_AFTER|never
//   node makeCode.mjs online-link ISSUER SECRET_HEX SUBJECT SCOPE NOT_BEFORE NOT_AFTER|never
//   node makeCode.mjs rotating    ISSUER SECRET_HEX SUBJECT SCOPE [UNIX_TIME]
//   node makeCode.mjs rotating-key SECRET_HEX SUBJECT
//
// Times are unix seconds. For a partner, ISSUER is its partner id and SECRET_HEX its shared
// secret. A rotating code of issuer 0 is a site badge: SECRET_HEX is then that badge's own secret.
import { createHmac } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const KINDS = { link: 0x01, rotating: 0x02, 'online-link': 0x03 };
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const NO_END = 0xffffffff;
export const PERIOD_SECONDS = 15;

/** RFC 4648 base32, upper case, no padding. */
export function base32(bytes) {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** The 24 signed bytes, their MAC (16 bytes), and the text: "P1." and 64 base32 characters. */
export function makeCode(key, { kind, issuer, subject, a, b, scope }) {
  const body = Buffer.alloc(24);
  body[0] = 0x01; // version
  body[1] = KINDS[kind];
  body.writeUInt16BE(issuer, 2);
  body.writeBigUInt64BE(BigInt(subject), 4);
  body.writeUInt32BE(a, 12);
  body.writeUInt32BE(b, 16);
  body.writeUInt32BE(scope, 20);
  const mac = createHmac('sha256', key).update(body).digest().subarray(0, 16);
  return 'P1.' + base32(Buffer.concat([body, mac]));
}

/** The key of a partner's rotating credential: HMAC-SHA256(secret, "postern/rotating/v1" || subject). */
export function rotatingKey(partnerSecret, subject) {
  const subjectBytes = Buffer.alloc(8);
  subjectBytes.writeBigUInt64BE(BigInt(subject));
  return createHmac('sha256', partnerSecret).update('postern/rotating/v1').update(subjectBytes).digest();
}

/** A link: valid from notBefore to notAfter (unix seconds; NO_END for no end). */
export function makeLink(secret, issuer, subject, scope, notBefore, notAfter = NO_END, onlineOnly = false) {
  return makeCode(secret, { kind: onlineOnly ? 'online-link' : 'link', issuer, subject, a: notBefore, b: notAfter, scope });
}

/** The rotating code of the 15-second step that holds `unixSeconds`. */
export function makeRotating(secret, issuer, subject, scope, unixSeconds = Date.now() / 1000) {
  const key = issuer === 0 ? secret : rotatingKey(secret, subject);
  return makeCode(key, { kind: 'rotating', issuer, subject, a: Math.floor(unixSeconds / PERIOD_SECONDS), b: 0, scope });
}

function main(args) {
  const [command, ...rest] = args;
  if (command === 'rotating-key' && rest.length === 2) {
    return rotatingKey(Buffer.from(rest[0], 'hex'), rest[1]).toString('hex');
  }
  const [issuer, secretHex, subject, scope, ...times] = rest;
  const secret = Buffer.from(secretHex ?? '', 'hex');
  if ((command === 'link' || command === 'online-link') && times.length === 2) {
    const notAfter = times[1] === 'never' ? NO_END : Number(times[1]);
    return makeLink(secret, Number(issuer), subject, Number(scope), Number(times[0]), notAfter, command === 'online-link');
  }
  if (command === 'rotating' && times.length <= 1) {
    const now = times.length === 1 ? Number(times[0]) : Date.now() / 1000;
    return makeRotating(secret, Number(issuer), subject, Number(scope), now);
  }
  return undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const output = main(process.argv.slice(2));
  if (output === undefined) {
    console.error('usage: node makeCode.mjs link|online-link ISSUER SECRET_HEX SUBJECT SCOPE NOT_BEFORE NOT_AFTER|never');
    console.error('       node makeCode.mjs rotating ISSUER SECRET_HEX SUBJECT SCOPE [UNIX_TIME]');
    console.error('       node makeCode.mjs rotating-key SECRET_HEX SUBJECT');
    process.exit(2);
  }
  console.log(output);
}
