/**
 * site.call across hub processes (docs/hub-api.md, "site.call"): an administrator's API socket and
 * the site's controller may be on different hubs behind one load balancer. The hub that has no link
 * of the site hands the call to the hub that has one, through PostgreSQL, as every other change
 * between hubs travels: a row in `hub_calls` and a notification on the change feed's channel.
 *
 * - `!call:<hub>:<id>` tells that hub (and only it acts) to take call `id`: it claims the row with
 *   one conditional UPDATE (so a notification seen twice runs the call once), runs it at its own link
 *   of the site (siteCalls.ts), writes the answer into the row and sends `!answer:<origin>:<id>`.
 * - The hub that forwarded reads the answer, deletes the row and answers its caller, with the
 *   controller's own JSON-RPC error when there was one. It gives up after the call timeout (and a
 *   margin for the trip through the database), deleting the row: a late answer is dropped.
 * - Notifications are lost while a hub's feed reconnects, so on reconnect it looks for the answers
 *   of its calls still waiting, and for calls addressed to it not yet claimed.
 * - Params and results never go into a notification (8000 bytes at most): only ids do.
 */
import { sql } from 'kysely';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { RpcError, toErrorObject, type JsonRpcErrorObject } from '../api/jsonRpc.ts';
import type { Logger } from '../logger.ts';
import { HUB_ROLES, type HubAccount, type HubRole } from './hubAccounts.ts';
import type { HubDb } from './hubDatabase.ts';
import { HUB_CHANNEL } from './hubMigrations.ts';

/** What the hub that holds the link gives the call: the caller's account, as site.call had it. */
export type RelayedAccount = Pick<HubAccount, 'name' | 'role'>;

export interface CallRelayDeps {
  db: HubDb;
  /** This hub process (LinkPresence.hubId). */
  hubId: string;
  /** Runs a call at this hub's own link of the site (SiteCalls.callHere). */
  runHere(siteId: string, method: string, params: unknown, account: RelayedAccount): Promise<unknown>;
  /** How long the controller has to answer (the site call timeout). */
  timeoutMs: number;
  logger: Pick<Logger, 'warn'>;
  clock?: () => number;
}

/** The trip through the database and the other hub, on top of the controller's own time. */
const RELAY_MARGIN_MS = 2000;
/** Rows older than this are left over from a hub that died waiting: pruned. */
const STALE_CALL_MS = 60 * 60 * 1000;

type Answer = { result: unknown } | { error: JsonRpcErrorObject };

interface Waiting {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

export class CallRelay {
  private readonly waiting = new Map<number, Waiting>();

  constructor(private readonly deps: CallRelayDeps) {}

  /** Hands the call to `targetHub`, which holds a link of the site; resolves with the controller's answer. */
  async forward(targetHub: string, siteId: string, method: string, params: unknown, account: RelayedAccount): Promise<unknown> {
    const { db, hubId } = this.deps;
    const clock = this.deps.clock ?? Date.now;
    return new Promise((resolve, reject) => {
      let id: number | undefined;
      const timer = setTimeout(() => {
        if (id === undefined) return;
        this.waiting.delete(id);
        void this.forget(id);
        reject(new PosternError(ErrorCodes.SITE_TIMEOUT, `site ${siteId}: the call ${method} through hub ${targetHub} was not answered within ${Math.round((this.deps.timeoutMs + RELAY_MARGIN_MS) / 1000)} s`));
      }, this.deps.timeoutMs + RELAY_MARGIN_MS);
      db.transaction()
        .execute(async (trx) => {
          const row = await trx
            .insertInto('hub_calls')
            .values({ site_id: siteId, origin_hub: hubId, target_hub: targetHub, method, params: JSON.stringify(params ?? null), account_name: account.name, account_role: account.role, created_at: clock() })
            .returning('id')
            .executeTakeFirstOrThrow();
          id = Number(row.id);
          // Waiting before the commit: the answer can come before this function goes on.
          this.waiting.set(id, { resolve, reject, timer });
          await sql`SELECT pg_notify(${HUB_CHANNEL}, ${`!call:${targetHub}:${id}`})`.execute(trx);
        })
        .catch((error: unknown) => {
          clearTimeout(timer);
          if (id !== undefined) this.waiting.delete(id);
          reject(new PosternError(ErrorCodes.SITE_OFFLINE, `site ${siteId}: the call could not be handed to hub ${targetHub}: ${(error as Error).message}`));
        });
    });
  }

  /** `!call:<hub>:<id>` from the feed. */
  onCall(targetHub: string, id: number): void {
    if (targetHub !== this.deps.hubId) return;
    this.take(id).catch((error: unknown) => this.deps.logger.warn({ err: error, call: id }, 'a call handed over by another hub could not be run'));
  }

  /** `!answer:<hub>:<id>` from the feed. */
  onAnswer(originHub: string, id: number): void {
    if (originHub !== this.deps.hubId || !this.waiting.has(id)) return;
    this.collect(id).catch((error: unknown) => this.deps.logger.warn({ err: error, call: id }, 'the answer of a call handed to another hub could not be read'));
  }

  /** After the feed reconnected: notifications sent meanwhile are lost, so look at the rows. */
  async recheck(): Promise<void> {
    for (const id of this.waiting.keys()) await this.collect(id);
    const mine = await this.deps.db.selectFrom('hub_calls').select('id').where('target_hub', '=', this.deps.hubId).where('claimed_at', 'is', null).execute();
    for (const row of mine) this.onCall(this.deps.hubId, Number(row.id));
  }

  /** Rows a hub left behind when it died waiting. */
  async prune(): Promise<void> {
    const clock = this.deps.clock ?? Date.now;
    await this.deps.db.deleteFrom('hub_calls').where('created_at', '<', clock() - STALE_CALL_MS).execute();
  }

  /** The hub is stopping: its callers get an answer now. */
  closeAll(): void {
    for (const [id, waiting] of this.waiting) {
      clearTimeout(waiting.timer);
      waiting.reject(new PosternError(ErrorCodes.SITE_OFFLINE, 'the hub is stopping'));
      this.waiting.delete(id);
    }
  }

  private async take(id: number): Promise<void> {
    const { db } = this.deps;
    const clock = this.deps.clock ?? Date.now;
    const call = await db
      .updateTable('hub_calls')
      .set({ claimed_at: clock() })
      .where('id', '=', id)
      .where('target_hub', '=', this.deps.hubId)
      .where('claimed_at', 'is', null)
      .returning(['site_id', 'origin_hub', 'method', 'params', 'account_name', 'account_role'])
      .executeTakeFirst();
    if (call === undefined) return;
    let answer: Answer;
    try {
      const role = call.account_role as HubRole;
      // The row is the database's, as trusted as the hub itself; a role no hub knows runs nothing.
      if (!HUB_ROLES.includes(role)) throw new PosternError(ErrorCodes.FORBIDDEN, `a call handed over with an unknown role ${JSON.stringify(call.account_role)}`);
      answer = { result: (await this.deps.runHere(call.site_id, call.method, JSON.parse(call.params) as unknown, { name: call.account_name, role })) ?? null };
    } catch (error) {
      answer = { error: toErrorObject(error) };
    }
    await db.transaction().execute(async (trx) => {
      await trx.updateTable('hub_calls').set({ answer: JSON.stringify(answer), answered_at: clock() }).where('id', '=', id).execute();
      await sql`SELECT pg_notify(${HUB_CHANNEL}, ${`!answer:${call.origin_hub}:${id}`})`.execute(trx);
    });
  }

  private async collect(id: number): Promise<void> {
    const row = await this.deps.db.selectFrom('hub_calls').select('answer').where('id', '=', id).executeTakeFirst();
    if (row?.answer == null) return;
    const waiting = this.waiting.get(id);
    if (waiting === undefined) return;
    this.waiting.delete(id);
    clearTimeout(waiting.timer);
    await this.forget(id);
    const answer = JSON.parse(row.answer) as Answer;
    if ('error' in answer) waiting.reject(new RpcError(answer.error.code, answer.error.message, answer.error.data as Record<string, unknown> | undefined));
    else waiting.resolve(answer.result);
  }

  private async forget(id: number): Promise<void> {
    await this.deps.db
      .deleteFrom('hub_calls')
      .where('id', '=', id)
      .execute()
      .catch(() => undefined); // pruned later
  }
}
