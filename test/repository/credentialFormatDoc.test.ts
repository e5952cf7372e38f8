/**
 * docs/credential-format.md cannot drift from the fixture or the code: its worked examples are
 * recomputed from the vectors' keys, its table of cases is the fixture's cases, and the limits it
 * states are the code's own constants.
 */
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { base32Decode } from '../../controller/credentials/base32.ts';
import { MAX_SCAN_TEXT, ROTATION_PERIOD_SECONDS, derivePartnerRotatingKey } from '../../controller/credentials/credentialCodec.ts';
import { validateConfig } from '../../controller/config/loadConfig.ts';
import { testSiteInput } from '../support/testSite.ts';
import { vectors } from '../support/vectors.ts';

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));
const page = readFileSync(path.join(DOCS, 'credential-format.md'), 'utf8');
const spaced = (bytes: Buffer) => bytes.toString('hex').replace(/(..)(?!$)/g, '$1 ');

function keyOf(v: (typeof vectors.vectors)[number]): Buffer {
  if (v.issuer === 0) return Buffer.from(v.kind === 'rotating' ? vectors.credential_9001_secret : vectors.site_key, 'hex');
  const secret = Buffer.from(vectors.partner_17_secret, 'hex');
  return v.kind === 'rotating' ? derivePartnerRotatingKey(secret, BigInt(v.subject)) : secret;
}

describe('docs/credential-format.md', () => {
  it('links to the fixture it describes, inside the repository', () => {
    const links = [...page.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1]!);
    expect(links).toContain('../test/fixtures/credential-vectors.json');
    for (const link of links) expect(existsSync(path.resolve(DOCS, link)), link).toBe(true);
  });

  it('works every vector: its signed bytes, its HMAC and its code, as the keys give them', () => {
    for (const v of vectors.vectors) {
      const bytes = base32Decode(v.code.slice(3))!;
      const signed = bytes.subarray(0, 24);
      const hmac = createHmac('sha256', keyOf(v)).update(signed).digest();
      expect(hmac.subarray(0, 16).equals(bytes.subarray(24)), v.name).toBe(true);
      expect(page, v.name).toContain(`"${v.name}"`);
      expect(page, v.name).toContain(spaced(signed));
      expect(page, v.name).toContain(hmac.toString('hex'));
      expect(page, v.name).toMatch(new RegExp(`(^    |code: +)${v.code.replace('.', '\\.')}$`, 'm'));
      if (v.derived_secret) expect(page, v.name).toContain(`\n    ${v.derived_secret}\n`);
    }
    for (const key of [vectors.site_key, vectors.partner_17_secret, vectors.credential_9001_secret]) expect(page).toContain(` ${key}\n`);
  });

  it('lists every case of the fixture with its door, time and verdict, in order', () => {
    const rows = [...page.matchAll(/^\| (\d+) \| [^|]+ \| (\w+) \| (\d+) \| `([\w-]+)` \|/gm)].map((m) => ({ n: Number(m[1]), door: m[2], now: Number(m[3]), verdict: m[4] }));
    expect(rows).toEqual(vectors.cases.map((c, i) => ({ n: i + 1, door: c.door, now: c.now, verdict: c.verdict })));
  });

  it('states the limits the code applies, and the throttle a site file gets by default', () => {
    expect(page).toContain(`Text longer than ${MAX_SCAN_TEXT} characters`);
    expect(page).toContain(`floor(unix seconds / ${ROTATION_PERIOD_SECONDS})`);
    const { throttle: _, ...withoutThrottle } = testSiteInput(tmpdir());
    const t = validateConfig(withoutThrottle).throttle;
    expect(page.replace(/\s+/g, ' ')).toContain(
      `${t.maxFailures} denials within ${t.windowSeconds} s lock the scanner out for ${t.lockoutSeconds} s, doubled for each lockout that starts within ${t.windowSeconds} s of the end of the last, up to ${t.maxLockoutSeconds} s`,
    );
  });
});
