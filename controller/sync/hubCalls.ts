/**
 * The controller's end of site.call (docs/hub-api.md): a `call` frame from the hub runs one of this
 * controller's own API methods, through invokeMethod as any client's call, for a principal named
 * `hub:<account>` with the hub account's role. So the controller's role checks, parameter checks,
 * rate limit (the per-token one, per hub account) and audit (actor `hub:<account>`) apply as they
 * do to its own clients; the hub's checks before sending are only an early refusal.
 *
 * - `hub.remoteAdmin: false` in the site file refuses every call (forbidden).
 * - At most MAX_CALLS_IN_FLIGHT at once: more are answered with a rate-limit error at once.
 * - Until the API's methods are served (the API starts after the link) a call is answered
 *   unavailable; a controller with the API disabled answers every call so.
 * - An answer too large for one sync frame is replaced by an error: a larger frame would end the link.
 */
import { ErrorCodes } from '../../machines/shared/errors.ts';
import { isUserRole, type Principal } from '../accounts/accountTypes.ts';
import { invokeMethod, requestCost } from '../api/invokeMethod.ts';
import { RpcError, RpcErrorCodes, toErrorObject, type JsonRpcErrorObject } from '../api/jsonRpc.ts';
import type { MethodTable } from '../api/methodTypes.ts';
import { TokenBucket } from '../api/tokenBucket.ts';
import type { Subscriber } from '../api/eventHub.ts';
import type { Logger } from '../logger.ts';
import { MAX_FRAME_BYTES, type HubFrame } from './syncFrames.ts';

export type CallFrame = Extract<HubFrame, { type: 'call' }>;
export type ResultFrame = { type: 'result'; id: number; result?: unknown; error?: JsonRpcErrorObject };

export const MAX_CALLS_IN_FLIGHT = 8;
/** The roles a hub account may have: the controller takes no other from a frame. */
const HUB_ROLES = new Set(['viewer', 'operator', 'admin']);
/** Room in a frame for everything but the result itself. */
const FRAME_MARGIN = 1024;
/** Calls through the hub hold no subscriptions: live events need the controller's own socket. */
const NO_SUBSCRIPTIONS: Subscriber = { deliver: () => undefined };

export interface HubCallsDeps {
  /** hub.remoteAdmin of the site file. */
  enabled: boolean;
  /** The per-token rate limit of the site's API (api.rateLimit.perToken), applied per hub account. */
  rate: { rate: number; burst: number };
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
}

export class HubCalls {
  #methods: MethodTable | undefined;
  #inFlight = 0;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(private readonly deps: HubCallsDeps) {}

  /** The API's method table, once the API is made (controller.ts). */
  serve(methods: MethodTable): void {
    this.#methods = methods;
  }

  /** Runs a call and sends its answer with `send` (not awaited by the link: calls run beside its frames). */
  async handle(frame: CallFrame, send: (answer: ResultFrame) => void): Promise<void> {
    send(await this.run(frame));
  }

  async run(frame: CallFrame): Promise<ResultFrame> {
    if (this.#inFlight >= MAX_CALLS_IN_FLIGHT) {
      return refusal(frame.id, new RpcError(RpcErrorCodes.rateLimited, `the controller runs at most ${MAX_CALLS_IN_FLIGHT} calls from the hub at once: try again`, { code: ErrorCodes.RATE_LIMITED, retryAfterMs: 100 }));
    }
    this.#inFlight++;
    try {
      return await this.#run(frame);
    } finally {
      this.#inFlight--;
    }
  }

  async #run(frame: CallFrame): Promise<ResultFrame> {
    const { name, role } = frame.account;
    if (!this.deps.enabled) return refusal(frame.id, new RpcError(RpcErrorCodes.forbidden, "forbidden: this controller takes no calls through the hub (its site file has hub.remoteAdmin: false)", { code: ErrorCodes.FORBIDDEN }));
    const methods = this.#methods;
    if (methods === undefined) return refusal(frame.id, new RpcError(RpcErrorCodes.unavailable, "the controller's API is not running: no method can be called through the hub", { code: ErrorCodes.STORE_UNAVAILABLE }));
    if (!HUB_ROLES.has(role) || !isUserRole(role)) return refusal(frame.id, new RpcError(RpcErrorCodes.forbidden, `forbidden: a hub account's role is viewer, operator or admin, not ${JSON.stringify(role)}`, { code: ErrorCodes.FORBIDDEN }));
    const bucket = this.#bucket(name);
    const cost = requestCost(methods, frame.method, frame.params);
    if (!bucket.take(cost)) {
      return refusal(frame.id, new RpcError(RpcErrorCodes.rateLimited, 'rate limit exceeded at the controller: slow down', { code: ErrorCodes.RATE_LIMITED, retryAfterMs: bucket.retryAfterMsFor(cost) }));
    }
    const actor = `hub:${name}`;
    const principal: Principal = { kind: 'token', id: actor, name: actor, role, scanner: null, doors: null };
    try {
      const result = (await invokeMethod(methods, frame.method, frame.params, { principal, actor, subscriber: NO_SUBSCRIPTIONS })) ?? null;
      const answer: ResultFrame = { type: 'result', id: frame.id, result };
      if (Buffer.byteLength(JSON.stringify(answer)) > MAX_FRAME_BYTES - FRAME_MARGIN) {
        return refusal(frame.id, new RpcError(RpcErrorCodes.invalidParams, `${frame.method}: the answer is too large to go through the hub: ask for less (a smaller limit)`, { code: ErrorCodes.INVALID_ARGUMENT }));
      }
      return answer;
    } catch (error) {
      if (!(error instanceof RpcError)) this.deps.logger.debug({ err: error, method: frame.method, actor }, 'hub call failed');
      return refusal(frame.id, error);
    }
  }

  #bucket(account: string): TokenBucket {
    let bucket = this.#buckets.get(account);
    if (bucket === undefined) {
      // Forgotten once full again: a refilled bucket holds nothing worth keeping.
      for (const [key, old] of this.#buckets) if (old.full) this.#buckets.delete(key);
      bucket = new TokenBucket(this.deps.rate.rate, this.deps.rate.burst);
      this.#buckets.set(account, bucket);
    }
    return bucket;
  }
}

function refusal(id: number, error: unknown): ResultFrame {
  const object = toErrorObject(error);
  return { type: 'result', id, error: { ...object, message: object.message.slice(0, 10_000) } };
}
