/**
 * Sign-in sessions of user accounts for the web UI, in memory: a restart of the controller ends
 * every session (operators sign in again). The browser holds a random token (32 bytes, base64url)
 * in a cookie; this map is keyed by its sha256, so the tokens themselves are kept nowhere.
 *
 * A session ends when it has not been used for `idleMs` (a request to /auth/*, an rpc call on its
 * socket, or a page of it still open: a security desk that only watches is in use), `maxMs` after
 * sign-in whatever its use, at sign-out, and
 * when the account is disabled or removed: every session's user is checked again with
 * `reauthenticate` at once when an account changes (recheckAll, called for every change noticed
 * in the store, whichever process made it), and at least every `reauthenticateMs` besides (a role
 * changed meanwhile is taken over). Listeners hear of each end, so that the sockets of the
 * session are closed at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Principal } from '../accounts/accountTypes.ts';

export type SessionEndReason = 'logout' | 'idle' | 'expired' | 'revoked' | 'stopped' | 'evicted';

export interface Session {
  /** sha256 of the token, hex: safe to log a prefix of, never enough to sign in. */
  readonly id: string;
  principal: Principal;
  readonly createdAt: number;
  lastUsedAt: number;
  checkedAt: number;
}

export interface SessionStoreOptions {
  idleMs: number;
  maxMs: number;
  reauthenticate(principal: Principal): Promise<Principal | undefined>;
  /** Default 60 s. */
  reauthenticateMs?: number;
  /** The most sessions kept; the least recently used goes first. Default 10 000. */
  maxSessions?: number;
  clock?: () => number;
  onError?(error: unknown): void;
  /** Whether a page of the session is open right now: such a session never goes idle. */
  watched?(session: Session): boolean;
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly endListeners = new Set<(session: Session, reason: SessionEndReason) => void>();
  private readonly changeListeners = new Set<(session: Session) => void>();
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private generationCount = 0;
  private checkRuns = 0;
  /** The latest check begun for each session. */
  private readonly lastCheckRun = new WeakMap<Session, number>();

  constructor(private readonly options: SessionStoreOptions) {
    this.clock = options.clock ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    // Often enough that an idle session ends within a quarter of its idle time of expiring.
    const every = Math.max(100, Math.min(15_000, this.options.idleMs / 4, this.reauthenticateMs / 2));
    this.timer = setInterval(() => this.sweep(), every);
    this.timer.unref();
  }

  /** Ends every session (their listeners hear 'stopped') and the timer. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const session of [...this.sessions.values()]) this.end(session, 'stopped');
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * A new session for a principal: the token goes into the cookie and is kept nowhere else.
   * `since`: the generation read before the principal was checked; when a recheckAll ran since,
   * the new session is checked again at once, as that recheck could not see it.
   */
  create(principal: Principal, since?: number): { token: string; session: Session } {
    const token = randomBytes(32).toString('base64url');
    const now = this.clock();
    const session: Session = { id: hashSessionToken(token), principal, createdAt: now, lastUsedAt: now, checkedAt: now };
    this.sessions.set(session.id, session);
    const max = this.options.maxSessions ?? 10_000;
    if (this.sessions.size > max) {
      const oldest = [...this.sessions.values()].sort((a, b) => a.lastUsedAt - b.lastUsedAt).slice(0, this.sessions.size - max);
      for (const s of oldest) this.end(s, 'evicted');
    }
    if (since !== undefined && since !== this.generationCount) void this.runCheck([session]);
    return { token, session };
  }

  /** The live session of a token, or undefined; one found expired is ended here. Does not count as use. */
  find(token: string | undefined): Session | undefined {
    if (token === undefined || !TOKEN_PATTERN.test(token)) return undefined;
    const session = this.sessions.get(hashSessionToken(token));
    return session === undefined ? undefined : this.live(session);
  }

  /** The session if it is still live, and marks it used; undefined (and ended) when it has expired. */
  use(session: Session): Session | undefined {
    if (this.live(session) === undefined) return undefined;
    session.lastUsedAt = this.clock();
    return session;
  }

  /** Whether the session still stands (not ended, not expired). Ends it when it has expired. */
  live(session: Session): Session | undefined {
    if (this.sessions.get(session.id) !== session) return undefined;
    const expiry = this.expiryOf(session);
    if (expiry !== undefined) {
      this.end(session, expiry);
      return undefined;
    }
    return session;
  }

  end(session: Session, reason: SessionEndReason): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    for (const listener of this.endListeners) listener(session, reason);
  }

  onEnd(listener: (session: Session, reason: SessionEndReason) => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  /** A session's principal changed (its role). */
  onChange(listener: (session: Session) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private get reauthenticateMs(): number {
    return this.options.reauthenticateMs ?? 60_000;
  }

  private expiryOf(session: Session): SessionEndReason | undefined {
    const now = this.clock();
    if (now - session.createdAt >= this.options.maxMs) return 'expired';
    if (now - session.lastUsedAt >= this.options.idleMs) return 'idle';
    return undefined;
  }

  private sweep(): void {
    const now = this.clock();
    for (const session of [...this.sessions.values()]) {
      if (this.options.watched?.(session)) session.lastUsedAt = now;
      this.live(session);
    }
    void this.recheck();
  }

  /**
   * Every session's account checked again now, whatever its last check: an account changed
   * (accounts/accountChanges.ts). A disabled or removed user's sessions end ('revoked') and a new
   * role applies to the next rpc, before this resolves.
   */
  async recheckAll(): Promise<void> {
    this.generationCount += 1;
    // A periodic check under way may have read an account before the change: check again after it.
    while (this.checking !== undefined) await this.checking;
    await this.runCheck([...this.sessions.values()]);
  }

  /** Counts recheckAll calls: a sign-in that began under another count may have missed one. */
  get generation(): number {
    return this.generationCount;
  }

  /** Checks the sessions due; a store that cannot answer keeps the session. */
  private async recheck(): Promise<void> {
    if (this.checking !== undefined) return;
    await this.runCheck([...this.sessions.values()].filter((s) => this.clock() - s.checkedAt >= this.reauthenticateMs));
  }

  private async runCheck(sessions: Session[]): Promise<void> {
    const run = this.check(sessions);
    this.checking = run;
    try {
      await run;
    } finally {
      if (this.checking === run) this.checking = undefined;
    }
  }

  /** One read per account, shared by its sessions. */
  private async check(sessions: Session[]): Promise<void> {
    const reads = new Map<string, Promise<Principal | undefined>>();
    const failed = new Set<string>();
    const run = ++this.checkRuns;
    for (const session of sessions) this.lastCheckRun.set(session, run);
    await Promise.all(
      sessions.map(async (session) => {
        const held = session.principal;
        const key = `${held.kind}:${held.id}`;
        let read = reads.get(key);
        if (read === undefined) reads.set(key, (read = this.options.reauthenticate(held)));
        let principal: Principal | undefined;
        try {
          principal = await read;
        } catch (error) {
          if (!failed.has(key)) this.options.onError?.(error);
          failed.add(key);
          return;
        }
        // A check begun later (after an account change) read newer data: this one must not undo it.
        if (this.sessions.get(session.id) !== session || this.lastCheckRun.get(session) !== run) return;
        session.checkedAt = this.clock();
        if (principal === undefined) {
          this.end(session, 'revoked');
        } else if (principal.role !== session.principal.role || principal.name !== session.principal.name) {
          session.principal = principal;
          for (const listener of this.changeListeners) listener(session);
        }
      }),
    );
  }
}

export function hashSessionToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
