/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl for TLS tests. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { tempDir } from './testSite.ts';

export const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Suites that need it run unless openssl is missing on a machine that does not require everything. */
export const skipWithoutOpenssl = !hasOpenssl && process.env.POSTERN_TEST_REQUIRE_ALL !== '1';

export async function makeTestCertificate(): Promise<{ cert: string; key: string }> {
  const dir = await tempDir('postern-tls-');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
