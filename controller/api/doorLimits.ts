/**
 * API tokens limited to a set of doors (`tokens.create { doors }`, `postern token create --doors`):
 * a door-limited token acts on and reads its doors only. Checked here, for every method, on its
 * params once they are valid, so no method can forget it:
 *
 * - a `door` param must be one of the token's doors, and so must every door of a `doors` param
 *   and every door a method says it touches besides (`doorsOf`: the door of the scanner that
 *   scanner.read, scanner.frame and scanners.get name), so a code valid elsewhere cannot be read
 *   in at another door's scanner;
 * - what would act on or read the whole site is refused: a site-wide lockdown, the audit trail
 *   without a `door`, a link or credential for a scope (a scope names doors the token may not have;
 *   a link for a list of doors is fine);
 * - a subscription without doors gets the token's doors, and the lists of doors and scanners
 *   are cut to them.
 */
import { ErrorCodes } from '../../machines/shared/errors.ts';
import { RpcError, RpcErrorCodes } from './jsonRpc.ts';

/** Methods that would act on or read every door when given no `door`. */
const WHOLE_SITE_WITHOUT_DOOR = new Set(['doors.lockdown', 'audit.query']);
/** Methods whose `scope` names a set of doors from the site file. */
const SCOPE_METHODS = new Set(['links.create', 'links.update', 'credentials.create', 'credentials.update', 'partners.add']);

function refused(message: string): RpcError {
  return new RpcError(RpcErrorCodes.forbidden, `forbidden: ${message}`, { code: ErrorCodes.FORBIDDEN });
}

/** Checks (and, for subscribe, completes) the params of a call by a door-limited token. */
export function checkDoorLimits(method: string, params: Record<string, unknown>, doors: readonly string[], touched: readonly string[] = []): void {
  const allowed = new Set(doors);
  const mine = `this token is limited to the doors ${doors.join(', ')}`;
  if (typeof params.door === 'string' && !allowed.has(params.door)) throw refused(`${mine}, not ${params.door}`);
  if (Array.isArray(params.doors)) {
    const other = params.doors.find((d) => typeof d === 'string' && !allowed.has(d));
    if (other !== undefined) throw refused(`${mine}, not ${String(other)}`);
  }
  const elsewhere = touched.find((d) => !allowed.has(d));
  if (elsewhere !== undefined) throw refused(`${mine}, not ${elsewhere}`);
  if (WHOLE_SITE_WITHOUT_DOOR.has(method) && params.door === undefined) throw refused(`${mine}: give one of them as door`);
  if (SCOPE_METHODS.has(method) && params.scope !== undefined) throw refused(`${mine}: name its doors instead of a scope`);
  if (method === 'credentials.create' || method === 'partners.add') throw refused(`${mine}: ${method} needs a token for the whole site`);
  if (method === 'subscribe' && params.doors === undefined) params.doors = [...doors];
}

/** Cuts a list answer (doors.list, scanners.list) to the token's doors. */
export function limitListToDoors(method: string, result: unknown, doors: readonly string[]): unknown {
  if (!Array.isArray(result)) return result;
  if (method === 'doors.list') return result.filter((d: { id?: unknown }) => typeof d.id === 'string' && doors.includes(d.id));
  if (method === 'scanners.list') return result.filter((s: { door?: unknown }) => typeof s.door === 'string' && doors.includes(s.door));
  return result;
}
