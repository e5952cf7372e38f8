/**
 * docs/partners.md cannot drift: its programs are the files in examples/, verbatim; its worked
 * examples are recomputed here from the vectors; its command lines are the CLI's own usage.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PARTNER_USAGE } from '../../controller/cli/partnerCommands.ts';
import { base32Encode } from '../../controller/credentials/base32.ts';
import { MAX_WEBHOOK_RESPONSE_BYTES } from '../../controller/delegation/webhookClient.ts';
import { SIGNATURE_TOLERANCE_SECONDS } from '../../controller/delegation/webhookSignature.ts';
import { vectors } from '../support/vectors.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const guide = readFileSync(`${ROOT}docs/partners.md`, 'utf8');

/** Each `<!-- include: PATH -->` and the fenced block right after it. */
function includes(markdown: string): Array<{ path: string; block: string }> {
  const found: Array<{ path: string; block: string }> = [];
  const pattern = /<!-- include: (\S+) -->\n```\w*\n([\s\S]*?)^```$/gm;
  for (const match of markdown.matchAll(pattern)) found.push({ path: match[1]!, block: match[2]! });
  return found;
}

const hexBytes = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('docs/partners.md', () => {
  it('includes each example program verbatim', () => {
    const blocks = includes(guide);
    expect(blocks.map((b) => b.path).sort()).toEqual([
      'examples/partner-codes/makeCode.mjs',
      'examples/partner-codes/make_code.go',
      'examples/partner-codes/make_code.py',
      'examples/partner-webhook/ticketWebhook.mjs',
    ]);
    for (const { path, block } of blocks) expect(block, path).toBe(readFileSync(`${ROOT}${path}`, 'utf8'));
  });

  it('works the partner link vector byte by byte, correctly', () => {
    const v = vectors.vectors.find((x) => x.name === 'partner link')!;
    const secret = Buffer.from(vectors.partner_17_secret, 'hex');
    const signed = hexBytes('01 01 00 11 00 00 00 00 00 00 02 2b 69 55 b9 00 69 55 d5 20 00 00 00 03');
    expect(guide).toContain('    01 01 00 11 00 00 00 00 00 00 02 2b 69 55 b9 00 69 55 d5 20 00 00 00 03\n');
    const hmac = createHmac('sha256', secret).update(signed).digest();
    expect(guide).toContain(`    ${hmac.toString('hex')}\n`);
    const mac = hmac.subarray(0, 16);
    expect(guide).toContain(`\`${mac.toString('hex').replace(/(..)(?!$)/g, '$1 ')}\``);
    const whole = Buffer.concat([signed, mac]);
    for (let i = 0; i < 40; i += 5) {
      const group = whole.subarray(i, i + 5);
      expect(guide).toContain(`| \`${group.toString('hex').replace(/(..)(?!$)/g, '$1 ')}\` | \`${base32Encode(group)}\` |`);
    }
    expect(guide).toContain(`    ${v.code}\n`);
    expect('P1.' + base32Encode(whole)).toBe(v.code);
    expect(guide).toContain(`\`${vectors.partner_17_secret}\``);
  });

  it('works the partner rotating vector byte by byte, correctly', () => {
    const v = vectors.vectors.find((x) => x.name === 'partner rotating')!;
    const secret = Buffer.from(vectors.partner_17_secret, 'hex');
    const keyInput = Buffer.concat([Buffer.from('postern/rotating/v1'), hexBytes('00 00 00 00 00 00 03 09')]);
    expect(guide).toContain(`    ${keyInput.subarray(0, 19).toString('hex').replace(/(..)(?!$)/g, '$1 ')}  00 00 00 00 00 00 03 09\n`);
    const key = createHmac('sha256', secret).update(keyInput).digest();
    expect(key.toString('hex')).toBe(v.derived_secret);
    expect(guide).toContain(`key: ${v.derived_secret}`);
    expect(guide).toContain(`floor(${v.generated_at} / 15) = ${v.step} = \`07 05 b7 42\``);
    const signed = hexBytes('01 02 00 11 00 00 00 00 00 00 03 09 07 05 b7 42 00 00 00 00 00 00 00 00');
    const hmac = createHmac('sha256', key).update(signed).digest();
    expect(guide).toContain(`\`${hmac.toString('hex')}\``);
    expect('P1.' + base32Encode(Buffer.concat([signed, hmac.subarray(0, 16)]))).toBe(v.code);
    expect(guide).toContain(`    ${v.code}\n`);
  });

  it('gives the partner commands as the CLI itself states them', () => {
    for (const line of PARTNER_USAGE.split('\n')) expect(guide).toContain(`    ${line}\n`);
  });

  it('states the limits the controller applies, and every reason and detail it records', () => {
    expect(guide).toContain(`within **${SIGNATURE_TOLERANCE_SECONDS} seconds**`);
    expect(guide).toContain(`a body over ${MAX_WEBHOOK_RESPONSE_BYTES / 1024} KiB`);
    for (const word of ['delegate-denied', 'delegate-timeout', 'delegate-error', 'non-2xx <status>', 'redirect', 'unsigned', 'bad-signature', 'stale', 'nonce-mismatch', 'malformed', 'too-large', 'unreachable']) {
      expect(guide).toContain(`\`${word}\``);
    }
  });
});
