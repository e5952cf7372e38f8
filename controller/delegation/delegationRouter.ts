/**
 * Which webhook decides each scanner's foreign text: the site file's `delegation` blocks resolved
 * once per scanner at start (the most specific block winning, see delegationSchema.ts), with each
 * secret read from the file or from its environment variable.
 */
import { delegationFor, secretFromEnv } from '../config/delegationSchema.ts';
import type { SiteConfig } from '../config/configSchema.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';

export interface DelegationTarget {
  url: URL;
  /** The secret's UTF-8 bytes: the HMAC key of both directions. */
  secret: Buffer;
  timeoutMs: number;
}

export class DelegationRouter {
  private constructor(private readonly targets: ReadonlyMap<string, DelegationTarget>) {}

  /**
   * Throws CONFIG_INVALID when a secret's environment variable is missing or too short; the
   * message names the variable, never a value.
   */
  static fromConfig(config: Pick<SiteConfig, 'delegation' | 'doors' | 'scanners'>, env: NodeJS.ProcessEnv = process.env): DelegationRouter {
    const targets = new Map<string, DelegationTarget>();
    // Scanners of one webhook share one target object (and one Buffer of its secret).
    const shared = new Map<string, DelegationTarget>();
    for (const scanner of config.scanners) {
      const door = config.doors.find((d) => d.id === scanner.door);
      const settings = delegationFor(scanner.id, config.delegation, door?.delegation, scanner.delegation);
      if (settings === undefined) continue;
      // The schema has refused this already; kept for a config that did not pass through it.
      if (settings === 'no-url') throw new PosternError(ErrorCodes.CONFIG_INVALID, `scanners.${scanner.id}.delegation: no url`);
      let secret: string;
      if ('value' in settings.secret) secret = settings.secret.value;
      else secret = secretFromEnv(settings.secret.env, `delegation (${settings.from} level, scanner ${scanner.id})`, env);
      const key = `${settings.url}\n${settings.timeoutMs}\n${secret}`;
      let target = shared.get(key);
      if (target === undefined) {
        target = { url: new URL(settings.url), secret: Buffer.from(secret, 'utf8'), timeoutMs: settings.timeoutMs };
        shared.set(key, target);
      }
      targets.set(scanner.id, target);
    }
    return new DelegationRouter(targets);
  }

  /** undefined: this scanner's foreign text is denied `unknown-format`. */
  targetFor(scanner: string): DelegationTarget | undefined {
    return this.targets.get(scanner);
  }

  get size(): number {
    return this.targets.size;
  }
}
