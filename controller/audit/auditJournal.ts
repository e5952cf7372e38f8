/**
 * AuditJournal: the local, append-only file that keeps audit events durable while the store cannot
 * take them (PostgreSQL down, SQLite locked by another process, a store slower than the door may
 * wait). One JSON line per event, fsync'd (fdatasync) before an append resolves.
 *
 * - Appends and clears run one after another (a promise chain), so a clear never overtakes an
 *   append that was asked for before it.
 * - A line torn by a power cut can only be the last one, and its append never resolved, so nobody
 *   was told it was durable: read() skips it and says so.
 * - The file is created 0600 (events name subjects and doors) and never read by anyone else.
 */
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

import type { AuditEvent } from '../store/storeTypes.ts';

export interface JournalLogger {
  warn(obj: object, msg?: string): void;
}

export class AuditJournal {
  readonly file: string;
  readonly #logger: JournalLogger | undefined;
  #handle: FileHandle | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #lines = 0;

  constructor(options: { file: string; logger?: JournalLogger }) {
    this.file = options.file;
    this.#logger = options.logger;
  }

  /** Events the journal holds (from an earlier run, or this one), in the order written. */
  async read(): Promise<AuditEvent[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const events: AuditEvent[] = [];
    const lines = text.split('\n');
    for (const [index, line] of lines.entries()) {
      if (line === '') continue;
      try {
        events.push(JSON.parse(line) as AuditEvent);
      } catch {
        // Only a last line can be torn (the write that was cut never resolved); anything else is damage.
        this.#logger?.warn({ file: this.file, line: index + 1, last: index >= lines.length - 2 }, 'audit journal line is unreadable; skipped');
      }
    }
    this.#lines = events.length;
    return events;
  }

  /** Lines written and not cleared. */
  get size(): number {
    return this.#lines;
  }

  /** Writes the events and waits for the disk; rejects (ENOSPC, EROFS, EIO...) when it cannot. */
  append(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const text = events.map((event) => JSON.stringify(event)).join('\n') + '\n';
    return this.#enqueue(async () => {
      const handle = await this.#open();
      await handle.appendFile(text, 'utf8');
      await handle.datasync();
      this.#lines += events.length;
    });
  }

  /** Empties the journal if `safe()` still says so when the clear runs (everything in it is stored). */
  clear(safe: () => boolean): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#lines === 0 || !safe()) return;
      const handle = await this.#open();
      await handle.truncate(0);
      await handle.datasync();
      this.#lines = 0;
    });
  }

  async close(): Promise<void> {
    await this.#enqueue(async () => {
      await this.#handle?.close();
      this.#handle = undefined;
    });
  }

  async #open(): Promise<FileHandle> {
    if (this.#handle === undefined) {
      // A site on PostgreSQL may never have made its data directory: the journal makes it (0700).
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      this.#handle = await open(this.file, 'a', 0o600);
    }
    return this.#handle;
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(work);
    this.#chain = run.catch(() => undefined);
    return run;
  }
}
