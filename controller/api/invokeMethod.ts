/**
 * Runs one method for one caller: the role check and the parameter check every transport shares
 * (the JSON-RPC WebSocket, and the web UI's socket.io connection).
 */
import { roleAtLeast, type Role } from '../accounts/accountTypes.ts';
import { ErrorCodes } from '../../machines/shared/errors.ts';
import { invalidParams, RpcError, RpcErrorCodes } from './jsonRpc.ts';
import { checkDoorLimits, limitListToDoors } from './doorLimits.ts';
import type { CallContext, MethodDefinition, MethodTable } from './methodTypes.ts';

export async function invokeMethod(methods: MethodTable, name: string, rawParams: unknown, context: CallContext): Promise<unknown> {
  const definition = Object.hasOwn(methods, name) ? methods[name] : undefined;
  if (definition === undefined) throw new RpcError(RpcErrorCodes.methodNotFound, `method not found: ${name}`);
  if (!mayCall(definition, context.principal.role)) {
    throw new RpcError(RpcErrorCodes.forbidden, `forbidden: ${name} needs the ${definition.role === 'scanner' ? 'integrator' : definition.role} role`, { code: ErrorCodes.FORBIDDEN });
  }
  // By-position params are accepted as a one-element array holding the object.
  const raw = Array.isArray(rawParams) ? (rawParams.length === 0 ? {} : rawParams[0]) : (rawParams ?? {});
  const params = definition.params.safeParse(raw);
  if (!params.success) {
    const issue = params.error.issues[0]!;
    throw invalidParams(issue.path.length === 0 ? 'params' : issue.path.map(String).join('.'), issue.message);
  }
  const doors = context.principal.doors;
  if (doors === undefined || doors === null) return definition.handler(params.data, context);
  checkDoorLimits(name, params.data as Record<string, unknown>, doors, definition.doorsOf?.(params.data) ?? []);
  return limitListToDoors(name, await definition.handler(params.data, context), doors);
}

/**
 * What a request costs against the rate limits (methodTypes.ts, `cost`): at least 1, also for an
 * unknown method or bad params (those are answered with an error, which costs too).
 */
export function requestCost(methods: MethodTable, name: string, rawParams: unknown): number {
  const definition = Object.hasOwn(methods, name) ? methods[name] : undefined;
  if (definition?.cost === undefined) return 1;
  const raw: unknown = Array.isArray(rawParams) ? rawParams[0] : rawParams;
  const params = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const cost = definition.cost(params);
  return Number.isFinite(cost) ? Math.max(1, Math.ceil(cost)) : 1;
}

/** Which methods a role may call: the web UI shows only the buttons behind them. */
export function allowedMethods(methods: MethodTable, role: Role): string[] {
  return Object.entries(methods)
    .filter(([, definition]) => mayCall(definition, role))
    .map(([name]) => name);
}

/** The scanner-role method (scanner.read) is also open to integrators, who feed network scanners. */
function mayCall(definition: MethodDefinition, role: Role): boolean {
  return definition.role === 'scanner' ? role === 'scanner' || roleAtLeast(role, 'integrator') : roleAtLeast(role, definition.role);
}
