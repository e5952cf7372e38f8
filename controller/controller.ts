/**
 * The composition root: config → logger → store → drivers → actors → servers, in that order, and
 * back in reverse on stop(). Constructing a Controller does nothing; start() opens, stop() closes
 * every handle and timer, so a test can run many controllers in one process.
 */
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { createActor, fromCallback, fromPromise, type Actor } from 'xstate';
import { doorMachine, type DoorEvent, type RecordEvent, type RecordGrantInput } from '../machines/doorMachine.ts';
import { scannerMachine, type Conclusion, type DecideInput, type Decided, type DropParams } from '../machines/scannerMachine.ts';
import { siteMachine } from '../machines/siteMachine.ts';
import { createDoorIo, createScannerDriver } from '../drivers/createDrivers.ts';
import type { DoorIo } from '../drivers/doorIo/doorIo.ts';
import { SimulatedDoorIo } from '../drivers/doorIo/simulatedDoorIo.ts';
import { NetworkScanner } from '../drivers/scanners/networkScanner.ts';
import type { ScannerDriver } from '../drivers/scanners/scannerDriver.ts';
import type { DecoderPool } from '../drivers/scanners/camera/decoderPool.ts';
import { defaultDecodeWorkers } from '../drivers/scanners/camera/cameraConfig.ts';
import { Accounts } from './accounts/accounts.ts';
import { doorEvent, scannerEvent } from './driverEvents.ts';
import { BadgeEnrolments } from './badge/enrolment.ts';
import { ApiServer, type HttpRoute } from './api/apiServer.ts';
import { EventHub } from './api/eventHub.ts';
import { ControllerMetrics } from './api/metrics.ts';
import { allMethods } from './api/methods/allMethods.ts';
import type { DemoDoors } from './api/methods/demoMethods.ts';
import type { MethodTable } from './api/methodTypes.ts';
import { auditExportRoute } from './api/auditExport.ts';
import { caCertificateRoute } from './tls/caCertificateRoute.ts';
import { Idempotency } from './api/idempotency.ts';
import { ReadBudget } from './api/readBudget.ts';
import { NamedAuditFeed } from './api/namedAuditFeed.ts';
import { publishSyncStatus } from './api/syncFeed.ts';
import type { MqttBridge } from './mqtt/mqttBridge.ts';
import type { OutboundWebhooks } from './webhooks/outboundWebhooks.ts';
import { AuditTrail } from './audit/auditTrail.ts';
import { REPLAY_LOOKBACK_MS, ReplayGuard, oldestValidStep } from './credentials/replayGuard.ts';
import { badgeRoutes } from './badge/badgeRoutes.ts';
import type { SiteConfig } from './config/configSchema.ts';
import { PartnerDirectory } from './credentials/partnerDirectory.ts';
import { ScanThrottle } from './credentials/scanThrottle.ts';
import { ScopeDirectory } from './credentials/scopeDirectory.ts';
import { Verifier } from './credentials/verifier.ts';
import { createDecide, type DecisionRecord } from './decision/decide.ts';
import { DecisionLog, type Decision } from './decision/decisionLog.ts';
import { WebhookDelegation } from './delegation/webhookDelegation.ts';
import { LatencyWindow } from './decision/latencyWindow.ts';
import { HubConfirmer } from './decision/hubConfirmer.ts';
import { LocalHub } from './decision/localHub.ts';
import { DoorOperator } from './doorOperator.ts';
import { LinkEmails } from './email/linkEmails.ts';
import { LinkMailer } from './email/linkMailer.ts';
import { ErrorCodes, PosternError } from '../machines/shared/errors.ts';
import { AuditHeadReporter } from './audit/auditHeadReporter.ts';
import { AuditJournal } from './audit/auditJournal.ts';
import { HolderNames } from './issuing/holderNames.ts';
import { Issuing } from './issuing/issuing.ts';
import { loadOrCreateSiteKey } from './issuing/siteKey.ts';
import { createLogger, type Logger } from './logger.ts';
import { SiteMonitor, type DoorChange, type DoorStatus, type ScannerStatus } from './siteMonitor.ts';
import { openStore } from './store/openStore.ts';
import type { Store } from './store/storeTypes.ts';
import { HubRequests } from './sync/hubRequests.ts';
import type { SyncLink, SyncTiming } from './sync/syncLink.ts';
import { VERSION } from './version.ts';
import { WebUi } from './web/webUi.ts';

export type { DoorChange };

export interface ControllerOptions {
  config: SiteConfig;
  /** PostgreSQL instead of the embedded SQLite file. */
  databaseUrl?: string;
  logger?: Logger;
  /** Where a terminal scanner reads; standard input unless a test passes a stream. */
  terminal?: Readable;
  clock?: () => number;
  /** The built web UI pages; default webui/dist/ of the project (tests give their own). */
  webUiDir?: string;
  /** Between two logs of the audit head; default one hour (tests give less). */
  auditHeadIntervalMs?: number;
  /** The hub link's timing (heartbeat, silence, backoff); default docs/sync.md's (tests give less). */
  syncTiming?: SyncTiming;
}

type SiteActor = Actor<typeof siteMachine>;

/** Everything start() opens, so that stop() (or a failed start) closes exactly that. */
interface Running {
  store: Store;
  audit: AuditTrail;
  decisions?: DecisionLog;
  site?: SiteActor;
  monitor?: SiteMonitor;
  operator?: DoorOperator;
  issuing?: Issuing;
  api?: ApiServer;
  web?: WebUi;
  mqtt?: MqttBridge;
  webhooks?: OutboundWebhooks;
  sync?: SyncLink;
  /** A site with a hub: requests to it over the sync link (online-only codes are confirmed there). */
  hubRequests?: HubRequests;
  cleanups: Array<() => void>;
}

export class Controller {
  readonly config: SiteConfig;
  readonly logger: Logger;
  private running: Running | undefined;
  private readonly doorIos = new Map<string, DoorIo>();
  private readonly scannerDrivers = new Map<string, ScannerDriver>();
  private decoderPool: Promise<DecoderPool> | undefined;
  private readonly latency = new Map<string, LatencyWindow>();
  private readonly decisionListeners = new Set<(decision: Decision) => void>();
  private readonly doorChangeListeners = new Set<(change: DoorChange) => void>();
  /** Store problems reported since start, by kind (integrity, writer-exited, claim-lost, wal-checkpoint). */
  private readonly storeProblems = new Map<string, number>();

  constructor(private readonly options: ControllerOptions) {
    this.config = options.config;
    this.logger = options.logger ?? createLogger(options.config.logLevel);
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { config } = this;
    const clock = this.options.clock ?? Date.now;
    const startedAt = clock();

    const store = openStore({ databaseUrl: this.options.databaseUrl, dataDir: config.dataDir, logger: this.logger.child({ component: 'store' }) });
    await store.start();
    try {
      // One controller per store: a second one for this site refuses to start (STORE_IN_USE).
      await store.claimController(config.site.id);
    } catch (error) {
      await store.stop();
      throw error;
    }
    // The store logs each problem itself; here they are counted for /metrics.
    const unwatchStore = store.onProblem((problem) => this.storeProblems.set(problem.kind, (this.storeProblems.get(problem.kind) ?? 0) + 1));
    const auditLog = this.logger.child({ component: 'audit' });
    // While the store cannot take events, they are kept durable here (auditTrail.ts).
    const journal = new AuditJournal({ file: join(resolve(config.dataDir), `audit-journal.${config.site.id}.ndjson`), logger: auditLog });
    const audit = new AuditTrail({ store, controllerId: config.site.id, journal, logger: auditLog, clock });
    const running: Running = { store, audit, cleanups: [unwatchStore], ...(config.hub ? { hubRequests: new HubRequests() } : {}) };
    this.running = running;
    try {
      const siteKey = await loadOrCreateSiteKey(store);
      await audit.start();
      // Rotating codes granted in the last minute (the journal drained above) stay used.
      const replay = new ReplayGuard();
      const now = clock();
      replay.load(await store.recentReplayMarks(config.site.id, now - REPLAY_LOOKBACK_MS, oldestValidStep(now)), now);
      await this.createDrivers();

      const decisions = new DecisionLog({ audit, logger: this.logger.child({ component: 'decision' }), clock });
      running.decisions = decisions;
      running.cleanups.push(
        decisions.onDecision((d) => {
          this.latency.get(d.door)?.add(d.latencyMs);
          if (d.ref !== undefined) this.scannerDrivers.get(d.scanner)?.settle?.(d.ref, { decided: true, verdict: d.verdict, reason: d.reason, door: d.door, auditSeq: d.auditSeq });
          this.decisionListeners.forEach((l) => l(d));
        }),
      );
      const decide = this.createDecide(siteKey, store, replay, clock, running);

      // Doors are driven to their safe state as their actors start, inside site.start() below,
      // before any scanner driver is asked to connect.
      const site = this.createSite(await store.getDoorModes(), decide, decisions, audit);
      running.site = site;
      site.start();
      this.wireDrivers(site, running);

      const { doors, scanners } = site.getSnapshot().context;
      const monitor = new SiteMonitor({ config, doors, scanners, audit, logger: this.logger, clock });
      monitor.start();
      running.monitor = monitor;
      running.cleanups.push(monitor.onDoorChange((c) => this.doorChangeListeners.forEach((l) => l(c))));
      running.operator = new DoorOperator({
        doorIds: config.doors.map((d) => d.id),
        sendToDoor: (door: string, event: DoorEvent) => site.send({ type: 'DOOR', door, event }),
        doorActor: (door) => site.getSnapshot().context.doors[door],
        modeOf: (door) => monitor.door(door)?.mode ?? 'normal',
        store,
        audit,
      });
      running.issuing = new Issuing({ store, siteKey, config, audit, clock });
      // The hub's revocations go into the store the verifier reads; its credential is read here.
      if (config.hub) await this.startSync(running);

      if (config.api.enabled) await this.startApi(running, decisions, startedAt);
      await audit.append({ type: 'system', reason: 'started', actor: 'system', data: { doors: config.doors.length, scanners: config.scanners.length, store: store.dialect } });
      // The head, logged every hour, is what an operator keeps elsewhere to detect a cut tail.
      const headReporter = new AuditHeadReporter({ trail: audit, logger: this.logger.child({ component: 'audit' }), intervalMs: this.options.auditHeadIntervalMs });
      headReporter.start();
      running.cleanups.push(() => headReporter.stop());
      this.logger.child({ component: 'controller' }).info({ site: config.site.id, store: store.dialect, api: running.api?.url }, 'controller started');
    } catch (error) {
      await this.teardown();
      throw error;
    }
  }

  async stop(): Promise<void> {
    if (!this.running?.monitor) return;
    await this.teardown({ recordStop: true });
    this.logger.child({ component: 'controller' }).info('controller stopped');
  }

  /** Decisions as they are made: the CLI, the API and tests watch verdicts here. */
  onDecision(listener: (decision: Decision) => void): () => void {
    this.decisionListeners.add(listener);
    return () => this.decisionListeners.delete(listener);
  }

  /** Door state changes as they happen. */
  onDoorChange(listener: (change: DoorChange) => void): () => void {
    this.doorChangeListeners.add(listener);
    return () => this.doorChangeListeners.delete(listener);
  }

  /** Operator commands on doors; available while the controller runs. */
  get doors(): DoorOperator {
    return this.require('operator');
  }

  get issuing(): Issuing {
    return this.require('issuing');
  }

  doorStatus(door: string): DoorStatus | undefined {
    return this.running?.monitor?.door(door);
  }

  scannerStatus(scanner: string): ScannerStatus | undefined {
    return this.running?.monitor?.scanner(scanner);
  }

  doorIo(door: string): DoorIo | undefined {
    return this.doorIos.get(door);
  }

  scannerDriver(scanner: string): ScannerDriver | undefined {
    return this.scannerDrivers.get(scanner);
  }

  get storeDialect(): string | undefined {
    return this.running?.store.dialect;
  }

  /** Where this start made a new, empty store (a data directory that held none), else undefined. */
  get newStoreAt(): string | undefined {
    return this.running?.store.created ? this.running.store.location : undefined;
  }

  /** The API's base URL (http://host:port) while it runs. */
  get apiUrl(): string | undefined {
    return this.running?.api?.url;
  }

  private require<K extends 'operator' | 'issuing'>(part: K): NonNullable<Running[K]> {
    const value = this.running?.[part];
    if (value === undefined) throw new PosternError(ErrorCodes.CONFLICT, 'the controller is not running');
    return value as NonNullable<Running[K]>;
  }

  private async createDrivers(): Promise<void> {
    for (const door of this.config.doors) {
      const io = await createDoorIo(door);
      await io.start();
      this.doorIos.set(door.id, io);
      this.latency.set(door.id, new LatencyWindow());
    }
    const context = { terminal: this.options.terminal ?? process.stdin, logger: this.logger, decoderPool: () => this.startDecoderPool() };
    for (const scanner of this.config.scanners) {
      this.scannerDrivers.set(scanner.id, await createScannerDriver(scanner, context));
    }
  }

  /** Started by the first camera or kiosk scanner; a site without one runs no decode worker. */
  private startDecoderPool(): Promise<DecoderPool> {
    this.decoderPool ??= (async () => {
      const { DecoderPool } = await import('../drivers/scanners/camera/decoderPool.ts');
      const log = this.logger.child({ component: 'decoder' });
      const pool = new DecoderPool({
        workers: this.config.decoder.workers ?? defaultDecodeWorkers(),
        decodeTimeoutMs: this.config.decoder.decodeTimeoutMs,
        onWorkerError: (err) => log.error({ err }, 'QR decode worker failed; replacing it'),
      });
      await pool.start();
      log.info({ workers: pool.size }, 'QR decode workers ready');
      return pool;
    })();
    return this.decoderPool;
  }

  /** The checks of the decision path, as the scanner actors invoke them (decide.ts). */
  private createDecide(siteKey: Buffer, store: Store, replay: ReplayGuard, clock: () => number, running: Running): (input: DecideInput) => Promise<Decided> {
    const { throttle } = this.config;
    // Text that is no Postern code goes to a partner's webhook where the site file says so.
    const delegation = WebhookDelegation.fromConfig(this.config, { logger: this.logger.child({ component: 'delegation' }), clock });
    if (delegation) running.cleanups.push(() => delegation.stop());
    const verifier = new Verifier({
      siteKey,
      store,
      replay,
      partners: new PartnerDirectory(store),
      scopes: new ScopeDirectory(this.config.scopes, store),
      throttle: new ScanThrottle({
        maxFailures: throttle.maxFailures,
        windowMs: throttle.windowSeconds * 1000,
        lockoutMs: throttle.lockoutSeconds * 1000,
        maxLockoutMs: throttle.maxLockoutSeconds * 1000,
      }),
      // With a hub, the hub confirms and counts for the whole site; standalone, the store does.
      onlineLinks: running.hubRequests ? new HubConfirmer({ requests: running.hubRequests, store }) : new LocalHub(store),
      siteDefaultScope: this.config.site.defaultScope,
      delegation,
    });
    return createDecide({ verifier, clock });
  }

  private createSite(modes: Record<string, 'normal' | 'lockdown' | 'passage'>, decide: (input: DecideInput) => Promise<Decided>, decisions: DecisionLog, audit: AuditTrail): SiteActor {
    const doorIos = this.doorIos;
    const drivers = this.scannerDrivers;
    const log = this.logger.child({ component: 'site' });
    const provided = siteMachine.provide({
      actors: {
        door: doorMachine.provide({
          actions: {
            setRelay: ({ context }, { unlocked }: { unlocked: boolean }) => doorIos.get(context.id)?.setRelay(unlocked),
            notifyAlarm: ({ context }, { kind }: { kind: string }) => log.warn({ door: context.id, alarm: kind }, 'door alarm'),
          },
          actors: {
            // The grant's record, durable (store or journal) before the door moves its relay.
            recordGrant: fromCallback<RecordEvent, RecordGrantInput>(({ sendBack, input }) => {
              const entry = (input.record as DecisionRecord | undefined)?.entry ?? { type: 'operator', door: input.door, reason: 'door.unlock' };
              let receipt;
              try {
                receipt = audit.record(entry);
              } catch (error) {
                sendBack({ type: 'RECORD.FAILED', error: String((error as Error).message) });
                return;
              }
              sendBack({ type: 'RECORD.ASSIGNED', seq: receipt.event.seq });
              receipt.durable.then(
                () => sendBack({ type: 'RECORD.DURABLE' }),
                (error: unknown) => sendBack({ type: 'RECORD.FAILED', error: String((error as Error).message) }),
              );
            }),
          },
        }),
        scanner: scannerMachine.provide({
          actions: {
            connect: ({ context }) => drivers.get(context.id)?.connect(),
            disconnect: ({ context }) => drivers.get(context.id)?.disconnect(),
            dropRead: (_, { scannerId, ref, reason }: DropParams) => {
              if (ref !== undefined) drivers.get(scannerId)?.settle?.(ref, { decided: false, reason });
            },
            conclude: (_, conclusion: Conclusion) => decisions.conclude(conclusion),
          },
          actors: {
            decide: fromPromise<Decided, DecideInput>(({ input }) => decide(input)),
          },
        }),
      },
    });
    return createActor(provided, {
      input: {
        doors: this.config.doors.map((d) => ({
          id: d.id,
          unlockMs: d.unlockSeconds * 1000,
          heldOpenMs: d.heldOpenSeconds * 1000,
          failMode: d.failMode,
          rexUnlocks: d.rexUnlocks,
          mode: modes[d.id] ?? 'normal',
        })),
        scanners: this.config.scanners.map((s) => ({ id: s.id, door: s.door, debounceMs: s.debounceMs })),
      },
    });
  }

  private wireDrivers(site: SiteActor, running: Running): void {
    for (const [door, io] of this.doorIos) {
      running.cleanups.push(io.onEvent((event) => site.send({ type: 'DOOR', door, event: doorEvent(event) })));
    }
    for (const [scanner, driver] of this.scannerDrivers) {
      running.cleanups.push(driver.onEvent((event) => site.send({ type: 'SCANNER', scanner, event: scannerEvent(event) })));
    }
  }

  private async startApi(running: Running, decisions: DecisionLog, startedAt: number): Promise<void> {
    const { config } = this;
    const { store, audit, monitor, operator, issuing } = running as Required<Running>;
    const events = new EventHub();
    const accounts = new Accounts({ store, audit });
    const networkScanners = new Map([...this.scannerDrivers].filter((e): e is [string, NetworkScanner] => e[1] instanceof NetworkScanner));
    const holderNames = new HolderNames(store);
    const namedAudit = new NamedAuditFeed(holderNames, (event) => events.publish('audit', event.door, event));
    // Outbound webhooks read the trail from their own cursors: started before anything else is recorded here.
    if (config.webhooks.length > 0) {
      const { OutboundWebhooks } = await import('./webhooks/outboundWebhooks.ts');
      const webhooks = await OutboundWebhooks.create({ config, controllerId: audit.controllerId, version: VERSION, head: audit.head.seq, store, names: holderNames, logger: this.logger.child({ component: 'webhooks' }) });
      running.webhooks = webhooks;
      running.cleanups.push(audit.onAppend((event) => webhooks.notify(event.seq)));
      webhooks.start();
    }
    const metrics = new ControllerMetrics({
      doors: () => monitor.doors(),
      scanners: () => monitor.scanners(),
      auditPending: () => audit.pending,
      auditJournaled: () => audit.journaled,
      auditHead: () => ({ controllerId: audit.controllerId, seq: audit.head.seq }),
      ...(running.sync ? { sync: () => running.sync?.status() } : {}),
      storeProblems: () => this.storeProblems,
      apiConnections: () => running.api?.connectionCount ?? 0,
    });
    running.cleanups.push(
      () => events.close(),
      decisions.onDecision((d) => metrics.recordDecision(d)),
      audit.onDurable((where, waitedMs) => metrics.recordDurableWait(where, waitedMs)),
      monitor.onDoorStatus((status) => events.publish('door', status.id, status)),
      monitor.onScannerStatus((status) => events.publish('scanner', status.door, status)),
      audit.onAppend((event) => namedAudit.push(event)),
    );
    // A standalone controller has no link and publishes nothing on the sync topic.
    if (running.sync) running.cleanups.push(publishSyncStatus(running.sync, (status) => events.publish('sync', null, status)));
    // The badge page's exact paths come before any catch-all route of the web UI.
    // One budget for every read of the API, the HTTP export's included (api/readBudget.ts).
    const readBudget = new ReadBudget(config.api.readRowsPerSecond);
    const routes: HttpRoute[] = [
      ...badgeRoutes({ config, store, audit, logger: this.logger.child({ component: 'badge' }) }),
      auditExportRoute({ controllerId: audit.controllerId, store, names: holderNames, readBudget, authenticate: (token) => accounts.authenticateToken(token), logger: this.logger.child({ component: 'api' }) }),
      // The site CA for kiosk tablets to install, when api.tls is one `postern tls create` made.
      ...(config.api.tls ? [caCertificateRoute(config.api.tls.cert)] : []),
    ];
    // The SMTP password file is read here, at start; a missing one stops the controller.
    const mailer = new LinkMailer(config.email);
    running.cleanups.push(() => mailer.close());
    const linkEmails = new LinkEmails({ config, issuing, audit, mailer });
    const methods = allMethods({ config, doors: operator, monitor, issuing, linkEmails, store, holderNames, idempotency: new Idempotency(store), readBudget, accounts, webhooks: running.webhooks, sync: running.sync, enrolments: new BadgeEnrolments({ config, store, audit }), demo: this.demoDoors(audit), events, networkScanners, latency: (door) => this.latency.get(door), startedAt, version: VERSION, controllerId: config.site.id });
    running.sync?.calls?.serve(methods);
    // The operator web UI: /auth/*, /socket.io/ and the built pages (controller/web/).
    const web = config.web.enabled ? this.createWebUi(methods, events, accounts, audit) : undefined;
    running.web = web;
    if (web) routes.push(...web.routes());
    const api = new ApiServer({
      routes,
      foreignUpgradePrefixes: web ? WebUi.upgradePrefixes : [],
      config: config.api,
      methods,
      events,
      authenticate: (token) => accounts.authenticateToken(token),
      reauthenticate: (principal) => accounts.reauthenticate(principal),
      accountChanges: accounts.changes,
      metrics: async () => (await metrics.text()) + (running.webhooks?.metricsText() ?? ''),
      ready: () => this.running?.monitor !== undefined,
      attachScanner: (principal) => (principal.role === 'scanner' && principal.scanner ? networkScanners.get(principal.scanner)?.attach() : undefined),
      logger: this.logger.child({ component: 'api' }),
    });
    running.api = api;
    await api.start();
    web?.start(api.httpServer!);
    // Last: its commands go through the API's methods, and a broker that is down delays nothing.
    if (config.mqtt) {
      const { MqttBridge } = await import('./mqtt/mqttBridge.ts');
      running.mqtt = new MqttBridge({ config: config.mqtt, site: config.site, version: VERSION, doors: () => monitor.doors(), events, methods, accounts, logger: this.logger.child({ component: 'mqtt' }) });
      await running.mqtt.start();
    }
  }

  /** Loaded only for a site with a hub: a standalone controller does not load the link's code. */
  private async startSync(running: Running): Promise<void> {
    const { config } = this;
    const [{ SyncLink }, { hubCredentialFile }, { watchClockAlarm }, { HubCalls }] = await Promise.all([import('./sync/syncLink.ts'), import('./sync/hubAddress.ts'), import('./sync/clockAlarm.ts'), import('./sync/hubCalls.ts')]);
    const logger = this.logger.child({ component: 'sync' });
    // The hub's site.call: served the API's methods once the API is made (startApi).
    const calls = new HubCalls({ enabled: config.hub!.remoteAdmin !== false, rate: config.api.rateLimit.perToken, logger });
    const sync = new SyncLink({ hub: config.hub!, credentialFile: hubCredentialFile(config), store: running.store, audit: running.audit, logger, clock: this.options.clock, timing: this.options.syncTiming, requests: running.hubRequests, calls });
    running.cleanups.push(watchClockAlarm(sync, { audit: running.audit, logger }));
    await sync.start();
    running.sync = sync;
  }

  /** The sync link's status; undefined for a standalone controller or one that is not running. */
  get syncStatus(): ReturnType<SyncLink['status']> {
    return this.running?.sync?.status();
  }

  /** The demo commands' doors: offered where the site has a simulated door, none on real hardware. */
  private demoDoors(audit: AuditTrail): DemoDoors | undefined {
    const simulated = (door: string) => {
      const io = this.doorIos.get(door);
      return io instanceof SimulatedDoorIo ? io : undefined;
    };
    return this.config.doors.some((d) => simulated(d.id)) ? { doorIo: simulated, audit } : undefined;
  }

  private createWebUi(methods: MethodTable, events: EventHub, accounts: Accounts, audit: AuditTrail): WebUi {
    const { config } = this;
    return new WebUi({
      web: config.web,
      api: config.api,
      site: config.site,
      emailConfigured: config.email !== undefined,
      controllerId: config.site.id,
      version: VERSION,
      methods,
      events,
      verifyPassword: (name, password) => accounts.verifyPassword(name, password),
      reauthenticate: (principal) => accounts.reauthenticate(principal),
      accountChanges: accounts.changes,
      audit,
      logger: this.logger.child({ component: 'web' }),
      distDir: this.options.webUiDir,
      clock: this.options.clock,
    });
  }

  private async teardown({ recordStop = false } = {}): Promise<void> {
    const running = this.running;
    if (running === undefined) return;
    this.running = undefined;
    // Clients first, then scanners, so no read arrives while doors settle.
    running.web?.stop();
    await running.api?.stop();
    await running.mqtt?.stop();
    await running.webhooks?.stop();
    // The hub link writes revocations and their audit events: closed before the store and the trail.
    await running.sync?.stop();
    // Doors settle and scanners stop: every read still in hand is concluded (denied `stopped`),
    // recorded and announced before the listeners go, and before the stop's own event.
    running.site?.send({ type: 'SETTLE' });
    await running.decisions?.idle();
    if (recordStop) await running.audit.append({ type: 'system', reason: 'stopped', actor: 'system' });
    for (const cleanup of running.cleanups.splice(0)) cleanup();
    running.monitor?.stop();
    running.site?.stop();
    for (const driver of this.scannerDrivers.values()) driver.disconnect();
    this.scannerDrivers.clear();
    const decoderPool = this.decoderPool;
    this.decoderPool = undefined;
    await decoderPool?.then((pool) => pool.stop(), () => undefined);
    for (const io of this.doorIos.values()) await io.stop();
    this.doorIos.clear();
    await running.audit.stop();
    await running.store.stop();
  }
}
