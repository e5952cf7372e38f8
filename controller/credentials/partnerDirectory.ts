/**
 * Partner keys for the verifier, kept in memory. Partners are added and removed by the CLI or API,
 * possibly from another process, so the cache is re-read from the store when it is older than
 * `maxAgeMs`; `invalidate()` makes the next lookup re-read at once.
 */
import type { PartnerKey, Store } from '../store/storeTypes.ts';

export class PartnerDirectory {
  private partners = new Map<number, PartnerKey>();
  private loadedAt = -Infinity;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly store: Pick<Store, 'loadPartnerKeys'>,
    private readonly maxAgeMs = 2_000,
    private readonly clock: () => number = Date.now,
  ) {}

  async get(id: number): Promise<PartnerKey | undefined> {
    if (this.clock() - this.loadedAt > this.maxAgeMs) await this.reload();
    return this.partners.get(id);
  }

  invalidate(): void {
    this.loadedAt = -Infinity;
  }

  private reload(): Promise<void> {
    // Concurrent scans share one read instead of each starting their own.
    this.loading ??= this.store
      .loadPartnerKeys()
      .then(
        (keys) => {
          this.partners = new Map(keys.map((k) => [k.id, k]));
          this.loadedAt = this.clock();
        },
        // With the store unreachable the keys already known keep deciding; the next scan retries.
        () => undefined,
      )
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }
}
