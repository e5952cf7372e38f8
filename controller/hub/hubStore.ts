/**
 * The hub's sites, controller slots, enrolment codes and credentials, over its database. Every
 * secret is kept as sha256 hex only (hubSecrets.ts). A change that must close open links on every
 * hub process (a controller revoked, a credential replaced) is sent as a control notification on the
 * change feed's channel, in the transaction that makes it (controlPayload, changeFeed.ts).
 */
import { timingSafeEqual } from 'node:crypto';

import { sql } from 'kysely';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { GENESIS_HASH } from '../audit/auditChain.ts';
import { HUB_CHANNEL } from './hubMigrations.ts';
import type { HubDb } from './hubDatabase.ts';
import { agreeSiteKey, type OfferedSiteKey } from './siteKeyAgreement.ts';
import { ENROLMENT_CODE_TTL_MS, credentialControllerId, credentialMatches, newControllerId, newCredential, newEnrolmentCode, sha256Hex } from './hubSecrets.ts';

/** Site ids go into notification payloads (`<siteId>:<cursor>`): no `:` and no `!`. */
const SITE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export interface AuthenticatedController {
  id: string;
  siteId: string;
  name: string;
  chain: string | null;
}

export interface EnrolmentCodeIssued {
  controllerId: string;
  siteId: string;
  code: string;
  expiresAt: number;
}

export type ChainBinding = 'bound' | 'mismatch' | 'taken';

/** What POST /enrol answers: the credential, and (when the controller offered its key) which key it issues with from now on. */
export interface Enrolled {
  siteId: string;
  controllerId: string;
  credential: string;
  siteKey?: { action: 'kept' } | { action: 'adopt'; key: string };
}

/** A control notification: closes (after a re-check of their credential) the links of one controller. */
export function controlPayload(what: 'close' | 'link', controllerId: string, nonce = ''): string {
  return what === 'close' ? `!close:${controllerId}` : `!link:${controllerId}:${nonce}`;
}

export class HubStore {
  constructor(
    readonly db: HubDb,
    private readonly clock: () => number = Date.now,
  ) {}

  async addSite(id: string, name: string): Promise<void> {
    if (!SITE_ID.test(id)) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `a site id is 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit, not "${id}"`);
    const inserted = await this.db.insertInto('hub_sites').values({ id, name, created_at: this.clock() }).onConflict((oc) => oc.column('id').doNothing()).executeTakeFirst();
    if (inserted.numInsertedOrUpdatedRows === 0n) throw new PosternError(ErrorCodes.CONFLICT, `site ${id} exists already`);
  }

  async requireSite(id: string): Promise<void> {
    const site = await this.db.selectFrom('hub_sites').select('id').where('id', '=', id).executeTakeFirst();
    if (site === undefined) throw new PosternError(ErrorCodes.NOT_FOUND, `no site ${id} at this hub`);
  }

  /** A new controller slot of the site, with its first enrolment code. */
  async addController(siteId: string, name: string): Promise<EnrolmentCodeIssued> {
    await this.requireSite(siteId);
    const id = newControllerId();
    const now = this.clock();
    return this.db.transaction().execute(async (trx) => {
      await trx.insertInto('hub_controllers').values({ id, site_id: siteId, name, credential_hash: null, created_at: now, enrolled_at: null, revoked_at: null, last_seen_at: null, chain: null }).execute();
      await trx.insertInto('hub_audit_heads').values({ controller_id: id, seq: 0, hash: GENESIS_HASH, updated_at: now, problem: null, problem_seq: null, flagged_at: null }).execute();
      return issueCode(trx, id, siteId, now);
    });
  }

  /** A new enrolment code for the controller; codes it had and did not use stop working. */
  async rotateController(id: string): Promise<EnrolmentCodeIssued> {
    const now = this.clock();
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('hub_controllers').select(['site_id', 'revoked_at']).where('id', '=', id).forUpdate().executeTakeFirst();
      if (row === undefined) throw new PosternError(ErrorCodes.NOT_FOUND, `no controller ${id} at this hub`);
      if (row.revoked_at !== null) throw new PosternError(ErrorCodes.CONFLICT, `controller ${id} is revoked: add a new one`);
      await trx.updateTable('hub_enrolment_codes').set({ used_at: now }).where('controller_id', '=', id).where('used_at', 'is', null).execute();
      return issueCode(trx, id, row.site_id, now);
    });
  }

  /** Ends the controller: refused from now on, its open links closed on every hub. False when revoked already. */
  async revokeController(id: string): Promise<boolean> {
    const now = this.clock();
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('hub_controllers').select('revoked_at').where('id', '=', id).forUpdate().executeTakeFirst();
      if (row === undefined) throw new PosternError(ErrorCodes.NOT_FOUND, `no controller ${id} at this hub`);
      if (row.revoked_at !== null) return false;
      await trx.updateTable('hub_controllers').set({ revoked_at: now }).where('id', '=', id).execute();
      await trx.updateTable('hub_enrolment_codes').set({ used_at: now }).where('controller_id', '=', id).where('used_at', 'is', null).execute();
      await notify(trx, controlPayload('close', id));
      return true;
    });
  }

  /**
   * Uses an enrolment code: one conditional UPDATE takes it, so of two requests with one code only
   * one can win. The controller's new credential replaces any earlier one (whose links close).
   * Undefined for a code that is unknown, used, expired, or of a revoked controller.
   *
   * With `offered` (the controller's issuing key), the site's key is agreed on in the same
   * transaction (siteKeyAgreement.ts): the site row is locked, so two controllers enrolling at once
   * into a site without a key cannot both make theirs the site's. A conflict throws CONFLICT and
   * rolls everything back: the code stays usable, with `--adopt-site-key` or from another controller.
   */
  async enrol(code: string, offered?: OfferedSiteKey): Promise<Enrolled | undefined> {
    const now = this.clock();
    return this.db.transaction().execute(async (trx) => {
      const taken = await trx
        .updateTable('hub_enrolment_codes')
        .set({ used_at: now })
        .where('code_hash', '=', sha256Hex(code))
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .returning('controller_id')
        .executeTakeFirst();
      if (taken === undefined) return undefined;
      const credential = newCredential(taken.controller_id);
      const controller = await trx
        .updateTable('hub_controllers')
        .set({ credential_hash: sha256Hex(credential), enrolled_at: now })
        .where('id', '=', taken.controller_id)
        .where('revoked_at', 'is', null)
        .returning('site_id')
        .executeTakeFirst();
      if (controller === undefined) return undefined; // the code stays used: it named a revoked controller
      const enrolled: Enrolled = { siteId: controller.site_id, controllerId: taken.controller_id, credential };
      if (offered !== undefined) {
        const site = await trx.selectFrom('hub_sites').select('site_key').where('id', '=', controller.site_id).forUpdate().executeTakeFirstOrThrow();
        const outcome = agreeSiteKey(site.site_key, offered);
        if (outcome.action === 'conflict') {
          throw new PosternError(
            ErrorCodes.CONFLICT,
            `site ${controller.site_id} has another issuing key than this controller, which has issued access links with its own: enrolling it would stop them opening doors. Enrol a controller that has issued none, or pass --adopt-site-key to accept that its links stop working`,
          );
        }
        if (outcome.action === 'site-takes-controller-key') await trx.updateTable('hub_sites').set({ site_key: outcome.siteKey }).where('id', '=', controller.site_id).execute();
        enrolled.siteKey = outcome.action === 'adopt' ? { action: 'adopt', key: outcome.siteKey } : { action: 'kept' };
      }
      await notify(trx, controlPayload('close', taken.controller_id));
      return enrolled;
    });
  }

  /** The controller a credential belongs to, when it is its current one and the controller is not revoked. */
  async authenticate(credential: string): Promise<AuthenticatedController | undefined> {
    const id = credentialControllerId(credential);
    if (id === undefined) return undefined;
    const row = await this.db.selectFrom('hub_controllers').select(['id', 'site_id', 'name', 'chain', 'credential_hash', 'revoked_at']).where('id', '=', id).executeTakeFirst();
    if (row === undefined || row.revoked_at !== null || !credentialMatches(credential, row.credential_hash)) return undefined;
    return { id: row.id, siteId: row.site_id, name: row.name, chain: row.chain };
  }

  /** Whether the credential of this sha256 is still the controller's, and the controller not revoked. */
  async credentialCurrent(controllerId: string, credentialHash: string): Promise<boolean> {
    const row = await this.db.selectFrom('hub_controllers').select(['credential_hash', 'revoked_at']).where('id', '=', controllerId).executeTakeFirst();
    if (row === undefined || row.revoked_at !== null || row.credential_hash === null) return false;
    const stored = Buffer.from(row.credential_hash, 'hex');
    const given = Buffer.from(credentialHash, 'hex');
    return stored.length === given.length && timingSafeEqual(stored, given);
  }

  /**
   * Binds the controller to the audit chain its hello names. A bound chain is kept ('mismatch' for
   * another), unless nothing of it is stored yet; 'taken' when another controller of the site has it.
   */
  async bindChain(controllerId: string, chain: string): Promise<ChainBinding> {
    try {
      const updated = await sql<{ id: string }>`
        UPDATE hub_controllers c SET chain = ${chain}
        FROM hub_audit_heads h
        WHERE c.id = ${controllerId} AND h.controller_id = c.id
          AND (c.chain IS NULL OR c.chain = ${chain} OR h.seq = 0)
        RETURNING c.id`.execute(this.db);
      return updated.rows.length === 1 ? 'bound' : 'mismatch';
    } catch (error) {
      if ((error as { code?: string }).code === '23505') return 'taken';
      throw error;
    }
  }

  /** Stamps the last time the controller was heard from. */
  async touch(controllerId: string): Promise<void> {
    await this.db.updateTable('hub_controllers').set({ last_seen_at: this.clock() }).where('id', '=', controllerId).execute();
  }

  /** Tells every hub process that this link of the controller is now its one link (syncSession.ts). */
  async announceLink(controllerId: string, nonce: string): Promise<void> {
    await notify(this.db, controlPayload('link', controllerId, nonce));
  }
}

async function notify(db: HubDb, payload: string): Promise<void> {
  await sql`select pg_notify(${HUB_CHANNEL}, ${payload})`.execute(db);
}

async function issueCode(trx: HubDb, controllerId: string, siteId: string, now: number): Promise<EnrolmentCodeIssued> {
  const code = newEnrolmentCode();
  const expiresAt = now + ENROLMENT_CODE_TTL_MS;
  await trx.insertInto('hub_enrolment_codes').values({ code_hash: sha256Hex(code), controller_id: controllerId, created_at: now, expires_at: expiresAt, used_at: null }).execute();
  return { controllerId, siteId, code, expiresAt };
}
