/**
 * The audit topic's live events, with the names of whom they are about (issuing/holderNames.ts),
 * in the order the trail appended them. A name that is cached goes out at once; one that needs the
 * store waits for it at most `boundMs`, so a slow or dead store delays the live feed by a bound and
 * never stops it: the event then goes out without the name.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { HolderNames, NamedAuditEvent } from '../issuing/holderNames.ts';
import type { AuditEvent } from '../store/storeTypes.ts';

export class NamedAuditFeed {
  #tail: Promise<void> = Promise.resolve();
  /** Events queued behind a lookup: while any are, later events queue too, to keep the order. */
  #queued = 0;

  constructor(
    private readonly names: HolderNames,
    private readonly publish: (event: NamedAuditEvent) => void,
    private readonly boundMs = 250,
  ) {}

  push(event: AuditEvent): void {
    if (this.#queued === 0 && this.names.isCached([event])) {
      this.publish(this.names.nameCached([event])[0]!);
      return;
    }
    this.#queued += 1;
    this.#tail = this.#tail.then(async () => {
      const timeout = new AbortController();
      await Promise.race([this.names.load([event]), delay(this.boundMs, undefined, { signal: timeout.signal, ref: false }).catch(() => undefined)]);
      timeout.abort();
      this.#queued -= 1;
      this.publish(this.names.nameCached([event])[0]!);
    }).catch(() => undefined); // a listener's failure must not stop the events after it
  }

  /** Resolves once every event pushed so far is published. */
  idle(): Promise<void> {
    return this.#tail;
  }
}
