/**
 * Requests the controller makes of its hub over the open sync link, answered by id: today the
 * `confirm` of an online-only code (docs/sync.md, "Confirmations").
 *
 * The link (hubLink.ts) attaches its `send` once the hub's `welcome` arrived and detaches it when
 * the socket closes; every request still waiting is then settled `offline` at once, so a door never
 * waits for an answer that cannot come. Without an attached link a request is `offline` at once
 * too: the decision path asks `open` first and never waits on a link that is down.
 *
 * Answers are handed here by the link as soon as they arrive (not behind a snapshot being applied).
 * An answer to no waiting request (it timed out, or another link's) is ignored.
 */
import type { HubFrame } from './syncFrames.ts';

export type ConfirmedFrame = Extract<HubFrame, { type: 'confirmed' }>;

/** What a confirm comes back with: the hub's answer, or `offline` when none came in time. */
export type HubConfirmAnswer = { answer: ConfirmedFrame['answer'] | 'offline'; uses?: number };

/** Requests waiting for their answer, at most (as many as the hub takes in flight: beyond, `busy` here). */
export const MAX_REQUESTS_IN_FLIGHT = 64;

interface Waiting {
  settle(answer: HubConfirmAnswer): void;
  timer: NodeJS.Timeout;
}

export class HubRequests {
  #send: ((frame: object) => void) | undefined;
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 1;

  /** Whether a link is open (welcomed) to send requests on. */
  get open(): boolean {
    return this.#send !== undefined;
  }

  /** Requests waiting for their answer. */
  get inFlight(): number {
    return this.#waiting.size;
  }

  /** The link is welcomed: requests go out on it from now on. */
  attach(send: (frame: object) => void): void {
    this.#send = send;
  }

  /** The link closed (only the one attached: a late close of an older link changes nothing). */
  detach(send?: (frame: object) => void): void {
    if (send !== undefined && this.#send !== send) return;
    this.#send = undefined;
    for (const [id, waiting] of this.#waiting) {
      this.#waiting.delete(id);
      waiting.settle({ answer: 'offline' });
    }
  }

  /**
   * Asks the hub to confirm one use of an online-only code; `offline` when no link is open, when the
   * link closes first, or after `timeoutMs`. `maxUses`: only for a link this controller holds.
   */
  confirm(issuer: number, subject: string, maxUses: number | null | undefined, timeoutMs: number): Promise<HubConfirmAnswer> {
    const send = this.#send;
    if (send === undefined || timeoutMs <= 0) return Promise.resolve({ answer: 'offline' });
    if (this.#waiting.size >= MAX_REQUESTS_IN_FLIGHT) return Promise.resolve({ answer: 'busy' });
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const settle = (answer: HubConfirmAnswer) => {
        clearTimeout(waiting.timer);
        this.#waiting.delete(id);
        resolve(answer);
      };
      const waiting: Waiting = { settle, timer: setTimeout(() => settle({ answer: 'offline' }), timeoutMs) };
      this.#waiting.set(id, waiting);
      try {
        send({ type: 'confirm', id, issuer, subject, ...(maxUses !== undefined ? { maxUses } : {}) });
      } catch {
        settle({ answer: 'offline' });
      }
    });
  }

  /** A `confirmed` frame from the hub. */
  answered(frame: ConfirmedFrame): void {
    this.#waiting.get(frame.id)?.settle({ answer: frame.answer, ...(frame.uses !== undefined ? { uses: frame.uses } : {}) });
  }
}
