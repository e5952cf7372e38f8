/**
 * Badge enrolment: a one-time link that brings a rotating credential's secret to its holder's
 * phone. The link carries a random token in its fragment (`<base>/badge#enrol=<token>`), so the
 * token never travels in a request line and never lands in a server or proxy log; the store keeps
 * only its sha256. POST /badge/enrol (badgeRoutes.ts) trades the token for the secret, once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AuditTrail } from '../audit/auditTrail.ts';
import type { SiteConfig } from '../config/configSchema.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { Store } from '../store/storeTypes.ts';

export const DEFAULT_ENROL_HOURS = 24;
export const MAX_ENROL_HOURS = 24 * 30;
/** base64url of 32 random bytes. */
export const ENROL_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface EnrolmentLink {
  token: string;
  url: string;
  /** unix ms */
  expiresAt: number;
}

export function newEnrolToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashEnrolToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Where phones reach the controller: `badge.publicUrl` when set, else the API's own address (a
 * wildcard host is replaced by this machine's name). No trailing slash.
 */
export function badgeBaseUrl(config: Pick<SiteConfig, 'api' | 'badge'>): string {
  if (config.badge?.publicUrl) return config.badge.publicUrl.replace(/\/+$/, '');
  const { host, port, tls } = config.api;
  const name = host === '0.0.0.0' || host === '::' ? hostname() : host;
  const shown = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
  const scheme = tls ? 'https' : 'http';
  const defaultPort = tls ? 443 : 80;
  return `${scheme}://${shown}${port === defaultPort ? '' : `:${port}`}`;
}

export function enrolmentUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/badge#enrol=${token}`;
}

export interface CreateEnrolmentOptions {
  credentialId: string;
  /** How long the link works, default 24 hours. */
  validHours?: number;
  baseUrl: string;
  actor: string;
  clock?: () => number;
}

/** Makes a one-time enrolment link for an existing credential and records it in the audit trail. */
export async function createEnrolment(
  deps: { store: Pick<Store, 'createEnrolment'>; audit: Pick<AuditTrail, 'append'> },
  options: CreateEnrolmentOptions,
): Promise<EnrolmentLink> {
  const hours = options.validHours ?? DEFAULT_ENROL_HOURS;
  if (!Number.isFinite(hours) || hours <= 0 || hours > MAX_ENROL_HOURS) {
    throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `enrol hours: from more than 0 to ${MAX_ENROL_HOURS}, not ${hours}`, { details: { field: 'validHours' } });
  }
  const token = newEnrolToken();
  const expiresAt = (options.clock ?? Date.now)() + Math.round(hours * 3600 * 1000);
  await deps.store.createEnrolment({ tokenHash: hashEnrolToken(token), credentialId: options.credentialId, expiresAt });
  await deps.audit.append({
    type: 'operator',
    door: null,
    scanner: null,
    subject: options.credentialId,
    kind: 'rotating',
    issuer: 0,
    verdict: null,
    reason: 'credential.enrol-link',
    actor: options.actor,
    data: { expiresAt },
  });
  return { token, url: enrolmentUrl(options.baseUrl, token), expiresAt };
}

export interface BadgeEnrolmentsDependencies {
  config: Pick<SiteConfig, 'api' | 'badge'>;
  store: Pick<Store, 'createEnrolment' | 'isRevoked'>;
  audit: Pick<AuditTrail, 'append'>;
  clock?: () => number;
}

/**
 * Enrolment links for the running controller (the API's credentials.enrol, and so the web UI):
 * what `postern credential create` does after making a credential, for any credential not revoked.
 */
export class BadgeEnrolments {
  constructor(private readonly deps: BadgeEnrolmentsDependencies) {}

  /**
   * A new one-time link for credential `credentialId`, audited as `credential.enrol-link`; links made
   * before it keep working until used or expired. NOT_FOUND for an unknown credential, CONFLICT for
   * a revoked one (its badge could never open a door), INVALID_ARGUMENT for hours out of range.
   */
  async create(credentialId: string, actor: string, validHours?: number): Promise<EnrolmentLink> {
    if (!/^\d{1,20}$/.test(credentialId) || BigInt(credentialId) > 0xffffffffffffffffn) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `id: "${credentialId}" is not a credential id`, { details: { field: 'id' } });
    }
    const id = BigInt(credentialId).toString();
    if (await this.deps.store.isRevoked(0, id)) {
      throw new PosternError(ErrorCodes.CONFLICT, `credential ${id} is revoked: make a new credential for this member`, { details: { field: 'id' } });
    }
    return createEnrolment(this.deps, { credentialId: id, validHours, baseUrl: badgeBaseUrl(this.deps.config), actor, clock: this.deps.clock });
  }
}
