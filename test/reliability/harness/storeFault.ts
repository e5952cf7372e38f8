/**
 * Store faults from outside the controller, for the kill loop's fault mode:
 *
 * - PostgreSQL: the controller reaches the server through a TCP proxy on 127.0.0.1:0 that can
 *   cut every connection (a network blip, a server restart) or stall them (a server that stops
 *   answering: packets held, nothing refused);
 * - SQLite: another process takes the file's write lock (BEGIN IMMEDIATE), as a backup tool or
 *   a stuck writer would.
 */
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import Sqlite from 'better-sqlite3';

export type FaultKind = 'cut' | 'stall';

export interface StoreFault {
  /** The DATABASE_URL the controller should use (PostgreSQL), or undefined (SQLite). */
  databaseUrl: string | undefined;
  inject(kind: FaultKind): void;
  heal(): void;
  close(): Promise<void>;
}

export async function postgresFault(databaseUrl: string): Promise<StoreFault> {
  const target = new URL(databaseUrl);
  const targetPort = Number(target.port || 5432);
  const targetHost = target.hostname;
  const pairs = new Set<[Socket, Socket]>();
  let state: 'up' | 'cut' | 'stall' = 'up';
  const server: Server = createServer((client) => {
    if (state === 'cut') {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    for (const s of pair) {
      s.on('error', () => undefined);
      s.on('close', () => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
    if (state === 'stall') {
      client.pause();
      upstream.pause();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const proxied = new URL(databaseUrl);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as { port: number }).port);
  return {
    databaseUrl: proxied.toString(),
    inject(kind) {
      state = kind;
      for (const [client, upstream] of pairs) {
        if (kind === 'cut') {
          client.destroy();
          upstream.destroy();
        } else {
          client.pause();
          upstream.pause();
        }
      }
    },
    heal() {
      state = 'up';
      for (const [client, upstream] of pairs) {
        client.resume();
        upstream.resume();
      }
    },
    async close() {
      state = 'cut';
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** SQLite: the write lock of the site's database file, held by this process while injected. */
export function sqliteFault(dataDir: string): StoreFault {
  let db: Sqlite.Database | undefined;
  return {
    databaseUrl: undefined,
    inject() {
      const file = readdirSync(dataDir).find((f) => f.endsWith('.sqlite'));
      if (!file) throw new Error(`no SQLite file in ${dataDir}`);
      db = new Sqlite(path.join(dataDir, file), { timeout: 10_000 });
      db.exec('BEGIN IMMEDIATE');
    },
    heal() {
      if (db?.inTransaction) db.exec('ROLLBACK');
      db?.close();
      db = undefined;
    },
    async close() {
      this.heal();
    },
  };
}
