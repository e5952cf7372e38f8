/**
 * Idempotency keys on the API's creates. A client that sends a create and loses the connection
 * before the answer cannot know whether it was made; sent again with the same `idempotencyKey`
 * (by the same account, to the same method, with the same parameters) it gets the first answer
 * instead of a second link, credential, partner, user or token.
 *
 * A key is claimed in the store (settings, `idempotency/<actor>/<method>/<key>`) before anything
 * is made, atomically, so two concurrent requests with one key make one thing. Where it can, the
 * claim holds the id of what will be made (a link's or credential's new id, a partner's id, a
 * user's name) from the start: a retry after a crash between the claim and the create then makes
 * it under that id, or finds it made, and never makes two.
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Store } from '../store/storeTypes.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';

/** The `idempotencyKey` parameter of every create. */
export const idempotencyKeyParam = z
  .string()
  .regex(/^[\x21-\x7e]{8,128}$/, '8 to 128 printable ASCII characters without spaces (a UUID will do)')
  .optional();

export interface IdempotentCreate<R> {
  /** The id the thing will have, chosen before it is made; none when only the create can tell. */
  reserve?: () => string;
  /** Makes it (under `reserved` when given); `ref` is its id, kept for replays. */
  create(reserved: string | undefined): Promise<{ result: R; ref: string }>;
  /** The first answer again, or undefined when nothing was made under `ref` (yet). */
  replay(ref: string): Promise<R | undefined>;
}

interface Claim {
  hash: string;
  ref: string | null;
  at: number;
  /** Tells two claims made at the same moment apart: only the stored one is the claimant's. */
  nonce: string;
}

export class Idempotency {
  constructor(
    private readonly store: Pick<Store, 'setSettingIfAbsent' | 'putSetting'>,
    private readonly clock: () => number = Date.now,
  ) {}

  async run<R>(actor: string, method: string, key: string | undefined, params: unknown, op: IdempotentCreate<R>): Promise<R> {
    if (key === undefined) return (await op.create(undefined)).result;
    const setting = `idempotency/${actor}/${method}/${key}`;
    const hash = createHash('sha256').update(canonicalJson(params)).digest('hex');
    const reserved = op.reserve?.();
    const mine = JSON.stringify({ hash, ref: reserved ?? null, at: this.clock(), nonce: randomBytes(8).toString('hex') } satisfies Claim);
    const stored = await this.store.setSettingIfAbsent(setting, mine);
    const claim = JSON.parse(stored) as Claim;
    if (claim.hash !== hash) {
      throw new PosternError(ErrorCodes.CONFLICT, `idempotencyKey "${key}" was used with other parameters: give each create its own key`, { details: { field: 'idempotencyKey' } });
    }
    if (stored === mine) {
      const { result, ref } = await op.create(reserved);
      if (reserved === undefined) await this.store.putSetting(setting, JSON.stringify({ ...claim, ref } satisfies Claim));
      return result;
    }
    // A repeat of a request this account made before.
    if (claim.ref !== null) {
      const replayed = await op.replay(claim.ref);
      if (replayed !== undefined) return replayed;
      if (op.reserve !== undefined) {
        // Claimed, then not made: the first attempt ended in between. Made now, under the claimed id;
        // a concurrent retry that got there first is found by the replay.
        try {
          return (await op.create(claim.ref)).result;
        } catch (error) {
          const again = await op.replay(claim.ref);
          if (again !== undefined) return again;
          throw error;
        }
      }
    }
    throw new PosternError(ErrorCodes.CONFLICT, `a request with idempotencyKey "${key}" is still being answered, or ended before it was: retry in a few seconds`, { details: { field: 'idempotencyKey' } });
  }
}

/** JSON with object keys sorted, so that the same parameters always hash the same. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}
