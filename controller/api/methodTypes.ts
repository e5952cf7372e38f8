import type { z } from 'zod';
import type { Principal, Role } from '../accounts/accountTypes.ts';
import type { Subscriber } from './eventHub.ts';

/** What a method knows of its caller. */
export interface CallContext {
  principal: Principal;
  /** The audit actor: `token:<name>` or `user:<name>`. */
  actor: string;
  /** The connection, as a subscriber of live events. */
  subscriber: Subscriber;
}

export interface MethodDefinition<Schema extends z.ZodType = z.ZodType> {
  /** The least role that may call it; 'scanner' marks the one method network scanners may call. */
  role: Exclude<Role, 'scanner'> | 'scanner';
  params: Schema;
  handler(params: z.output<Schema>, context: CallContext): unknown;
  /**
   * What a call costs against the rate limits, in requests: 1 when absent. Methods whose work
   * grows with their parameters (rows a query may read) say so, so that limits count work. It
   * gets the params as sent, before they are checked: it runs for every request of a flood, so
   * it must cost next to nothing (no schema parse), and the schema refuses bad params later.
   */
  cost?(params: Readonly<Record<string, unknown>>): number;
  /**
   * Doors the call acts on or reads that its `door`/`doors` params do not name (the door of the
   * scanner it reads for), for the checks of door-limited tokens (doorLimits.ts).
   */
  doorsOf?(params: z.output<Schema>): readonly string[];
}

export type MethodTable = Record<string, MethodDefinition>;

/** Keeps each method's handler typed by its own schema. */
export function method<Schema extends z.ZodType>(definition: MethodDefinition<Schema>): MethodDefinition {
  return definition as unknown as MethodDefinition;
}

/** Rows a list or query may read per request it costs: 1 + one more per 200 rows. */
const ROWS_PER_REQUEST = 200;

/** The cost of a list or query answering up to its `limit` rows (`defaultLimit` when not a number). */
export function listCost(params: Readonly<Record<string, unknown>>, defaultLimit: number): number {
  const limit = typeof params.limit === 'number' && Number.isFinite(params.limit) ? Math.min(Math.max(params.limit, 1), 10_000) : defaultLimit;
  return 1 + Math.floor(limit / ROWS_PER_REQUEST);
}
