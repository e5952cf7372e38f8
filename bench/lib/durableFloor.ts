/**
 * What one durable write costs on this disk, below the controller: the floor under a durable
 * scan-to-relay. Measured in a directory on the same file system as the store (the benchmark's
 * temp data directory), one write at a time, each timed with performance.now():
 *
 *   fdatasync, append      writeSync of 1 KiB at the end of a file, then fdatasyncSync (the file
 *                          grows: its size is metadata fdatasync must also write)
 *   fdatasync, overwrite   writeSync of 1 KiB at offset 0 of a 1 KiB file, then fdatasyncSync
 *   journal append         what auditJournal.ts does per batch: FileHandle.appendFile of one JSON
 *                          line (~400 B), then FileHandle.datasync(): the same disk work, plus
 *                          libuv's thread pool twice
 *   SQLite commit          one INSERT of an audit-sized row (~300 B) in autocommit on a
 *                          better-sqlite3 connection on this thread, WAL, synchronous = FULL
 *                          (the WAL is fsync'd at every commit), wal_autocheckpoint = 0
 *   writer thread commit   the same INSERT through the store's own writer thread
 *                          (controller/store/sqliteWriter.ts): postMessage, commit, fsync, answer
 *
 * Synchronous calls here block this thread on purpose: nothing else runs meanwhile. The kinds are
 * interleaved, one of each per round, after 50 rounds of warm-up.
 *
 * measureWriterFloorAtRate() is the same writer thread at a scan rate instead of back to back: one
 * audit event's INSERT (the store's own schema and writer, no Kysely, no decision) sent on a timer,
 * open loop, nothing else running in the process. Between two writes the thread sleeps, so each
 * write also pays the wake of an idle thread; it is what every durable grant pays at that rate
 * before anything of the controller's own.
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import Sqlite from 'better-sqlite3';

import { openStore } from '../../controller/store/openStore.ts';
import { SqliteWriter } from '../../controller/store/sqliteWriter.ts';
import { sleep, rounded, summarize, type LatencySummary } from './stats.ts';

export interface DurableFloor {
  directory: string;
  samples: number;
  fdatasyncAppend: LatencySummary;
  fdatasyncOverwrite: LatencySummary;
  journalAppend: LatencySummary;
  sqliteCommit: LatencySummary;
  writerThreadCommit: LatencySummary;
}

const WARMUP = 50;

const ROW = {
  text: 'x'.repeat(120),
  hash: 'f'.repeat(64),
};

type Probe = { label: keyof Omit<DurableFloor, 'directory' | 'samples'>; run: () => unknown };

export async function measureDurableFloor(directory: string, samples = 1000): Promise<DurableFloor> {
  const kib = Buffer.alloc(1024, 0x61);
  const files: string[] = [];

  const appendFile = path.join(directory, 'fsync-append.bin');
  const appendFd = openSync(appendFile, 'a', 0o600);
  const overwriteFile = path.join(directory, 'fsync-overwrite.bin');
  const overwriteFd = openSync(overwriteFile, 'w', 0o600);
  writeSync(overwriteFd, kib, 0, kib.length, 0);
  fdatasyncSync(overwriteFd);

  const journalFile = path.join(directory, 'journal-like.ndjson');
  const handle = await open(journalFile, 'a', 0o600);
  const line = JSON.stringify({ controllerId: 'bench-site', seq: 1, at: Date.now(), type: 'decision', door: 'door-00', scanner: 'door-00-in', subject: '1000000000', kind: 'link', issuer: 0, verdict: 'grant', reason: null, actor: null, data: null, prevHash: ROW.hash, hash: ROW.hash }) + '\n';

  const create = 'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, at INTEGER, a TEXT, b TEXT, prev_hash TEXT, hash TEXT)';
  const insert = 'INSERT INTO t (at, a, b, prev_hash, hash) VALUES (?, ?, ?, ?, ?)';
  const mainFile = path.join(directory, 'commit-main.sqlite');
  const db = new Sqlite(mainFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec(create);
  const stmt = db.prepare(insert);

  const writerFile = path.join(directory, 'commit-writer.sqlite');
  const writer = new SqliteWriter({ file: writerFile, busyTimeoutMs: 5000, onProblem: () => undefined });
  await writer.start();
  await writer.execute(create, []);
  files.push(appendFile, overwriteFile, journalFile, mainFile, writerFile);

  const probes: Probe[] = [
    { label: 'fdatasyncAppend', run: () => (writeSync(appendFd, kib), fdatasyncSync(appendFd)) },
    { label: 'fdatasyncOverwrite', run: () => (writeSync(overwriteFd, kib, 0, kib.length, 0), fdatasyncSync(overwriteFd)) },
    { label: 'journalAppend', run: async () => (await handle.appendFile(line, 'utf8'), await handle.datasync()) },
    { label: 'sqliteCommit', run: () => stmt.run(Date.now(), ROW.text, ROW.text, ROW.hash, ROW.hash) },
    { label: 'writerThreadCommit', run: () => writer.execute(insert, [Date.now(), ROW.text, ROW.text, ROW.hash, ROW.hash]) },
  ];
  // Interleaved, one of each per round in a turning order, so that a noisy moment of the disk is
  // shared by every kind instead of falling on whichever ran then.
  const out = new Map<Probe['label'], number[]>(probes.map((p) => [p.label, []]));
  try {
    for (let n = 0; n < WARMUP + samples; n++) {
      for (let k = 0; k < probes.length; k++) {
        const probe = probes[(n + k) % probes.length]!;
        const t0 = performance.now();
        await probe.run();
        const t = performance.now() - t0;
        if (n >= WARMUP) out.get(probe.label)!.push(t);
      }
    }
  } finally {
    closeSync(appendFd);
    closeSync(overwriteFd);
    await handle.close();
    db.close();
    await writer.close();
    for (const file of files) {
      for (const suffix of ['', '-wal', '-shm']) await rm(file + suffix, { force: true });
    }
  }
  const result = (label: Probe['label']) => rounded(summarize(out.get(label)!));
  return {
    directory,
    samples,
    fdatasyncAppend: result('fdatasyncAppend'),
    fdatasyncOverwrite: result('fdatasyncOverwrite'),
    journalAppend: result('journalAppend'),
    sqliteCommit: result('sqliteCommit'),
    writerThreadCommit: result('writerThreadCommit'),
  };
}

export function durableFloorRows(floor: DurableFloor): Array<[string, LatencySummary]> {
  return [
    ['fdatasync, append 1 KiB (sync)', floor.fdatasyncAppend],
    ['fdatasync, overwrite 1 KiB (sync)', floor.fdatasyncOverwrite],
    ['journal append: appendFile + datasync (async)', floor.journalAppend],
    ['SQLite commit, 1 row, this thread (FULL)', floor.sqliteCommit],
    ['SQLite commit, 1 row, writer thread (FULL)', floor.writerThreadCommit],
  ];
}

/** One audit event as the store writes it (auditQueries.ts), columns named: the INSERT below must match the schema. */
const AUDIT_INSERT =
  'INSERT INTO audit_events (controller_id, seq, at, type, door, scanner, subject, kind, issuer, verdict, reason, actor, data, prev_hash, hash) ' +
  'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

export interface WriterFloorAtRate {
  rate: number;
  seconds: number;
  /** Writes sent together because one came while another was in the thread (group commits). */
  batches: number;
  commit: LatencySummary;
}

/**
 * The writer thread's durable commit of one audit event at `rate` writes a second for `seconds`,
 * on a new store in `directory` (made by openStore, so the table, its indexes and the pragmas are
 * the controller's). Timed from execute() to its promise resolving, as AuditTrail sees it.
 */
export async function measureWriterFloorAtRate(directory: string, rate: number, seconds: number): Promise<WriterFloorAtRate> {
  const store = openStore({ dataDir: directory, quickCheck: false });
  await store.start();
  await store.stop();
  const writer = new SqliteWriter({ file: path.join(directory, 'postern.sqlite'), busyTimeoutMs: 5000, onProblem: () => undefined });
  await writer.start();
  let seq = 0;
  const write = () => {
    seq++;
    const door = `door-${String(seq % 64).padStart(2, '0')}`;
    return writer.execute(AUDIT_INSERT, ['bench-site', seq, Date.now(), 'decision', door, `${door}-in`, String(1_000_000_000 + seq), 'link', 0, 'grant', null, null, null, ROW.hash, ROW.hash]);
  };
  try {
    for (let n = 0; n < WARMUP; n++) await write();
    const before = writer.stats.batches;
    const samples: number[] = [];
    const writes: Array<Promise<void>> = [];
    const interval = 1000 / rate;
    const start = performance.now();
    for (let n = 0; n < rate * seconds; n++) {
      const wait = start + n * interval - performance.now();
      if (wait > 0) await sleep(wait);
      const t0 = performance.now();
      writes.push(write().then(() => void samples.push(performance.now() - t0)));
    }
    await Promise.all(writes);
    return { rate, seconds, batches: writer.stats.batches - before, commit: rounded(summarize(samples)) };
  } finally {
    await writer.close();
  }
}
