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
}

export type MethodTable = Record<string, MethodDefinition>;

/** Keeps each method's handler typed by its own schema. */
export function method<Schema extends z.ZodType>(definition: MethodDefinition<Schema>): MethodDefinition {
  return definition as unknown as MethodDefinition;
}
