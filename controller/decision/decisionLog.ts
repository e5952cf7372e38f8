/**
 * Where a read's decision ends: the scanner actor's `conclude` effect. It turns what the actors
 * decided and what the door answered into the Decision people see, writes the denial's audit event
 * (a grant's event was written by the door, durably, before it opened), answers the driver and
 * tells listeners (API, metrics, CLI). One place, so that every way a read can end is recorded the
 * same way and none is lost.
 */
import type { DoorRefusal } from '../../machines/doorMachine.ts';
import type { Conclusion } from '../../machines/scannerMachine.ts';
import type { Logger } from '../../machines/shared/logger.ts';
import type { AuditTrail } from '../audit/auditTrail.ts';
import type { Outcome } from '../credentials/verifier.ts';
import { decisionRecordOf } from './decide.ts';

/** Why a read ended denied without the verifier saying so. */
export type ReadEndReason = 'stopped' | 'decision-failed';

export interface Decision {
  ref?: number;
  scanner: string;
  door: string;
  verdict: 'grant' | 'deny';
  /** null for a grant */
  reason: Exclude<Outcome, 'grant'> | DoorRefusal | ReadEndReason | null;
  kind: string;
  issuer: number | null;
  subject: string | null;
  at: number;
  auditSeq: number;
  /** From the decision starting to the relay command (grant) or the verdict (deny). */
  latencyMs: number;
}

export interface DecisionLogDependencies {
  audit: Pick<AuditTrail, 'append'>;
  logger: Logger;
  clock: () => number;
}

export class DecisionLog {
  private readonly listeners = new Set<(decision: Decision) => void>();
  /** Denials being recorded: idle() waits for them. */
  private readonly recording = new Set<Promise<void>>();

  constructor(private readonly deps: DecisionLogDependencies) {}

  onDecision(listener: (decision: Decision) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records and announces one read's end. Never throws: a conclusion is an effect of the actors. */
  conclude(conclusion: Conclusion): void {
    const record = decisionRecordOf(conclusion.decided);
    const answer = conclusion.answer;
    const base = {
      ref: conclusion.ref,
      scanner: conclusion.scannerId,
      door: conclusion.door,
      kind: record?.kind ?? 'unknown',
      issuer: record?.issuer ?? null,
      subject: record?.subject ?? null,
      at: (record?.entry.at as number | undefined) ?? this.deps.clock(),
    };
    const latencyMs = record ? performance.now() - record.startedAt : 0;

    if (answer?.opened) {
      // The door wrote the grant's event before it opened; its seq comes with the answer.
      this.announce({ ...base, verdict: 'grant', reason: null, auditSeq: answer.grantSeq ?? 0, latencyMs }, conclusion);
      return;
    }
    const reason = denialReason(conclusion, record?.entry.reason as Decision['reason'] | undefined);
    // A refusal after the door wrote its grant record voids that record, and says so.
    const voids = answer?.grantSeq ?? null;
    const data = { ...(record?.entry.data ?? (record ? null : { length: conclusion.textLength })), ...(voids !== null ? { voids } : {}) };
    const entry = {
      ...(record?.entry ?? { type: 'decision' as const, door: conclusion.door, scanner: conclusion.scannerId, kind: 'unknown', actor: null }),
      at: base.at,
      verdict: 'deny' as const,
      reason,
      data: Object.keys(data).length > 0 ? data : null,
    };
    const recorded = this.deps.audit
      .append(entry)
      .then((event) => this.announce({ ...base, verdict: 'deny', reason, auditSeq: event.seq, latencyMs }, conclusion))
      .catch((error: unknown) => this.deps.logger.error({ err: error, door: conclusion.door, scanner: conclusion.scannerId }, 'denial could not be recorded'))
      .finally(() => this.recording.delete(recorded));
    this.recording.add(recorded);
  }

  /** Resolves once every conclusion so far is recorded and announced (the controller's stop waits). */
  async idle(): Promise<void> {
    while (this.recording.size > 0) await Promise.all([...this.recording]);
  }

  private announce(decision: Decision, conclusion: Conclusion): void {
    this.deps.logger.info(
      // The text itself is never logged; its length tells a garbled read from a code.
      { door: decision.door, scanner: decision.scanner, verdict: decision.verdict, reason: decision.reason, subject: decision.subject, length: conclusion.textLength, seq: decision.auditSeq },
      'decision',
    );
    for (const listener of this.listeners) listener(decision);
  }
}

function denialReason(conclusion: Conclusion, verifierReason: Decision['reason'] | undefined): NonNullable<Decision['reason']> {
  if (conclusion.answer && !conclusion.answer.opened) return conclusion.answer.reason ?? 'door-fault';
  switch (conclusion.failure) {
    case 'overflow':
      return 'throttled';
    case 'stopped':
      return 'stopped';
    case 'door-silent':
      return 'door-fault';
    case 'decide-failed':
      return 'decision-failed';
    case null:
      return verifierReason ?? 'decision-failed';
  }
}
