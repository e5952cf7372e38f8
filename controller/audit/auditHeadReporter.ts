/**
 * AuditHeadReporter: logs a running controller's audit head (the newest seq and hash of its chain)
 * at start, every hour, and at stop, so that the logs, shipped off the machine, hold anchors for
 * `postern audit verify --anchor` (audit/auditHead.ts): someone who deletes the newest events from
 * the database cannot delete them from a log server too.
 *
 * Each log line carries `anchor`, the line to put in an anchor file: `<controllerId> <seq> <hash>`.
 * The timer is unref'd: it never keeps the process alive.
 */
import type { AuditHead } from './auditHead.ts';

/** What is reported: an AuditTrail fits. */
export interface AuditHeadSource {
  readonly controllerId: string;
  readonly head: { seq: number; hash: string };
}

/** The logger method used; a pino logger fits. */
export interface AuditHeadLogger {
  info(obj: object, msg?: string): void;
}

export interface AuditHeadReporterOptions {
  trail: AuditHeadSource;
  logger: AuditHeadLogger;
  /** Between two reports, default one hour. */
  intervalMs?: number;
}

export const DEFAULT_HEAD_INTERVAL_MS = 3_600_000;

export class AuditHeadReporter {
  readonly #trail: AuditHeadSource;
  readonly #logger: AuditHeadLogger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AuditHeadReporterOptions) {
    this.#trail = options.trail;
    this.#logger = options.logger;
    this.#intervalMs = options.intervalMs ?? DEFAULT_HEAD_INTERVAL_MS;
    if (!(this.#intervalMs > 0)) throw new RangeError(`intervalMs must be positive, not ${this.#intervalMs}`);
  }

  /** Reports now, then every interval. A second start() is a no-op. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.report();
    this.#timer = setInterval(() => this.report(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Clears the timer and reports the head one last time (the anchor of a clean shutdown). */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.report();
  }

  /** Logs the head now and returns it. */
  report(): AuditHead {
    const { seq, hash } = this.#trail.head;
    const head: AuditHead = { controllerId: this.#trail.controllerId, seq, hash };
    this.#logger.info({ controllerId: head.controllerId, seq, hash, anchor: `${head.controllerId} ${seq} ${hash}` }, 'audit head');
    return head;
  }
}
