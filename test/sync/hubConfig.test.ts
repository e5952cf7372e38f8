/**
 * The site file's `hub` section and what is derived from it: the /sync URL from any of the four
 * schemes, the credential file's default and relative paths, and refusals that name the setting.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig, validateConfig } from '../../controller/config/loadConfig.ts';
import { secretFilesOf } from '../../controller/secureFiles.ts';
import { hubCredentialFile, hubHttpBase, hubSyncUrl, readHubCredential, shownHubUrl } from '../../controller/sync/hubAddress.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

describe('hub section', () => {
  it('is optional: without it the site is standalone', () => {
    expect(validateConfig(testSiteInput('/tmp/x')).hub).toBeUndefined();
  });

  it('derives the /sync WebSocket URL and the HTTP base from http(s) and ws(s) URLs', () => {
    expect(hubSyncUrl('https://hub.example:8450')).toBe('wss://hub.example:8450/sync');
    expect(hubSyncUrl('http://hub.example/')).toBe('ws://hub.example/sync');
    expect(hubSyncUrl('https://hub.example/postern')).toBe('wss://hub.example/postern/sync');
    expect(hubSyncUrl('wss://hub.example:8450')).toBe('wss://hub.example:8450/sync');
    expect(hubSyncUrl('ws://hub.example/custom/sync')).toBe('ws://hub.example/custom/sync');
    expect(hubHttpBase('wss://hub.example:8450/sync').toString()).toBe('https://hub.example:8450/');
    expect(new URL('enrol', hubHttpBase('https://hub.example/postern')).toString()).toBe('https://hub.example/postern/enrol');
    expect(shownHubUrl('wss://hub.example/sync?token=abc')).toBe('wss://hub.example/sync');
  });

  it('refuses other schemes and a URL with a user or password, naming hub.url', () => {
    for (const url of ['ftp://hub.example', 'hub.example:8450', 'https://user:secret@hub.example']) {
      const input = { ...testSiteInput('/tmp/x'), hub: { url } };
      expect(() => validateConfig(input)).toThrow(/hub\.url/);
    }
    expect(() => validateConfig({ ...testSiteInput('/tmp/x'), hub: { url: 'https://hub.example', credential: 'x' } })).toThrow(/hub/);
  });

  it('resolves credentialFile and caFile against the site file, and defaults the credential beside the store', async () => {
    const dir = await tempDir('postern-hubconfig-');
    const file = path.join(dir, 'site.yaml');
    await writeFile(file, stringify({ ...testSiteInput('./data'), hub: { url: 'https://hub.example', credentialFile: 'secret/hub.cred', caFile: 'ca.pem' } }));
    const config = loadConfig(file);
    expect(config.hub).toEqual({ url: 'https://hub.example', credentialFile: path.join(dir, 'secret/hub.cred'), caFile: path.join(dir, 'ca.pem') });
    expect(hubCredentialFile(config)).toBe(path.join(dir, 'secret/hub.cred'));
    await writeFile(file, stringify({ ...testSiteInput('./data'), hub: { url: 'https://hub.example' } }));
    expect(hubCredentialFile(loadConfig(file))).toBe(path.join(dir, 'data', 'hub-credential.test-site'));
  });

  it('reads the credential trimmed, and refuses a missing or empty file by its path, never its content', async () => {
    const dir = await tempDir('postern-hubcred-');
    const file = path.join(dir, 'cred');
    await writeFile(file, 'pstc_abc\n');
    expect(readHubCredential(file)).toBe('pstc_abc');
    await writeFile(file, 'two words\n');
    expect(() => readHubCredential(file)).toThrow(`hub.credentialFile ${file} does not hold one credential`);
    try {
      readHubCredential(file);
    } catch (error) {
      expect((error as Error).message).not.toContain('two words');
    }
    expect(() => readHubCredential(path.join(dir, 'none'))).toThrow(`hub.credentialFile ${path.join(dir, 'none')}: it does not exist (postern enrol writes it)`);
  });
});

describe('hub credential as a secret file', () => {
  it('is among the files `postern start` and `postern doctor` check for their mode', () => {
    const config = validateConfig({ ...testSiteInput('/tmp/site-x'), hub: { url: 'https://hub.example' } });
    expect(secretFilesOf(config)).toContainEqual({ path: '/tmp/site-x/hub-credential.test-site', setting: 'hub.credentialFile' });
    expect(secretFilesOf(validateConfig(testSiteInput('/tmp/site-x'))).some((f) => f.setting === 'hub.credentialFile')).toBe(false);
  });
});
