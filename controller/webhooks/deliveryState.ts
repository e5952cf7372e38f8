/**
 * An outbound webhook's durable delivery state: how far along the audit trail it has delivered
 * (the cursor), and the events it gave up on (dead letters). One small JSON file per endpoint in
 * the data directory, written whole to a new file that is fsync'd and renamed over the old one,
 * so a power cut leaves either the old state or the new, never half of one.
 *
 * The audit trail itself is the outbox: it is durable, ordered and numbered already, so an
 * endpoint needs only its cursor to know what is still to send, across restarts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { makePrivateDir, writePrivateFile } from '../secureFiles.ts';

export interface DeadLetter {
  /** The event id the receiver would have seen. */
  id: string;
  seq: number;
  type: string;
  attempts: number;
  /** Why the last attempt failed. */
  error: string;
  /** unix ms when it was given up on */
  at: number;
}

export interface DeliveryStateData {
  /** The chain this cursor follows: a store replaced by another starts over. */
  controllerId: string;
  /** Every event with seq <= cursor is delivered, skipped by the filters, or a dead letter. */
  cursor: number;
  delivered: number;
  deadLetters: DeadLetter[];
  /** Dead letters ever, including those dropped from the list. */
  deadLettersTotal: number;
}

/** The newest dead letters kept; older ones are counted only. */
export const MAX_DEAD_LETTERS = 1000;

export class DeliveryState {
  #data: DeliveryStateData;
  readonly #file: string;

  private constructor(file: string, data: DeliveryStateData) {
    this.#file = file;
    this.#data = data;
  }

  /** The state of endpoint `id`; a new endpoint starts at `head`: it gets what happens from now on. */
  static async open(dataDir: string, id: string, controllerId: string, head: number): Promise<DeliveryState> {
    const dir = path.join(dataDir, 'webhooks');
    await makePrivateDir(dir);
    const file = path.join(dir, `${id}.json`);
    const saved = await readFile(file, 'utf8').then(
      (text) => JSON.parse(text) as DeliveryStateData,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      },
    );
    // A cursor beyond the head belongs to another store (restored, or replaced): start over from now.
    const fresh = saved === undefined || saved.controllerId !== controllerId || saved.cursor > head;
    const state = new DeliveryState(file, fresh ? { controllerId, cursor: head, delivered: 0, deadLetters: [], deadLettersTotal: 0 } : saved);
    if (fresh) await state.save();
    return state;
  }

  get data(): Readonly<DeliveryStateData> {
    return this.#data;
  }

  /** Moves the cursor (delivered or skipped events) and saves. */
  async advance(cursor: number, delivered: number): Promise<void> {
    this.#data = { ...this.#data, cursor, delivered: this.#data.delivered + delivered };
    await this.save();
  }

  async deadLetter(letter: DeadLetter): Promise<void> {
    const deadLetters = [...this.#data.deadLetters, letter].slice(-MAX_DEAD_LETTERS);
    this.#data = { ...this.#data, cursor: Math.max(this.#data.cursor, letter.seq), deadLetters, deadLettersTotal: this.#data.deadLettersTotal + 1 };
    await this.save();
  }

  /** Takes a dead letter off the list (it was delivered after all). */
  async forget(id: string): Promise<boolean> {
    const kept = this.#data.deadLetters.filter((d) => d.id !== id);
    if (kept.length === this.#data.deadLetters.length) return false;
    this.#data = { ...this.#data, deadLetters: kept };
    await this.save();
    return true;
  }

  private save(): Promise<void> {
    return writePrivateFile(this.#file, JSON.stringify(this.#data));
  }
}
