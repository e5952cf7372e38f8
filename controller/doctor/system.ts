/**
 * What the doctor asks of the machine, in one place, so that tests can put a fake in for each part
 * (a full disk, a missing tool, an unsynchronised clock, a device the user cannot open) while the
 * checks themselves run unchanged. The defaults are the real thing; none of them changes anything.
 */
import { execFile } from 'node:child_process';
import { constants as fsConstants, readFileSync } from 'node:fs';
import { access, readFile, statfs } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { parseStateReport, HID_RELAY_REPORT_LENGTH, HID_RELAY_STATE_REPORT_ID } from '../../drivers/doorIo/hidRelayBoard.ts';
import { projectRoot } from '../projectRoot.ts';

/** Free and total space of the file system holding a path (statfs(2)). */
export interface SpaceInfo {
  /** Block size in bytes. */
  bsize: number;
  /** Blocks in all. */
  blocks: number;
  /** Blocks free for an unprivileged user. */
  bavail: number;
  /** Inodes in all, and free. */
  files: number;
  ffree: number;
}

/** How a command ended: `missing` when it could not be started at all (ENOENT). */
export interface RunResult {
  missing: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface DoctorSystem {
  /** The user the checks are made for: the running process's. */
  uid: number;
  /** A user's name, for messages; `uid N` when unknown. */
  userName(uid: number): string;
  /** The running Node.js version (process.versions.node). */
  nodeVersion: string;
  statfs(file: string): Promise<SpaceInfo>;
  /** access(2) for the running user: R_OK, W_OK, X_OK; rejects with the errno. */
  access(file: string, mode: number): Promise<void>;
  /** Runs a program with a time limit; never rejects. */
  run(command: string, args: string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult>;
  /** Where sysfs is mounted ('/sys'): class/hidraw/<node>/device/uevent names each HID device. */
  sysRoot: string;
  /** Where the device nodes are ('/dev'). */
  devRoot: string;
  /** The flag file systemd-timesyncd keeps while the clock is synchronised. */
  timesyncFile: string;
  /** The built operator pages (webui/dist of the installed package). */
  webDistDir: string;
  /** Loads node-hid (its native part included), as the HID drivers do when they start. */
  loadNodeHid(): Promise<void>;
  /** The id a USBRelay board at this hidraw node reports (its state report), as the relay driver reads it. */
  readRelaySerial(devicePath: string): Promise<string>;
  /** Loads better-sqlite3 (its native part) and opens an in-memory database; returns SQLite's version. */
  sqliteVersion(): Promise<string>;
  /** Connects to PostgreSQL and returns the server's version; rejects with the reason. */
  postgresVersion(databaseUrl: string, timeoutMs: number): Promise<string>;
}

export const ACCESS = { R: fsConstants.R_OK, W: fsConstants.W_OK, X: fsConstants.X_OK } as const;

export function defaultSystem(): DoctorSystem {
  return {
    uid: process.getuid?.() ?? -1,
    userName,
    nodeVersion: process.versions.node,
    statfs: async (file) => {
      const s = await statfs(file);
      return { bsize: s.bsize, blocks: s.blocks, bavail: s.bavail, files: s.files, ffree: s.ffree };
    },
    access: (file, mode) => access(file, mode),
    run: runProgram,
    sysRoot: '/sys',
    devRoot: '/dev',
    timesyncFile: '/run/systemd/timesync/synchronized',
    webDistDir: path.join(projectRoot(), 'webui', 'dist'),
    loadNodeHid: async () => {
      const hid = await import('node-hid');
      // The native part loads on first use, not at the import.
      await hid.devicesAsync();
    },
    readRelaySerial: async (devicePath) => {
      const hid = await import('node-hid');
      const device = await hid.HIDAsync.open(devicePath);
      try {
        const report = await device.getFeatureReport(HID_RELAY_STATE_REPORT_ID, HID_RELAY_REPORT_LENGTH);
        return parseStateReport(report).serial;
      } finally {
        await device.close().catch(() => undefined);
      }
    },
    sqliteVersion: async () => {
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(':memory:');
      try {
        return String(db.prepare('select sqlite_version() as v').pluck().get());
      } finally {
        db.close();
      }
    },
    postgresVersion: async (databaseUrl, timeoutMs) => {
      const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const result = await client.query<{ server_version: string }>('show server_version');
        return result.rows[0]?.server_version ?? 'unknown';
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}

let passwd: Map<number, string> | undefined;

/** The name of a uid from /etc/passwd (read once), else `uid N`. */
export function userName(uid: number): string {
  if (uid === process.getuid?.()) {
    try {
      return userInfo().username;
    } catch {
      // no entry for this uid: fall through
    }
  }
  return passwdNames().get(uid) ?? `uid ${uid}`;
}

function passwdNames(): Map<number, string> {
  if (passwd !== undefined) return passwd;
  passwd = new Map();
  try {
    // Synchronous on purpose: read once, small, and only for messages.
    const text = readFileSync('/etc/passwd', 'utf8');
    for (const line of text.split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id && /^\d+$/.test(id)) passwd.set(Number(id), name);
    }
  } catch {
    // no /etc/passwd: names stay numbers
  }
  return passwd;
}

function runProgram(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(command, args, { env: options.env ?? process.env, timeout: options.timeoutMs ?? 5000, maxBuffer: 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const errno = (error as NodeJS.ErrnoException | null)?.code;
      if (errno === 'ENOENT' || errno === 'EACCES') return resolve({ missing: true, code: null, stdout: '', stderr: String(error?.message ?? '') });
      const code = error === null ? 0 : typeof errno === 'number' ? errno : null;
      resolve({ missing: false, code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Reads a small text file, or undefined when it cannot be read. */
export async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}
