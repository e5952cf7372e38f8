/**
 * The controller's sync link as a service: the sync link machine (machines/syncLinkMachine.ts)
 * given its WebSocket (hubLink.ts) and the store (applyChanges.ts), fed with the audit trail's head,
 * and read by the API, the metrics and the clock alarm. Only made when the site file has `hub`.
 *
 * start() reads the credential and the CA file first: a missing one stops the controller's start
 * with a configuration error, as a missing SMTP password file does, rather than a link that keeps
 * failing. It does not wait for the hub: a hub that is down delays nothing; the machine retries.
 */
import { createActor, type Actor } from 'xstate';
import { syncLinkMachine, syncLinkStatus, type SyncLinkInput, type SyncLinkStatus } from '../../machines/syncLinkMachine.ts';
import type { AuditTrail } from '../audit/auditTrail.ts';
import type { HubConfig } from '../config/configSchema.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/storeTypes.ts';
import { HubChanges } from './applyChanges.ts';
import { hubSyncUrl, readHubCa, readHubCredential, shownHubUrl } from './hubAddress.ts';
import { createHubLink } from './hubLink.ts';
import type { HubCalls } from './hubCalls.ts';
import type { HubRequests } from './hubRequests.ts';

/** What sync.status and the metrics show: the machine's status and the hub's address (never the credential). */
export type SyncStatus = SyncLinkStatus & { hub: string };

/** The machine's timing, for tests (defaults: docs/sync.md). */
export type SyncTiming = Pick<SyncLinkInput, 'backoffBaseMs' | 'backoffMaxMs' | 'heartbeatMs' | 'silenceMs' | 'clockAlarmMs' | 'random'>;

export interface SyncLinkDependencies {
  hub: HubConfig;
  /** hub.credentialFile, or its default (hubAddress.ts hubCredentialFile). */
  credentialFile: string;
  store: Pick<Store, 'getSetting' | 'putSetting' | 'revoke' | 'revokeMany' | 'isRevoked' | 'queryAudit'>;
  audit: Pick<AuditTrail, 'append' | 'onAppend' | 'head' | 'controllerId'>;
  logger: Logger;
  clock?: () => number;
  timing?: SyncTiming;
  /** Requests to the hub (confirms of online-only codes): each link sends them while it is open. */
  requests?: HubRequests;
  /** Runs the hub's calls (site.call) through the controller's API (hubCalls.ts). */
  calls?: HubCalls;
}

export class SyncLink {
  readonly hubUrl: string;
  readonly #deps: SyncLinkDependencies;
  #actor: Actor<typeof syncLinkMachine> | undefined;
  #changes: HubChanges | undefined;
  #cleanups: Array<() => void> = [];
  readonly #listeners = new Set<(status: SyncStatus) => void>();

  constructor(deps: SyncLinkDependencies) {
    this.#deps = deps;
    this.hubUrl = shownHubUrl(hubSyncUrl(deps.hub.url));
  }

  async start(): Promise<void> {
    if (this.#actor) return;
    const { hub, store, audit, logger, clock } = this.#deps;
    const credential = readHubCredential(this.#deps.credentialFile);
    const ca = readHubCa(hub.caFile);
    const log = logger.child({ component: 'sync' });
    const changes = new HubChanges({ store, audit, logger: log });
    this.#changes = changes;
    const hubLink = createHubLink({ url: hubSyncUrl(hub.url), credential, ca, chain: audit.controllerId, store, changes, auditHead: () => audit.head, logger: log, clock, requests: this.#deps.requests, calls: this.#deps.calls });
    const actor = createActor(syncLinkMachine.provide({ actors: { hubLink } }), {
      input: { ...this.#deps.timing, cursor: await changes.cursor(), auditHead: audit.head.seq, start: true },
    });
    this.#actor = actor;
    let last: SyncStatus | undefined;
    const subscription = actor.subscribe((snapshot) => {
      const status: SyncStatus = { ...syncLinkStatus(snapshot), hub: this.hubUrl };
      if (last?.state !== status.state) log.info({ hub: this.hubUrl, from: last?.state, to: status.state, lastError: status.lastError }, 'hub link state');
      last = status;
      for (const listener of this.#listeners) listener(status);
    });
    this.#cleanups.push(
      () => subscription.unsubscribe(),
      // Every append, whichever part of the controller made it: the machine uploads up to the head.
      audit.onAppend((event) => actor.send({ type: 'OUTBOX.HEAD', seq: event.seq })),
    );
    actor.start();
    actor.send({ type: 'OUTBOX.HEAD', seq: audit.head.seq });
  }

  /**
   * Closes the link, then waits for a change being applied to be over, so that the store and the
   * audit trail, stopped after this, take its last writes. Safe to call twice.
   */
  async stop(): Promise<void> {
    const actor = this.#actor;
    if (actor === undefined) return;
    this.#actor = undefined;
    actor.send({ type: 'STOP' });
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
    actor.stop();
    await this.#changes?.idle();
  }

  /** The hub's calls to this controller: the API serves them its methods once it runs (controller.ts). */
  get calls(): HubCalls | undefined {
    return this.#deps.calls;
  }

  /** The link as it stands; before start or after stop, offline. */
  status(): SyncStatus | undefined {
    const snapshot = this.#actor?.getSnapshot();
    return snapshot === undefined ? undefined : { ...syncLinkStatus(snapshot), hub: this.hubUrl };
  }

  /** Every change of the status (the clock alarm watches it); returns the unsubscribe. */
  onStatus(listener: (status: SyncStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
