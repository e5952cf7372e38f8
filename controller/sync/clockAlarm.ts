/**
 * The clock alarm: raised when the sync link measures this controller's clock more than 5 s from
 * the hub's (the machine decides, syncLinkMachine.ts clockAlarm), cleared when it is back within.
 * Times in the audit trail are this clock's, so an operator must hear of it: a warning in the log,
 * and a system event in the audit trail at each change (it says which events' times to doubt).
 * The alarm itself is in sync.status and the metrics (postern_sync_clock_alarm).
 */
import type { AuditTrail } from '../audit/auditTrail.ts';
import type { Logger } from '../logger.ts';
import type { SyncLink } from './syncLink.ts';

/** The system event's reason; `data.raised` says which way it changed. */
export const CLOCK_ALARM = 'clock.alarm';

export function watchClockAlarm(link: Pick<SyncLink, 'onStatus'>, deps: { audit: Pick<AuditTrail, 'append'>; logger: Pick<Logger, 'warn' | 'info'> }): () => void {
  let raised = false;
  return link.onStatus((status) => {
    if (status.clockAlarm === raised) return;
    raised = status.clockAlarm;
    const offsetMs = status.clockOffsetMs;
    if (raised) deps.logger.warn({ offsetMs, hub: status.hub }, `clock alarm: this controller's clock is ${((offsetMs ?? 0) / 1000).toFixed(1)} s off the hub's; audit times are this clock's`);
    else deps.logger.info({ offsetMs, hub: status.hub }, 'clock alarm cleared: the clock is within 5 s of the hub\'s again');
    void deps.audit.append({ type: 'system', reason: CLOCK_ALARM, actor: 'system', data: { raised, offsetMs } });
  });
}
