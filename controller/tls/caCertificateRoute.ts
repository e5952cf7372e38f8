/**
 * GET /ca.crt: the certificate of the site's CA, so that a kiosk tablet can install it from the
 * controller itself instead of from a file carried over. It is the `ca.crt` that `postern tls
 * create` wrote beside the api.tls certificate; only a CA certificate is ever served from there
 * (public by nature), never a key. The first download comes over a connection the tablet does not
 * trust yet, which is why the installer compares the fingerprint the tablet shows with the one
 * `postern tls show` prints (docs/drivers.md, "HTTPS for a kiosk tablet").
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { HttpRoute } from '../api/apiServer.ts';
import { FILE_NAMES } from './siteCertificateTerms.ts';

export const CA_CERTIFICATE_PATH = '/ca.crt';

/** The route for the CA beside `certFile` (api.tls.cert); read at each request, so a new CA is served at once. */
export function caCertificateRoute(certFile: string): HttpRoute {
  const caFile = path.join(path.dirname(certFile), FILE_NAMES.caCert);
  return {
    path: CA_CERTIFICATE_PATH,
    handle: async (req, res) => {
      const notHere = (status: number, text: string) => {
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
        res.end(text);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') return notHere(405, 'GET only\n');
      const pem = await readFile(caFile, 'utf8').catch(() => undefined);
      let ca = false;
      try {
        ca = pem !== undefined && new X509Certificate(pem).ca;
      } catch {
        // Not a certificate: nothing is served.
      }
      if (!ca) return notHere(404, `no site CA certificate: \`postern tls create\` makes one beside api.tls.cert\n`);
      res.writeHead(200, {
        // The type Android and iPadOS offer to install as a CA.
        'content-type': 'application/x-x509-ca-cert',
        'content-disposition': 'attachment; filename="postern-site-ca.crt"',
        'content-length': String(Buffer.byteLength(pem!)),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : pem);
    },
  };
}
