/**
 * Prometheus metrics of one controller, on a registry of its own (never the process-global one,
 * so several controllers in one process do not collide).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AlarmKind } from '../../machines/doorMachine.ts';
import type { Decision } from '../decision/decisionLog.ts';
import type { DoorStatus, ScannerStatus } from '../siteMonitor.ts';
import type { SyncStatus } from '../sync/syncLink.ts';

/** Every state of the hub link (machines/syncLinkMachine.ts SyncLinkState). */
const SYNC_STATES = ['offline', 'connecting', 'syncing', 'live', 'backoff'];
const DOOR_STATES = ['secured', 'unlocked', 'open', 'heldOpen', 'forcedOpen', 'lockdown', 'passage', 'fault', 'stopped'];
/** Every kind a door's alarm can be: a new kind does not compile until it is listed here. */
const ALARM_KINDS = Object.keys({ 'held-open': true, 'forced-open': true } satisfies Record<AlarmKind, true>);

export interface MetricsSources {
  doors(): DoorStatus[];
  scanners(): ScannerStatus[];
  auditPending(): number;
  /** Audit events kept in the local journal while the store cannot take them. */
  auditJournaled?(): number;
  /** Store problems since start, by kind. */
  storeProblems?(): ReadonlyMap<string, number>;
  apiConnections(): number;
  /** The controller's audit head (an AuditTrail's controllerId and head.seq); no gauge without it. */
  auditHead?(): { controllerId: string; seq: number };
  /** The hub link's status (sync/syncLink.ts); no postern_sync_* gauges without one (a standalone controller). */
  sync?(): SyncStatus | undefined;
}

export class ControllerMetrics {
  readonly registry = new Registry();
  private readonly decisions = new Counter({ name: 'postern_decisions_total', help: 'Scan decisions by verdict and reason', labelNames: ['verdict', 'reason'], registers: [this.registry] });
  private readonly latency = new Histogram({
    name: 'postern_scan_to_relay_seconds',
    help: 'Time from a scan reaching the decision to the relay command (grants) or the verdict (denials)',
    labelNames: ['door', 'verdict'],
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  private readonly durableWait = new Histogram({
    name: 'postern_audit_durable_seconds',
    help: "Time a grant's (or an operator unlock's) audit event waited to be durable, committed by the store or fsync'd to the journal, before its relay could move",
    labelNames: ['where'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  constructor(sources: MetricsSources) {
    new Gauge({
      name: 'postern_door_state',
      help: '1 for the state each door is in',
      labelNames: ['door', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const door of sources.doors()) for (const state of DOOR_STATES) this.set({ door: door.id, state }, door.state === state ? 1 : 0);
      },
    });
    new Gauge({
      name: 'postern_door_alarm',
      help: '1 while a door has an unacknowledged alarm of this kind, else 0',
      labelNames: ['door', 'kind'],
      registers: [this.registry],
      // Every door has a series for every kind, 0 without an alarm: a series that vanished on
      // acknowledge would show rules and dashboards no transition to 0, only an end that reads
      // the same as a controller no longer scraped.
      collect() {
        this.reset();
        for (const door of sources.doors()) {
          const raised = door.alarm && !door.alarm.acknowledged ? door.alarm.kind : null;
          for (const kind of ALARM_KINDS) this.set({ door: door.id, kind }, kind === raised ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'postern_scanner_up',
      help: '1 while a scanner is connected and ready',
      labelNames: ['scanner', 'door', 'driver'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of sources.scanners()) this.set({ scanner: s.id, door: s.door, driver: s.driver }, s.state === 'ready' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'postern_scanner_reads',
      help: 'Reads reported by each scanner since start, forwarded or dropped',
      labelNames: ['scanner', 'outcome'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of sources.scanners()) {
          this.set({ scanner: s.id, outcome: 'forwarded' }, s.reads - s.dropped);
          this.set({ scanner: s.id, outcome: 'dropped' }, s.dropped);
        }
      },
    });
    new Gauge({ name: 'postern_audit_outbox_pending', help: 'Audit events waiting for the store', registers: [this.registry], collect() { this.set(sources.auditPending()); } });
    const { auditJournaled, storeProblems } = sources;
    if (auditJournaled !== undefined) {
      new Gauge({ name: 'postern_audit_journaled', help: 'Audit events durable only in the local journal, waiting for the store', registers: [this.registry], collect() { this.set(auditJournaled()); } });
    }
    if (storeProblems !== undefined) {
      new Gauge({
        name: 'postern_store_problems',
        help: 'Store problems since start, by kind (integrity, writer-exited, claim-lost, wal-checkpoint)',
        labelNames: ['kind'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const kind of ['integrity', 'writer-exited', 'claim-lost', 'wal-checkpoint']) this.set({ kind }, storeProblems().get(kind) ?? 0);
        },
      });
    }
    if (sources.auditHead !== undefined) {
      new Gauge({
        name: 'postern_audit_head_seq',
        help: 'The seq of the newest event of the controller\'s audit chain (appended, stored or not)',
        labelNames: ['controller'],
        registers: [this.registry],
        collect() {
          const head = sources.auditHead?.();
          this.reset();
          if (head !== undefined) this.set({ controller: head.controllerId }, head.seq);
        },
      });
    }
    const { sync } = sources;
    if (sync !== undefined) {
      new Gauge({
        name: 'postern_sync_state',
        help: '1 for the state the hub link is in, else 0',
        labelNames: ['state'],
        registers: [this.registry],
        collect() {
          const state = sync()?.state ?? 'offline';
          for (const s of SYNC_STATES) this.set({ state: s }, s === state ? 1 : 0);
        },
      });
      new Gauge({ name: 'postern_sync_outbox_depth', help: 'Audit events the hub does not hold yet', registers: [this.registry], collect() { this.set(sync()?.outboxDepth ?? 0); } });
      new Gauge({ name: 'postern_sync_lag', help: 'Changes (revocations) the hub has that this controller has not applied yet', registers: [this.registry], collect() { this.set(sync()?.lag ?? 0); } });
      new Gauge({
        name: 'postern_sync_clock_offset_seconds',
        help: "The hub's clock minus this controller's, as last measured (no value before the first measure)",
        registers: [this.registry],
        collect() {
          const offset = sync()?.clockOffsetMs;
          this.reset();
          if (offset !== null && offset !== undefined) this.set(offset / 1000);
        },
      });
      new Gauge({ name: 'postern_sync_clock_alarm', help: "1 while this controller's clock is more than 5 s from the hub's", registers: [this.registry], collect() { this.set(sync()?.clockAlarm ? 1 : 0); } });
    }
    new Gauge({ name: 'postern_api_connections', help: 'Open API WebSocket connections', registers: [this.registry], collect() { this.set(sources.apiConnections()); } });
    // Process metrics, including nodejs_eventloop_lag_seconds and its percentiles.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
  }

  recordDecision(decision: Decision): void {
    this.decisions.inc({ verdict: decision.verdict, reason: decision.reason ?? 'granted' });
    this.latency.observe({ door: decision.door, verdict: decision.verdict }, decision.latencyMs / 1000);
  }

  /** An event acted on (AuditTrail.record) became durable `where` after `waitedMs`. */
  recordDurableWait(where: 'store' | 'journal', waitedMs: number): void {
    this.durableWait.observe({ where }, waitedMs / 1000);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
