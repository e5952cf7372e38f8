/**
 * The terms of a site certificate: its files, in one folder, and how long it is valid. What
 * `postern tls create` writes (siteCertificate.ts), what the controller serves of it
 * (caCertificateRoute.ts) and what the command's help says. Its own module so that neither the
 * controller nor the help loads the certificate library to know them.
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

/** What browsers accept of a server certificate from a CA a user installed (Apple's limit, the strictest). */
export const MAX_SERVER_DAYS = 825;
/** A year and a month: renewed yearly, well inside every browser's limit. */
export const DEFAULT_SERVER_DAYS = 397;
