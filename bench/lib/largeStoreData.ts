/** What bench/largeStore.ts and its child process bench/startProbe.ts share: the data layout and the messages. */

/** Subject ranges of the benchmark store: credentials and revoked links are filled, valid links are not stored at all. */
export const CREDENTIAL_BASE = 5_000_000_000n;
export const REVOKED_BASE = 7_000_000_000n;
export const VALID_LINK_BASE = 9_000_000_000n;

/** The secret of bench credential `id` is sha256 of this text (UTF-8), in SQLite and PostgreSQL alike. */
export function benchSecretText(id: string): string {
  return `postern-bench-credential-${id}`;
}

export interface ProbeJob {
  dataDir: string;
  databaseUrl?: string;
  /** How many scans through the controller; 0 measures start and memory only. */
  decisions: number;
  /** How many Verifier.verify calls in each of the two verifier runs; 0 skips them. */
  verifications: number;
  credentials: number;
  revocations: number;
  seed: number;
  /** Write V8's sampling heap profile of the burst here (memory investigation only). */
  heapProfile?: string;
}

export interface KindStats {
  count: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export interface ProbeResult {
  importsDoneMs: number;
  /** Whether the probe set the controller's heap growth itself (not when node's options set it). */
  heapTuned: boolean;
  processStartToStartedMs: number;
  startMs: number;
  rssAfterStart: number;
  heapUsedAfterStart: number;
  decisions?: { count: number; seconds: number; perSecond: number; verdicts: Record<string, number>; expected: Record<string, number> };
  rssAfterDecisions?: number;
  /** Highest values sampled every 50 ms during the burst. */
  peaksDuringDecisions?: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  heapUsedAfterDecisions?: number;
  heapTotalAfterDecisions?: number;
  /** After the controller was left idle for 10 s following the burst. */
  rssAfterIdle?: number;
  heapTotalAfterIdle?: number;
  /** After a forced full GC (the probe runs with --expose-gc): what of the heap was still alive. */
  heapUsedAfterGc?: number;
  rssAfterGc?: number;
  verifier?: {
    sequential: { count: number; seconds: number; perSecond: number; byKind: Record<string, KindStats>; outcomes: Record<string, number> };
    concurrent16: { count: number; seconds: number; perSecond: number; outcomes: Record<string, number> };
    expected: Record<string, number>;
  };
  rssAtEnd: number;
}

