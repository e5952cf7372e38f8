/**
 * Who an audit event is about, by name: the site's link or credential its subject is, the name a
 * partner's webhook gave for a code it decided, and the partner a partner's code came from. Names
 * are looked up when events are shown, never written into the trail: the trail keeps ids, and a
 * holder's name stays out of its hash chain.
 *
 * Lookups are batched per answer and kept in a bounded cache; a subject that is no holder of the
 * site is remembered for a short while only, because the command line may make one meanwhile.
 */
import type { AuditEvent, Store } from '../store/storeTypes.ts';

/** An audit event as answers show it: with the names of whom it is about. */
export interface NamedAuditEvent extends AuditEvent {
  /** The site's link or credential name, or the name a partner's webhook gave; null when not known. */
  holder: string | null;
  /** The partner's name when the code was a partner's (issuer > 0); else null. */
  partner: string | null;
}

const MAX_CACHED = 10_000;
const UNKNOWN_TTL_MS = 10_000;
const PARTNERS_TTL_MS = 2_000;

interface Cached {
  name: string | null;
  /** When a null name stops being trusted. */
  until: number;
}

export class HolderNames {
  readonly #store: Pick<Store, 'holderNames' | 'listPartners'>;
  readonly #clock: () => number;
  /** Insertion order is recency: a hit moves its entry to the end, the first entry is evicted. */
  readonly #cache = new Map<string, Cached>();
  #partners: { names: Map<number, string>; at: number } | undefined;

  constructor(store: Pick<Store, 'holderNames' | 'listPartners'>, clock: () => number = Date.now) {
    this.#store = store;
    this.#clock = clock;
  }

  /** True when naming `events` needs no read of the store. */
  isCached(events: readonly AuditEvent[]): boolean {
    const now = this.#clock();
    return events.every((e) => {
      if (isSiteSubject(e)) return this.#fresh(e.subject!, now) !== undefined;
      if (isPartnerCode(e)) return this.#partners !== undefined && now - this.#partners.at < PARTNERS_TTL_MS;
      return true;
    });
  }

  /** The events with their names; a store that cannot answer leaves the names null. */
  async name(events: readonly AuditEvent[]): Promise<NamedAuditEvent[]> {
    await this.load(events);
    return this.nameCached(events);
  }

  /** Reads the names of `events` that are not cached yet; never fails (a store that cannot answer is skipped). */
  async load(events: readonly AuditEvent[]): Promise<void> {
    const now = this.#clock();
    const missing = [...new Set(events.filter((e) => isSiteSubject(e) && this.#fresh(e.subject!, now) === undefined).map((e) => e.subject!))];
    if (missing.length > 0) {
      const found = await this.#store.holderNames(missing).catch(() => undefined);
      if (found !== undefined) for (const id of missing) this.#remember(id, found.get(id) ?? null, now);
    }
    if (events.some(isPartnerCode) && (this.#partners === undefined || now - this.#partners.at >= PARTNERS_TTL_MS)) {
      const partners = await this.#store.listPartners().catch(() => undefined);
      if (partners !== undefined) this.#partners = { names: new Map(partners.map((p) => [p.id, p.name])), at: now };
    }
  }

  /** The events with the names the cache holds, at once. */
  nameCached(events: readonly AuditEvent[]): NamedAuditEvent[] {
    const now = this.#clock();
    return events.map((e) => ({
      ...e,
      holder: isSiteSubject(e) ? (this.#fresh(e.subject!, now)?.name ?? null) : delegatedName(e),
      partner: isPartnerCode(e) ? (this.#partners?.names.get(e.issuer!) ?? null) : null,
    }));
  }

  #fresh(id: string, now: number): Cached | undefined {
    const cached = this.#cache.get(id);
    if (cached === undefined) return undefined;
    if (cached.name === null && now >= cached.until) {
      this.#cache.delete(id);
      return undefined;
    }
    this.#cache.delete(id);
    this.#cache.set(id, cached);
    return cached;
  }

  #remember(id: string, name: string | null, now: number): void {
    this.#cache.delete(id);
    this.#cache.set(id, { name, until: now + UNKNOWN_TTL_MS });
    if (this.#cache.size > MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value!);
  }
}

/** A subject of the site's own (issuer 0) that can be a link or credential id. */
function isSiteSubject(event: AuditEvent): boolean {
  return event.issuer === 0 && event.subject !== null && /^\d{1,20}$/.test(event.subject);
}

function isPartnerCode(event: AuditEvent): boolean {
  return event.issuer !== null && event.issuer > 0;
}

/** The holder a partner's webhook named for a code it decided (delegation/delegationMessages.ts). */
function delegatedName(event: AuditEvent): string | null {
  const delegation = event.data?.delegation as { subjectName?: unknown } | undefined;
  return typeof delegation?.subjectName === 'string' ? delegation.subjectName : null;
}
