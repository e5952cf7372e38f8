/**
 * The body of SQLite's writer thread (sqliteWriter.ts starts it), as plain CommonJS source: it is
 * run with `eval: true` so that it starts in a few milliseconds and runs the same from the sources
 * (tsx) and from dist/, with no TypeScript loader in the thread (the decoder pool needs one; a
 * store opened by every CLI command and many times per test file should not pay for it).
 *
 * The thread holds the only connection that writes: journal_mode = WAL, synchronous = FULL (every
 * commit is fsync'd before its promise resolves, so it survives a power cut), foreign keys on,
 * busy_timeout = the store's busyTimeoutMs (a write waits that long for another process's lock,
 * then fails with SQLITE_BUSY, which the store reports as STORE_UNAVAILABLE).
 *
 * Messages, one at a time (the main thread waits for each answer before it sends the next):
 *   batch {statements}       group commit: every statement in one BEGIN IMMEDIATE ... COMMIT, each
 *                            in its own savepoint so that one failing (a CONFLICT) undoes only its
 *                            own changes; one statement alone runs in autocommit
 *   begin / exec / commit / rollback
 *                            an interactive transaction (Kysely's db.transaction()), BEGIN IMMEDIATE
 *   close                    closes the connection (the last one to close checkpoints the WAL)
 *
 * Checkpoints belong to this thread too, replacing the separate checkpointer thread: automatic
 * checkpoints are off (they would run inside a commit), and this thread runs a PASSIVE checkpoint
 * once a second between writes, on the one connection that writes, so a checkpoint never contends
 * with Postern's own writes for the write lock. PASSIVE never waits for readers, so under constant
 * reads it may never reach the end of the log and the log is never restarted: the -wal file grew
 * to 1.8 GB in hours of scanning. So after every commit (and every second) the -wal file size is
 * checked (one stat), and past walLimitBytes a TRUNCATE checkpoint runs with a short busy wait: it
 * waits at most checkpointBusyMs for readers to move to the newest snapshot (the main thread's reads
 * are single statements of well under a millisecond), copies the rest and empties the file. While
 * it runs, writes queue in the main thread and are then committed together. One that a reader still
 * holds up (a thread descheduled mid-read on a loaded machine, or a reader that never lets go) is
 * tried again 250 ms later, or as soon as the log has grown by another walLimitBytes, so one such
 * miss costs at most one more limit whatever the write rate. journal_size_limit caps what a
 * restarted log keeps on disk.
 */
export const SQLITE_WRITER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const Database = require(workerData.module);

const { file, busyTimeoutMs, walLimitBytes, checkpointEveryMs, checkpointBusyMs } = workerData;
const walFile = file + '-wal';
const STATEMENT_CACHE = 200;

function errorOf(error) {
  const code = error && typeof error.code === 'string' ? error.code : undefined;
  const out = { message: String((error && error.message) || error), code };
  if (code !== undefined && code.startsWith('SQLITE_BUSY')) out.waitedMs = busyTimeoutMs;
  return out;
}

let db;
try {
  db = new Database(file, { timeout: busyTimeoutMs });
  // Reading the schema checks the header: a file that is not a database fails here, unwritten.
  db.prepare('SELECT count(*) AS n FROM sqlite_master').get();
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (String(mode).toLowerCase() !== 'wal') throw Object.assign(new Error('journal_mode stays ' + mode + ', not wal'), { code: 'SQLITE_READONLY' });
  db.pragma('synchronous = FULL');
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('journal_size_limit = ' + Math.trunc(walLimitBytes));
  db.pragma('foreign_keys = ON');
} catch (error) {
  try {
    if (db) db.close();
  } catch {
    // the error that stopped the open is the one to report
  }
  db = undefined;
  parentPort.postMessage({ type: 'open-failed', error: errorOf(error) });
}

if (db !== undefined) {
  const statements = new Map();
  const prepare = (sql) => {
    let stmt = statements.get(sql);
    if (stmt === undefined) {
      stmt = db.prepare(sql);
      if (statements.size >= STATEMENT_CACHE) statements.delete(statements.keys().next().value);
      statements.set(sql, stmt);
    }
    return stmt;
  };
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const savepoint = db.prepare('SAVEPOINT postern_statement');
  const release = db.prepare('RELEASE postern_statement');
  const rollbackTo = db.prepare('ROLLBACK TO postern_statement');

  const run = (sql, params) => {
    const stmt = prepare(sql);
    if (stmt.reader) return { rows: stmt.all(params) };
    const result = stmt.run(params);
    return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
  };

  const walSize = () => {
    try {
      return fs.statSync(walFile).size;
    } catch {
      return 0;
    }
  };

  // After a truncation that failed, the next is not tried before nextTruncateAt, unless (after one
  // a reader held up) the log has grown past retryPastBytes first: a wait in time alone lets a burst
  // of writes (a hub's snapshot, a flood of scans) grow the log by whatever it writes meanwhile.
  let nextTruncateAt = 0;
  let retryPastBytes = Infinity;
  let lastProblemAt = -Infinity;
  const problem = (error) => {
    // At most one report a minute: a log that cannot be checkpointed fails every second.
    const now = Date.now();
    if (now - lastProblemAt < 60_000) return;
    lastProblemAt = now;
    parentPort.postMessage({ type: 'problem', kind: 'wal-checkpoint', error: errorOf(error) });
  };
  const checkpoint = (mode, waitMs) => {
    db.pragma('busy_timeout = ' + waitMs);
    try {
      return db.pragma('wal_checkpoint(' + mode + ')')[0];
    } finally {
      db.pragma('busy_timeout = ' + busyTimeoutMs);
    }
  };
  const boundWal = () => {
    if (db.inTransaction) return;
    const size = walSize();
    if (size <= walLimitBytes || (Date.now() < nextTruncateAt && size <= retryPastBytes)) return;
    try {
      const row = checkpoint('TRUNCATE', checkpointBusyMs);
      if (row && row.busy) {
        // A reader held an old snapshot longer than the short wait.
        const left = walSize();
        nextTruncateAt = Date.now() + 250;
        retryPastBytes = left + walLimitBytes;
        if (left > 4 * walLimitBytes) problem(new Error('the write-ahead log ' + walFile + ' passed ' + left + ' bytes: a reader keeps an old snapshot open'));
      } else {
        nextTruncateAt = 0;
        retryPastBytes = Infinity;
      }
    } catch (error) {
      nextTruncateAt = Date.now() + 1000;
      retryPastBytes = Infinity;
      problem(error);
    }
  };
  const tick = () => {
    if (db.inTransaction) return;
    try {
      checkpoint('PASSIVE', 0);
    } catch (error) {
      problem(error);
    }
    boundWal();
  };
  const timer = setInterval(tick, checkpointEveryMs);

  const batch = (list) => {
    if (list.length === 1) {
      try {
        return [{ ok: true, ...run(list[0].sql, list[0].params) }];
      } catch (error) {
        return [{ ok: false, error: errorOf(error) }];
      }
    }
    const failAll = (error) => list.map(() => ({ ok: false, error: errorOf(error) }));
    try {
      begin.run();
    } catch (error) {
      return failAll(error);
    }
    const results = [];
    for (const { sql, params } of list) {
      savepoint.run();
      try {
        const result = run(sql, params);
        release.run();
        results.push({ ok: true, ...result });
      } catch (error) {
        if (!db.inTransaction) {
          // SQLite rolled the whole transaction back (I/O error, disk full): the statements before
          // this one are undone too, so every one of them fails with this error.
          return failAll(error);
        }
        try {
          rollbackTo.run();
          release.run();
        } catch (undo) {
          try {
            if (db.inTransaction) rollback.run();
          } catch {
            // the connection is unusable; the error below says why
          }
          return failAll(undo);
        }
        results.push({ ok: false, error: errorOf(error) });
      }
    }
    try {
      commit.run();
    } catch (error) {
      try {
        if (db.inTransaction) rollback.run();
      } catch {
        // reported below
      }
      return failAll(error);
    }
    return results;
  };

  parentPort.on('message', (message) => {
    const { id, type } = message;
    try {
      switch (type) {
        case 'batch': {
          const results = batch(message.statements);
          parentPort.postMessage({ id, results });
          boundWal();
          return;
        }
        case 'begin':
          begin.run();
          parentPort.postMessage({ id, result: {} });
          return;
        case 'exec':
          parentPort.postMessage({ id, result: run(message.sql, message.params) });
          return;
        case 'commit':
          try {
            commit.run();
          } catch (error) {
            if (db.inTransaction) rollback.run();
            throw error;
          }
          parentPort.postMessage({ id, result: {} });
          boundWal();
          return;
        case 'rollback':
          if (db.inTransaction) rollback.run();
          parentPort.postMessage({ id, result: {} });
          return;
        case 'close':
          clearInterval(timer);
          if (db.inTransaction) rollback.run();
          db.close();
          parentPort.postMessage({ id, result: {} });
          parentPort.close();
          return;
        default:
          throw new Error('unknown message ' + type);
      }
    } catch (error) {
      parentPort.postMessage({ id, error: errorOf(error) });
    }
  });
  parentPort.postMessage({ type: 'ready' });
}
`;
