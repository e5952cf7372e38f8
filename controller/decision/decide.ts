/**
 * The `decide` actor's work: the checks a read goes through before its door is asked, in order.
 * The verifier runs the credential format's checks (throttle gate, MAC, window, revocation, scope,
 * single use) and then the site's policy steps (verifier.ts); nothing here reads a door's state:
 * whether a valid code opens the door is the door actor's answer.
 *
 * What comes out is the decision and the audit record it will need: for a grant, the record the
 * door writes before its relay moves; for a denial, the record the scanner's conclusion writes.
 */
import type { DecideInput, Decided } from '../../machines/scannerMachine.ts';
import type { AuditEntry } from '../audit/auditTrail.ts';
import type { Verification, Verifier } from '../credentials/verifier.ts';

/** The opaque record a decision carries through the actors (GrantRecord to the machines). */
export interface DecisionRecord {
  /** The audit event: with verdict 'grant' as the door writes it, or 'deny' with the reason. */
  entry: AuditEntry;
  /** performance.now() when the decision started, for scan-to-relay latency. */
  startedAt: number;
  kind: string;
  issuer: number | null;
  subject: string | null;
  [key: string]: unknown;
}

export function decisionRecordOf(decided: Decided | null): DecisionRecord | null {
  return decided === null ? null : (decided.record as DecisionRecord);
}

export interface DecideDependencies {
  verifier: Pick<Verifier, 'verify'>;
  clock: () => number;
}

export function createDecide({ verifier, clock }: DecideDependencies): (input: DecideInput) => Promise<Decided> {
  return async ({ scannerId, door, text }) => {
    const startedAt = performance.now();
    const at = clock();
    const verification = await verifier.verify({ text, door, scanner: scannerId, now: at });
    const grant = verification.outcome === 'grant';
    const record: DecisionRecord = {
      entry: {
        at,
        type: 'decision',
        door,
        scanner: scannerId,
        subject: verification.subject,
        kind: verification.kind,
        issuer: verification.issuer,
        verdict: grant ? 'grant' : 'deny',
        reason: grant ? null : verification.outcome,
        actor: null,
        data: recordData(verification, text.length),
      },
      startedAt,
      kind: verification.kind,
      issuer: verification.issuer,
      subject: verification.subject,
    };
    return { grant, record };
  };
}

/**
 * Text that is no Postern code is recorded by its length only; a webhook's answer by what the
 * delegation chose to keep of it (subject name, reason, failure detail; never text or secret).
 * A rotating code's time step is kept: its grant is the durable mark that the step is used
 * (replayGuard.ts reloads it at start).
 */
function recordData(verification: Verification, length: number): Record<string, unknown> | null {
  if (verification.delegation) return { length, delegation: verification.delegation };
  if (verification.step !== undefined) return { step: verification.step };
  return verification.kind === 'unknown' ? { length } : null;
}
