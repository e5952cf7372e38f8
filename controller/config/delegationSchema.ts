/**
 * Delegated evaluation in the site file: which scanners send text that is no Postern code to a
 * partner's webhook, and how (docs/configuration.md, "Delegated evaluation").
 *
 * A site-level `delegation` block names the webhook and the scanners that use it; a door's or a
 * scanner's own `delegation` block overrides it for that door's scanners or that scanner, the most
 * specific winning. A URL and its secret always go together: an override that names another URL
 * names that URL's secret too, so one partner's secret is never used to sign for another.
 */
import { z } from 'zod';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';

/** The longest a decision waits for a webhook, whatever the site file says. */
export const MAX_DELEGATION_TIMEOUT_MS = 5000;
export const DEFAULT_DELEGATION_TIMEOUT_MS = 1500;
export const MIN_DELEGATION_SECRET_CHARS = 32;

export const url = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

/** Messages never repeat the value: a mistyped secret must not end up in a log or a terminal. */
export const secret = z
  .string()
  .min(MIN_DELEGATION_SECRET_CHARS, `must be at least ${MIN_DELEGATION_SECRET_CHARS} characters`)
  .max(1024, 'must be at most 1024 characters');

export const secretEnv = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be the name of an environment variable');

const timeoutMs = z.number().int().min(100).max(MAX_DELEGATION_TIMEOUT_MS);

/**
 * The secret a `secretEnv` setting names, read from the environment at start; CONFIG_INVALID,
 * naming `where`, when it is unset or shorter than a secret may be. Never repeats the value.
 */
export function secretFromEnv(name: string, where: string, env: NodeJS.ProcessEnv): string {
  const value = env[name];
  if (value === undefined || value.length < MIN_DELEGATION_SECRET_CHARS) {
    throw new PosternError(ErrorCodes.CONFIG_INVALID, `${where}: environment variable ${name} ${value === undefined ? 'is not set' : `must hold at least ${MIN_DELEGATION_SECRET_CHARS} characters`}`);
  }
  return value;
}

export function exactlyOneSecret(block: { secret?: string; secretEnv?: string }, ctx: z.RefinementCtx): void {
  if (block.secret !== undefined && block.secretEnv !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['secretEnv'], message: 'give secret or secretEnv, not both' });
  } else if (block.secret === undefined && block.secretEnv === undefined) {
    ctx.addIssue({ code: 'custom', path: ['secret'], message: 'give secret or secretEnv: the webhook\'s shared secret' });
  }
}

/** The site-level block: the webhook, and the scanners that use it unless overridden. */
export const siteDelegationSchema = z
  .strictObject({
    /** false keeps the block but no scanner uses it (doors and scanners may still name it). */
    enabled: z.boolean().default(true),
    url,
    secret: secret.optional(),
    /** The name of an environment variable holding the secret, read when the controller starts. */
    secretEnv: secretEnv.optional(),
    timeoutMs: timeoutMs.default(DEFAULT_DELEGATION_TIMEOUT_MS),
    /** Scanner ids, or `all`. */
    scanners: z.union([z.literal('all'), z.array(z.string()).min(1)]).default('all'),
  })
  .superRefine(exactlyOneSecret);

const overrideObject = z
  .strictObject({
    /** A present block turns delegation on here; false turns it off. */
    enabled: z.boolean().default(true),
    url: url.optional(),
    secret: secret.optional(),
    secretEnv: secretEnv.optional(),
    timeoutMs: timeoutMs.optional(),
  })
  .superRefine((block, ctx) => {
    if (block.url !== undefined) exactlyOneSecret(block, ctx);
    else if (block.secret !== undefined || block.secretEnv !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'a secret goes with its url: give the url too' });
    }
  });

/** A door's or a scanner's block; `true` and `false` are short for `{ enabled: true|false }`. */
export const delegationOverrideSchema = z.preprocess((value) => (typeof value === 'boolean' ? { enabled: value } : value), overrideObject);

export type SiteDelegationConfig = z.output<typeof siteDelegationSchema>;
export type DelegationOverrideConfig = z.output<typeof overrideObject>;

/** What one scanner uses, before the secret is read: its source, inline or an environment variable. */
export interface DelegationSettings {
  url: string;
  secret: { value: string } | { env: string };
  timeoutMs: number;
  /** Where the URL was set, for messages. */
  from: 'site' | 'door' | 'scanner';
}

/**
 * The webhook a scanner uses, or undefined when it keeps `unknown-format`; 'no-url' when
 * delegation is on for it but no block names a URL.
 */
export function delegationFor(
  scannerId: string,
  site: SiteDelegationConfig | undefined,
  door: DelegationOverrideConfig | undefined,
  scanner: DelegationOverrideConfig | undefined,
): DelegationSettings | 'no-url' | undefined {
  // Whether: the most specific block that says so; the site's list only decides by default.
  let enabled = site !== undefined && site.enabled && (site.scanners === 'all' || site.scanners.includes(scannerId));
  for (const block of [door, scanner]) if (block !== undefined) enabled = block.enabled;
  if (!enabled) return undefined;
  // How: each key from the most specific block that gives it, the URL with its secret.
  const layers: Array<[DelegationSettings['from'], Partial<SiteDelegationConfig> | undefined]> = [
    ['scanner', scanner],
    ['door', door],
    ['site', site],
  ];
  const withUrl = layers.find(([, block]) => block?.url !== undefined);
  if (withUrl === undefined) return 'no-url';
  const [from, block] = withUrl as [DelegationSettings['from'], Partial<SiteDelegationConfig>];
  const timeout = layers.map(([, b]) => b?.timeoutMs).find((t) => t !== undefined) ?? DEFAULT_DELEGATION_TIMEOUT_MS;
  return {
    url: block.url!,
    secret: block.secret !== undefined ? { value: block.secret } : { env: block.secretEnv! },
    timeoutMs: timeout,
    from,
  };
}

interface DelegatingSite {
  delegation?: SiteDelegationConfig;
  doors: ReadonlyArray<{ id: string; delegation?: DelegationOverrideConfig }>;
  scanners: ReadonlyArray<{ id: string; door: string; delegation?: DelegationOverrideConfig }>;
}

/** The checks across sections, for the site file's final superRefine. */
export function checkDelegation(config: DelegatingSite, ctx: z.RefinementCtx): void {
  const scannerIds = new Set(config.scanners.map((s) => s.id));
  const listed = config.delegation?.scanners;
  if (Array.isArray(listed)) {
    listed.forEach((id, i) => {
      if (!scannerIds.has(id)) ctx.addIssue({ code: 'custom', path: ['delegation', 'scanners', i], message: `no scanner "${id}"` });
    });
  }
  const reported = new Set<string>();
  config.scanners.forEach((s, i) => {
    const doorIndex = config.doors.findIndex((d) => d.id === s.door);
    const door = config.doors[doorIndex];
    if (delegationFor(s.id, config.delegation, door?.delegation, s.delegation) !== 'no-url') return;
    const path = s.delegation !== undefined ? ['scanners', i, 'delegation'] : ['doors', doorIndex, 'delegation'];
    const key = path.join('.');
    if (reported.has(key)) return;
    reported.add(key);
    ctx.addIssue({ code: 'custom', path, message: 'delegation is on here but no url is given: give url and secret here, or a site-level delegation block' });
  });
}
