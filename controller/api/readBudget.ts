/**
 * How many stored rows the API's reads (audit.query, the lists, door.stats) may go through per
 * second, all clients together (api.readRowsPerSecond). The rate limits bound each token; this bounds their sum, so that
 * any number of viewers reading at their limits takes at most a small, steady share of the thread
 * that drives the doors. A read waits its turn, slice by slice, rather than being refused, unless
 * the wait would be longer than MAX_WAIT_MS: then it is refused as busy (-32004, with retryAfterMs).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes } from '../../machines/shared/errors.ts';
import { RpcError, RpcErrorCodes } from './jsonRpc.ts';

const MAX_WAIT_MS = 5000;

export class ReadBudget {
  /** When the rows granted so far are paid for, on the monotonic clock. */
  #paidUntil = 0;

  constructor(
    /** api.readRowsPerSecond of the site file (default 5,000). */
    private readonly rowsPerSecond: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Waits until `rows` more may be read; refuses (rate limited) when that is too far off. */
  async take(rows: number): Promise<void> {
    const now = this.clock();
    const start = Math.max(now, this.#paidUntil);
    const wait = start - now;
    if (wait > MAX_WAIT_MS) {
      throw new RpcError(RpcErrorCodes.rateLimited, 'busy: the controller is answering other large reads; try again shortly', { code: ErrorCodes.RATE_LIMITED, retryAfterMs: Math.ceil(wait) });
    }
    this.#paidUntil = start + (rows / this.rowsPerSecond) * 1000;
    if (wait > 0) await sleep(wait);
  }
}
