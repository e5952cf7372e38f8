/**
 * The hot path: scan text → verify → door → relay, with the audit event in the store in the same
 * step. Nothing here calls the network except what the verifier must (online-only links, and
 * webhooks for text that is no Postern code): that wait happens inside the scanner's own queue,
 * so it holds back that scanner's next read and never another scanner's.
 */
import type { AuditTrail } from '../audit/auditTrail.ts';
import type { Logger } from '../logger.ts';
import type { AuditEvent } from '../store/storeTypes.ts';
import type { Outcome, Verification, Verifier } from '../credentials/verifier.ts';
import { redactScan } from '../credentials/credentialCodec.ts';

/** Why a valid code still does not open the door. */
export type DoorRefusal = 'lockdown' | 'door-fault';

/** Reads waiting for one scanner beyond this are denied at once: a device cannot read that fast. */
const MAX_QUEUED_PER_SCANNER = 32;
const overflow: Verification = { outcome: 'throttled', kind: 'unknown', issuer: null, subject: null, scope: null };

export interface Scan {
  scanner: string;
  door: string;
  text: string;
  /** The driver's handle on the read, returned in the decision (network scanners answer with it). */
  ref?: number;
}

export interface Decision {
  ref?: number;
  scanner: string;
  door: string;
  verdict: 'grant' | 'deny';
  /** null for a grant */
  reason: Exclude<Outcome, 'grant'> | DoorRefusal | null;
  kind: string;
  issuer: number | null;
  subject: string | null;
  at: number;
  auditSeq: number;
  /** From the decision service taking the scan to the relay command (grant) or verdict (deny). */
  latencyMs: number;
}

export interface DecisionServiceDependencies {
  verifier: Verifier;
  audit: Pick<AuditTrail, 'append'>;
  /** The door's reason to refuse a valid code right now, if it has one. */
  doorRefusal(door: string): DoorRefusal | undefined;
  /** Opens the door: the site actor takes it from here to the relay. */
  openDoor(door: string): void;
  logger: Logger;
  clock?: () => number;
}

export class DecisionService {
  private readonly listeners = new Set<(decision: Decision) => void>();
  private readonly queues = new Map<string, { tail: Promise<unknown>; depth: number }>();
  private readonly clock: () => number;

  constructor(private readonly deps: DecisionServiceDependencies) {
    this.clock = deps.clock ?? Date.now;
  }

  /**
   * Decides scans of one scanner one after another, as the device read them, so that a flood from
   * one scanner is throttled in order and never fans out into parallel verifications. Scans of
   * different scanners are decided concurrently.
   */
  decide(scan: Scan): Promise<Decision> {
    const queue = this.queues.get(scan.scanner);
    if (queue !== undefined && queue.depth >= MAX_QUEUED_PER_SCANNER) return this.settle(scan, this.clock(), overflow);
    const entry = queue ?? { tail: Promise.resolve(), depth: 0 };
    entry.depth++;
    this.queues.set(scan.scanner, entry);
    const result = entry.tail.then(() => this.decideNow(scan));
    entry.tail = result.then(
      () => undefined,
      () => undefined,
    );
    void entry.tail.then(() => {
      if (--entry.depth === 0) this.queues.delete(scan.scanner);
    });
    return result;
  }

  private async decideNow(scan: Scan): Promise<Decision> {
    const started = performance.now();
    const at = this.clock();
    return this.settle(scan, at, await this.deps.verifier.verify({ ...scan, now: at }), started);
  }

  private async settle(scan: Scan, at: number, verification: Verification, started = performance.now()): Promise<Decision> {
    const refusal = verification.outcome === 'grant' ? this.deps.doorRefusal(scan.door) : undefined;
    const granted = verification.outcome === 'grant' && refusal === undefined;
    const reason = granted ? null : (refusal ?? (verification.outcome as Exclude<Outcome, 'grant'>));
    const event: AuditEvent = await this.deps.audit.append({
      at,
      type: 'decision',
      door: scan.door,
      scanner: scan.scanner,
      subject: verification.subject,
      kind: verification.kind,
      issuer: verification.issuer,
      verdict: granted ? 'grant' : 'deny',
      reason,
      actor: null,
      // Text that is no Postern code is recorded by its length only; a webhook's answer by what the
      // delegation chose to keep of it (subject name, reason, failure detail; never text or secret).
      data: verification.delegation ? { length: scan.text.length, delegation: verification.delegation } : verification.kind === 'unknown' ? { length: scan.text.length } : null,
    });
    if (granted) this.deps.openDoor(scan.door);
    const decision: Decision = {
      ref: scan.ref,
      scanner: scan.scanner,
      door: scan.door,
      verdict: granted ? 'grant' : 'deny',
      reason,
      kind: verification.kind,
      issuer: verification.issuer,
      subject: verification.subject,
      at,
      auditSeq: event.seq,
      latencyMs: performance.now() - started,
    };
    this.deps.logger.info(
      { door: scan.door, scanner: scan.scanner, verdict: decision.verdict, reason, subject: decision.subject, scan: redactScan(scan.text) },
      'decision',
    );
    for (const listener of this.listeners) listener(decision);
    return decision;
  }

  onDecision(listener: (decision: Decision) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
