/**
 * The file names of a site certificate, in one folder: what `postern tls create` writes
 * (siteCertificate.ts) and what the controller serves of it (caCertificateRoute.ts). Its own
 * module so that the controller does not load the certificate library to know them.
 */
export const FILE_NAMES = {
  /** Public: installed on each tablet. `.crt` is what Android and iPadOS offer to install. */
  caCert: 'ca.crt',
  /** Secret: signs each server certificate. */
  caKey: 'ca-key.pem',
  /** Public: api.tls.cert. */
  cert: 'cert.pem',
  /** Secret: api.tls.key. */
  key: 'key.pem',
} as const;
