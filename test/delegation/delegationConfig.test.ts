/** The `delegation` blocks of the site file: defaults, limits, overrides, and errors that never show a secret. */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { SiteConfigInput } from '../../controller/config/configSchema.ts';
import { loadConfig, validateConfig } from '../../controller/config/loadConfig.ts';
import { DelegationRouter } from '../../controller/delegation/delegationRouter.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

const SECRET = 'site-webhook-secret-0123456789abcdef';

function site(patch: (input: SiteConfigInput) => void): SiteConfigInput {
  const input = testSiteInput('/tmp/postern-delegation-config');
  patch(input);
  return input;
}

function problems(patch: (input: SiteConfigInput) => void): Array<{ path: string; message: string }> {
  try {
    validateConfig(site(patch));
  } catch (error) {
    expect((error as Error).message).not.toContain('short-secret');
    expect((error as Error).message).not.toContain(SECRET);
    return (error as { details: Array<{ path: string; message: string }> }).details;
  }
  throw new Error('the site file was accepted');
}

describe('delegation in the site file', () => {
  it('has defaults: every scanner, 1.5 s, enabled', () => {
    const config = validateConfig(site((i) => (i.delegation = { url: 'https://tickets.example.org/postern', secret: SECRET })));
    expect(config.delegation).toEqual({ enabled: true, url: 'https://tickets.example.org/postern', secret: SECRET, timeoutMs: 1500, scanners: 'all' });
    const router = DelegationRouter.fromConfig(config);
    expect(['front-in', 'lab-in', 'store-in'].map((s) => router.targetFor(s)?.timeoutMs)).toEqual([1500, 1500, 1500]);
    expect(router.targetFor('front-in')?.url.href).toBe('https://tickets.example.org/postern');
  });

  it('takes no site without delegation, and then no scanner delegates', () => {
    const config = validateConfig(site(() => undefined));
    expect(config.delegation).toBeUndefined();
    expect(DelegationRouter.fromConfig(config).size).toBe(0);
  });

  it('refuses a timeout over 5 s, a short secret, a non-HTTP URL, an unknown scanner, and both or neither secret source', () => {
    expect(problems((i) => (i.delegation = { url: 'ftp://tickets.example.org', secret: 'short-secret', timeoutMs: 5001, scanners: ['front-in', 'nope'] }))).toEqual([
      { path: 'delegation.url', message: 'must be an http:// or https:// URL' },
      { path: 'delegation.secret', message: 'must be at least 32 characters' },
      { path: 'delegation.timeoutMs', message: expect.stringContaining('5000') },
      { path: 'delegation.scanners.1', message: 'no scanner "nope"' },
    ]);
    expect(problems((i) => (i.delegation = { url: 'http://127.0.0.1:9000/', secret: SECRET, secretEnv: 'HOOK_SECRET' }))).toEqual([{ path: 'delegation.secretEnv', message: 'give secret or secretEnv, not both' }]);
    expect(problems((i) => (i.delegation = { url: 'http://127.0.0.1:9000/' }))[0]).toMatchObject({ path: 'delegation.secret' });
    expect(validateConfig(site((i) => (i.delegation = { url: 'http://127.0.0.1:9000/', secret: SECRET, timeoutMs: 5000 }))).delegation?.timeoutMs).toBe(5000);
  });

  it('checks overrides: a url goes with its secret, and delegation that is on needs a url somewhere', () => {
    expect(
      problems((i) => {
        i.doors![0]!.delegation = { url: 'https://door.example.org/' };
        i.scanners![1]!.delegation = { secret: 'short-secret-but-the-rule-is-first' };
      }),
    ).toEqual(
      expect.arrayContaining([
        { path: 'doors.0.delegation.secret', message: expect.stringContaining('give secret or secretEnv') },
        { path: 'scanners.1.delegation.url', message: 'a secret goes with its url: give the url too' },
      ]),
    );
    expect(problems((i) => (i.doors![2]!.delegation = { timeoutMs: 900 }))).toEqual([
      { path: 'doors.2.delegation', message: expect.stringContaining('no url is given') },
    ]);
    expect(problems((i) => (i.scanners![0]!.delegation = true))).toEqual([{ path: 'scanners.0.delegation', message: expect.stringContaining('no url is given') }]);
    // Switching off needs no url.
    expect(() => validateConfig(site((i) => (i.scanners![0]!.delegation = false)))).not.toThrow();
  });

  it('resolves each scanner: scanner over door over site, false and enabled: false switch off', () => {
    const config = validateConfig(
      site((i) => {
        i.delegation = { url: 'https://site.example.org/', secret: SECRET, timeoutMs: 1200, scanners: ['front-in'] };
        i.doors![1]!.delegation = { timeoutMs: 700 }; // lab: on, the site's webhook, its own timeout
        i.doors![2]!.delegation = { url: 'https://store.example.org/', secretEnv: 'STORE_HOOK_SECRET' };
        i.scanners![0]!.delegation = { enabled: false };
      }),
    );
    const router = DelegationRouter.fromConfig(config, { STORE_HOOK_SECRET: 'store-webhook-secret-0123456789abcdef' });
    expect(router.targetFor('front-in')).toBeUndefined();
    expect(router.targetFor('lab-in')).toMatchObject({ timeoutMs: 700, url: new URL('https://site.example.org/') });
    expect(router.targetFor('store-in')).toMatchObject({ timeoutMs: 1200, url: new URL('https://store.example.org/') });
    expect(router.targetFor('store-in')!.secret.toString()).toBe('store-webhook-secret-0123456789abcdef');
    expect(() => DelegationRouter.fromConfig(config, {})).toThrow(/STORE_HOOK_SECRET is not set/);
  });

  it('reads the same blocks from a YAML site file', async () => {
    const dir = await tempDir('postern-delegation-yaml-');
    const file = path.join(dir, 'site.yaml');
    const input = site((i) => {
      i.dataDir = './data';
      i.delegation = { url: 'https://tickets.example.org/hook', secretEnv: 'TICKETS_HOOK_SECRET', scanners: ['lab-in', 'store-in'] };
      i.doors![2]!.delegation = false;
    });
    await writeFile(file, stringify(input));
    const config = loadConfig(file);
    const router = DelegationRouter.fromConfig(config, { TICKETS_HOOK_SECRET: SECRET });
    expect([router.targetFor('front-in'), router.targetFor('store-in')]).toEqual([undefined, undefined]);
    expect(router.targetFor('lab-in')?.timeoutMs).toBe(1500);
  });

  it('accepts the example of docs/configuration.md, and it means what the text says', () => {
    const markdown = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const example = /```yaml\n(delegation:[\s\S]*?)```/.exec(markdown)![1]!;
    const config = validateConfig({ site: { id: 'hq', name: 'HQ' }, ...parse(example) });
    const router = DelegationRouter.fromConfig(config, { TICKETS_WEBHOOK_SECRET: SECRET, EVENTS_WEBHOOK_SECRET: SECRET.toUpperCase() });
    const target = (id: string) => router.targetFor(id) && { url: router.targetFor(id)!.url.href, timeoutMs: router.targetFor(id)!.timeoutMs };
    expect(Object.fromEntries(config.scanners.map((s) => [s.id, target(s.id)]))).toEqual({
      'front-in': { url: 'https://tickets.example.org/postern', timeoutMs: 1500 },
      'front-cam': { url: 'https://tickets.example.org/postern', timeoutMs: 800 },
      'lab-in': undefined,
      'hall-in': { url: 'https://events.example.com/hooks/postern', timeoutMs: 1500 },
    });
  });
});
