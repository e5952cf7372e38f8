/**
 * A limit on the commands sent to each door, shared by every caller (every API token and web UI
 * session), so that no client can drive a lock's relay faster than the lock and its wiring are
 * made for: a token bucket per door, 5 commands a second on average, bursts of 10. The per
 * connection and per token limits do not do this: a batch of 50 unlocks and locks is one message,
 * and several tokens each get their own allowance.
 *
 * Every command takes a token from its door's bucket, but only the commands that could open a
 * door, or that secure nothing (unlock, passage on, lifting one door's lockdown, acknowledge), are
 * refused when it is empty. A command that secures (lock, passage off, lockdown on) is carried
 * out whatever the bucket holds: a limit meant to spare a relay must never leave a door unlocked.
 * The relay only moves to unlocked on a refusable command, so it cannot toggle faster than the
 * bucket allows either way.
 */
import { ErrorCodes } from '../../machines/shared/errors.ts';
import { RpcError, RpcErrorCodes } from './jsonRpc.ts';
import { TokenBucket } from './tokenBucket.ts';

export const DOOR_COMMANDS_PER_SECOND = 5;
export const DOOR_COMMAND_BURST = 10;

export class DoorCommandThrottle {
  // One bucket per door of the site: callers check the door exists first, so this stays bounded.
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate = DOOR_COMMANDS_PER_SECOND,
    private readonly burst = DOOR_COMMAND_BURST,
    private readonly clock?: () => number,
  ) {}

  /** A command that may wait: takes a token, or throws the API's rate-limit error (-32004). */
  take(door: string): void {
    const bucket = this.bucketOf(door);
    if (bucket.take()) return;
    const retryAfterMs = bucket.retryAfterMs;
    throw new RpcError(
      RpcErrorCodes.rateLimited,
      `door ${door}: too many commands (at most ${this.rate} a second, bursts of ${this.burst}): try again in ${retryAfterMs} ms`,
      { code: ErrorCodes.RATE_LIMITED, retryAfterMs },
    );
  }

  /** A command that secures a door: it counts against the door's bucket, and is never refused. */
  count(door: string): void {
    this.bucketOf(door).take();
  }

  private bucketOf(door: string): TokenBucket {
    let bucket = this.buckets.get(door);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.rate, this.burst, this.clock);
      this.buckets.set(door, bucket);
    }
    return bucket;
  }
}
