/**
 * The hub's revocations put into the local store, in order, with their cursor.
 *
 * - The verifier asks the store at every scan (store.isRevoked), so a revocation counts for the
 *   next scan once the store has committed it: nothing here keeps a copy to refresh.
 * - Each frame of changes is one step: revoke its changes (one transaction), record each in the
 *   audit trail (actor `hub`, as Issuing records an operator's revocation), then move
 *   `sync.cursor` to its last cursor. A crash inside a step applies the frame again at the next
 *   link: revoking twice is harmless (already revoked is no error here), and the audit events are
 *   written again rather than lost.
 * - A snapshot comes in chunks (docs/sync.md): each chunk is revoked in one store transaction
 *   (revokeMany: those revoked already are skipped), with no audit event per subject; after the
 *   final chunk ONE audit event (`sync.snapshot`, with the counts; none when it revoked nothing new
 *   here) is recorded and the cursor is set
 *   to the snapshot's: the hub is the system of record, so its cursor is taken as it is. A link lost
 *   mid-snapshot leaves the cursor where it was, so the next link gets a snapshot again; the chunks
 *   applied already are harmless (revoked twice is no change).
 * - Calls are serialized: frames are applied in the order they arrived, whatever each one awaits.
 */
import type { AuditTrail } from '../audit/auditTrail.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/storeTypes.ts';
import type { ChangeItem, Revocation } from './syncFrames.ts';

/** The settings key of the last change cursor applied; 0 (or absent): none. */
export const CURSOR_SETTING = 'sync.cursor';

/** The action in the audit trail, beside Issuing's link.revoke and partner.revokeSubject. */
export const HUB_REVOKE = 'hub.revoke';

/** The action in the audit trail of a whole snapshot applied (one event, whatever its size). */
export const HUB_SNAPSHOT = 'sync.snapshot';

export interface HubChangesDependencies {
  store: Pick<Store, 'getSetting' | 'putSetting' | 'revoke' | 'revokeMany' | 'isRevoked'>;
  audit: Pick<AuditTrail, 'append'>;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

export class HubChanges {
  readonly #deps: HubChangesDependencies;
  #queue: Promise<unknown> = Promise.resolve();
  #cursor: number | undefined;

  constructor(deps: HubChangesDependencies) {
    this.#deps = deps;
  }

  /** The last cursor applied, as stored (0: none). */
  cursor(): Promise<number> {
    return this.#serial(() => this.#current());
  }

  /** Resolves when every step begun so far is over (failed or not): stop() waits for it before the store closes. */
  idle(): Promise<void> {
    return this.#queue.then(() => undefined);
  }

  /**
   * Applies one chunk of a snapshot (one transaction); resolves with how many were new and the
   * cursor stored (unchanged: only finishSnapshot moves it).
   */
  applySnapshotChunk(revocations: readonly Revocation[]): Promise<{ revoked: number; cursor: number }> {
    return this.#serial(async () => {
      const revoked = await this.#deps.store.revokeMany(revocations.map((item) => ({ issuer: item.issuer, subject: item.subject, reason: item.reason ?? null })));
      return { revoked, cursor: await this.#current() };
    });
  }

  /**
   * After the final chunk: one audit event for the whole snapshot when it revoked anything here
   * (a snapshot that changed nothing is not recorded, as before), then the cursor; resolves with it.
   */
  finishSnapshot(cursor: number, totals: { revocations: number; revoked: number }): Promise<number> {
    return this.#serial(async () => {
      if (totals.revoked > 0) await this.#deps.audit.append({
        type: 'system',
        subject: null,
        issuer: null,
        reason: HUB_SNAPSHOT,
        actor: 'hub',
        data: { cursor, revocations: totals.revocations, revoked: totals.revoked },
      });
      await this.#store(cursor);
      this.#deps.logger?.info({ cursor, ...totals }, 'hub snapshot applied');
      return cursor;
    });
  }

  /** A whole snapshot in one call (one chunk, then finished); resolves with the cursor then stored. */
  async applySnapshot(cursor: number, revocations: readonly Revocation[]): Promise<number> {
    const { revoked } = await this.applySnapshotChunk(revocations);
    return this.finishSnapshot(cursor, { revocations: revocations.length, revoked });
  }

  /**
   * Applies a frame of changes, skipping those at or below the stored cursor; resolves with the
   * cursor then stored. The frame is one step, not one per change: its revocations in one store
   * transaction (revokeMany), then one audit event per change, appended together (the trail
   * commits them as a group), then the cursor. So 1,000 changes cost a few commits, not 3,000, and a
   * controller back from a long cut-off is up to date in a moment. A crash inside the step applies
   * the whole frame again at the next link: revoked twice is no change, and each change's event is
   * written again (with `alreadyRevoked`) rather than lost.
   */
  applyChanges(items: readonly ChangeItem[]): Promise<number> {
    return this.#serial(async () => {
      const current = await this.#current();
      const fresh = items.filter((item) => item.cursor > current).sort((a, b) => a.cursor - b.cursor);
      if (fresh.length === 0) return current;
      const held = await Promise.all(fresh.map((item) => this.#deps.store.isRevoked(item.issuer, item.subject)));
      await this.#deps.store.revokeMany(fresh.map((item) => ({ issuer: item.issuer, subject: item.subject, reason: item.reason ?? null })));
      await Promise.all(fresh.map((item, i) => this.#record(item, item.cursor, !held[i])));
      await this.#store(fresh[fresh.length - 1]!.cursor);
      return this.#current();
    });
  }

  /**
   * The hub says the controller has everything up to `cursor` (a `synced` frame): the stored
   * cursor moves up to it (changes of no concern to this controller leave gaps); never down.
   */
  confirm(cursor: number): Promise<number> {
    return this.#serial(async () => {
      if (cursor > (await this.#current())) await this.#store(cursor);
      return this.#current();
    });
  }

  /**
   * The audit event of one change. Recorded even when the subject was revoked already (`fresh`
   * false: by an operator here, or an earlier try): a crash between revoke and record would
   * otherwise lose the event.
   */
  async #record(item: Revocation, cursor: number, fresh: boolean): Promise<void> {
    const reason = item.reason ?? null;
    await this.#deps.audit.append({
      type: 'operator',
      subject: item.subject,
      issuer: item.issuer,
      reason: HUB_REVOKE,
      actor: 'hub',
      data: { cursor, ...(reason !== null ? { reason } : {}), ...(item.revokedAt !== undefined ? { revokedAt: item.revokedAt } : {}), ...(fresh ? {} : { alreadyRevoked: true }) },
    });
  }

  async #current(): Promise<number> {
    if (this.#cursor === undefined) {
      const stored = Number(await this.#deps.store.getSetting(CURSOR_SETTING));
      this.#cursor = Number.isSafeInteger(stored) && stored > 0 ? stored : 0;
    }
    return this.#cursor;
  }

  async #store(cursor: number): Promise<void> {
    await this.#deps.store.putSetting(CURSOR_SETTING, String(cursor));
    this.#cursor = cursor;
  }

  #serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(step);
    // The next step waits for this one, failed or not: the failure is the caller's to handle.
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
