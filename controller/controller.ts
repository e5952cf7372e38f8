/**
 * The composition root: config → logger → store → drivers → actors, in that order, and back in
 * reverse on stop(). Constructing a Controller does nothing; start() opens, stop() closes every
 * handle and timer, so a test can run many controllers in one process.
 */
import type { Readable } from 'node:stream';
import { createActor, type Actor, type SnapshotFrom } from 'xstate';
import { doorMachine } from '../machines/doorMachine.ts';
import { scannerMachine } from '../machines/scannerMachine.ts';
import { siteMachine } from '../machines/siteMachine.ts';
import { createDoorIo, createScannerDriver } from '../drivers/createDrivers.ts';
import type { DoorIo, DoorIoEvent } from '../drivers/doorIo/doorIo.ts';
import type { ScannerDriver } from '../drivers/scanners/scannerDriver.ts';
import { AuditTrail } from './audit/auditTrail.ts';
import type { SiteConfig } from './config/configSchema.ts';
import { PartnerDirectory } from './credentials/partnerDirectory.ts';
import { ScanThrottle } from './credentials/scanThrottle.ts';
import { ScopeDirectory } from './credentials/scopeDirectory.ts';
import { Verifier } from './credentials/verifier.ts';
import { DoorOperator } from './doorOperator.ts';
import { DecisionService, type Decision, type DoorRefusal } from './decision/decisionService.ts';
import { LocalHub } from './decision/localHub.ts';
import { ErrorCodes, PosternError } from './errors.ts';
import { loadOrCreateSiteKey } from './issuing/siteKey.ts';
import { createLogger, type Logger } from './logger.ts';
import { openStore } from './store/openStore.ts';
import type { Store } from './store/storeTypes.ts';

export interface ControllerOptions {
  config: SiteConfig;
  /** PostgreSQL instead of the embedded SQLite file. */
  databaseUrl?: string;
  logger?: Logger;
  /** Where a terminal scanner reads; standard input unless a test passes a stream. */
  terminal?: Readable;
  clock?: () => number;
}

export interface DoorChange {
  door: string;
  from: string;
  to: string;
}

type SiteActor = Actor<typeof siteMachine>;
type DoorSnapshot = SnapshotFrom<typeof doorMachine>;

export class Controller {
  readonly config: SiteConfig;
  readonly logger: Logger;
  private store: Store | undefined;
  private audit: AuditTrail | undefined;
  private decisions: DecisionService | undefined;
  private site: SiteActor | undefined;
  private operator: DoorOperator | undefined;
  private readonly doorIos = new Map<string, DoorIo>();
  private readonly scannerDrivers = new Map<string, ScannerDriver>();
  private readonly cleanups: Array<() => void> = [];
  private readonly decisionListeners = new Set<(decision: Decision) => void>();
  private readonly doorListeners = new Set<(change: DoorChange) => void>();
  private running = false;

  constructor(private readonly options: ControllerOptions) {
    this.config = options.config;
    this.logger = options.logger ?? createLogger(options.config.logLevel);
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { config } = this;
    const clock = this.options.clock ?? Date.now;
    const log = this.logger.child({ component: 'controller' });

    const store = openStore({ databaseUrl: this.options.databaseUrl, dataDir: config.dataDir, logger: this.logger.child({ component: 'store' }) });
    await store.start();
    this.store = store;
    try {
      const siteKey = await loadOrCreateSiteKey(store);
      const audit = new AuditTrail({ store, controllerId: config.site.id, logger: this.logger.child({ component: 'audit' }), clock });
      await audit.start();
      this.audit = audit;

      for (const door of config.doors) {
        const io = await createDoorIo(door);
        await io.start();
        this.doorIos.set(door.id, io);
      }
      for (const scanner of config.scanners) {
        this.scannerDrivers.set(scanner.id, await createScannerDriver(scanner, this.options.terminal ?? process.stdin));
      }

      const throttle = config.throttle;
      const verifier = new Verifier({
        siteKey,
        store,
        partners: new PartnerDirectory(store),
        scopes: new ScopeDirectory(config.scopes, store),
        throttle: new ScanThrottle({
          maxFailures: throttle.maxFailures,
          windowMs: throttle.windowSeconds * 1000,
          lockoutMs: throttle.lockoutSeconds * 1000,
          maxLockoutMs: throttle.maxLockoutSeconds * 1000,
        }),
        onlineLinks: new LocalHub(store),
        siteDefaultScope: config.site.defaultScope,
      });
      this.decisions = new DecisionService({
        verifier,
        audit,
        doorRefusal: (door) => this.doorRefusal(door),
        openDoor: (door) => this.site?.send({ type: 'DECISION', door, grant: true }),
        logger: this.logger.child({ component: 'decision' }),
        clock,
      });
      this.cleanups.push(this.decisions.onDecision((d) => this.decisionListeners.forEach((l) => l(d))));

      // Doors are driven to their safe state as their actors start, inside createActor().start()
      // below, before any scanner driver is asked to connect.
      const modes = await store.getDoorModes();
      this.site = this.createSite(modes);
      this.site.start();
      this.wireDrivers();
      this.watchDoors();
      this.operator = new DoorOperator({
        doorIds: config.doors.map((d) => d.id),
        sendToDoor: (door, event) => this.site?.send({ type: 'DOOR', door, event }),
        modeOf: (door) => this.doorSnapshot(door)?.context.mode ?? 'normal',
        store,
        audit,
      });
      await audit.append({ type: 'system', door: null, scanner: null, subject: null, kind: null, issuer: null, verdict: null, reason: 'started', actor: 'system', data: { doors: config.doors.length, scanners: config.scanners.length, store: store.dialect } });
      this.running = true;
      log.info({ site: config.site.id, doors: config.doors.length, scanners: config.scanners.length, store: store.dialect }, 'controller started');
    } catch (error) {
      await this.teardown();
      throw error;
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.audit?.append({ type: 'system', door: null, scanner: null, subject: null, kind: null, issuer: null, verdict: null, reason: 'stopped', actor: 'system', data: null });
    await this.teardown();
    this.logger.child({ component: 'controller' }).info('controller stopped');
  }

  /** Decisions as they are made: the CLI, the API and tests watch verdicts here. */
  onDecision(listener: (decision: Decision) => void): () => void {
    this.decisionListeners.add(listener);
    return () => this.decisionListeners.delete(listener);
  }

  /** Door state changes as they happen. */
  onDoorChange(listener: (change: DoorChange) => void): () => void {
    this.doorListeners.add(listener);
    return () => this.doorListeners.delete(listener);
  }

  /** Operator commands on doors; available while the controller runs. */
  get doors(): DoorOperator {
    if (this.operator === undefined) throw new PosternError(ErrorCodes.CONFLICT, 'the controller is not running');
    return this.operator;
  }

  doorIo(door: string): DoorIo | undefined {
    return this.doorIos.get(door);
  }

  scannerDriver(scanner: string): ScannerDriver | undefined {
    return this.scannerDrivers.get(scanner);
  }

  doorSnapshot(door: string): DoorSnapshot | undefined {
    return this.site?.getSnapshot().context.doors[door]?.getSnapshot() as DoorSnapshot | undefined;
  }

  scannerSnapshot(scanner: string): SnapshotFrom<typeof scannerMachine> | undefined {
    return this.site?.getSnapshot().context.scanners[scanner]?.getSnapshot() as SnapshotFrom<typeof scannerMachine> | undefined;
  }

  get storeDialect(): string | undefined {
    return this.store?.dialect;
  }

  private doorRefusal(door: string): DoorRefusal | undefined {
    const snapshot = this.doorSnapshot(door);
    if (snapshot === undefined) return 'door-fault';
    if (snapshot.value === 'lockdown' || snapshot.context.mode === 'lockdown') return 'lockdown';
    if (snapshot.value === 'fault' || snapshot.value === 'stopped') return 'door-fault';
    return undefined;
  }

  private createSite(modes: Record<string, 'normal' | 'lockdown' | 'passage'>): SiteActor {
    const doorIos = this.doorIos;
    const drivers = this.scannerDrivers;
    const decisions = this.decisions!;
    const log = this.logger.child({ component: 'site' });
    const provided = siteMachine.provide({
      actions: {
        decide: (_, scan: { scannerId: string; door: string; text: string }) => {
          decisions
            .decide({ scanner: scan.scannerId, door: scan.door, text: scan.text })
            .catch((error: unknown) => log.error({ err: error, door: scan.door, scanner: scan.scannerId }, 'decision failed'));
        },
      },
      actors: {
        door: doorMachine.provide({
          actions: {
            setRelay: ({ context }, { unlocked }: { unlocked: boolean }) => doorIos.get(context.id)?.setRelay(unlocked),
            notifyAlarm: ({ context }, { kind }: { kind: string }) => log.warn({ door: context.id, alarm: kind }, 'door alarm'),
          },
        }),
        scanner: scannerMachine.provide({
          actions: {
            connect: ({ context }) => drivers.get(context.id)?.connect(),
            disconnect: ({ context }) => drivers.get(context.id)?.disconnect(),
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

  private wireDrivers(): void {
    const site = this.site!;
    for (const [door, io] of this.doorIos) {
      this.cleanups.push(io.onEvent((event) => site.send({ type: 'DOOR', door, event: doorEvent(event) })));
    }
    for (const [scanner, driver] of this.scannerDrivers) {
      this.cleanups.push(
        driver.onEvent((event) => {
          const scannerEvent =
            event.type === 'read'
              ? ({ type: 'DRIVER.READ', text: event.text } as const)
              : event.type === 'connected'
                ? ({ type: 'DRIVER.CONNECTED' } as const)
                : ({ type: 'DRIVER.DISCONNECTED', reason: event.reason } as const);
          site.send({ type: 'SCANNER', scanner, event: scannerEvent });
        }),
      );
    }
  }

  /** Every change of a door's state is a door event in the audit trail. */
  private watchDoors(): void {
    const audit = this.audit!;
    const log = this.logger.child({ component: 'door' });
    for (const [door, ref] of Object.entries(this.site!.getSnapshot().context.doors)) {
      let last = (ref.getSnapshot() as DoorSnapshot).value as string;
      const subscription = ref.subscribe((snapshot) => {
        const state = (snapshot as DoorSnapshot).value as string;
        if (state === last) return;
        const from = last;
        last = state;
        log.info({ door, from, to: state }, 'door state');
        for (const listener of this.doorListeners) listener({ door, from, to: state });
        void audit.append({ type: 'door', door, scanner: null, subject: null, kind: null, issuer: null, verdict: null, reason: state, actor: null, data: { from } });
      });
      this.cleanups.push(() => subscription.unsubscribe());
    }
  }

  private async teardown(): Promise<void> {
    // Scanners first, so no read arrives while doors settle.
    this.site?.send({ type: 'SETTLE' });
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.site?.stop();
    this.site = undefined;
    this.operator = undefined;
    for (const driver of this.scannerDrivers.values()) driver.disconnect();
    this.scannerDrivers.clear();
    for (const io of this.doorIos.values()) await io.stop();
    this.doorIos.clear();
    await this.audit?.stop();
    this.audit = undefined;
    await this.store?.stop();
    this.store = undefined;
  }
}

function doorEvent(event: DoorIoEvent) {
  switch (event.type) {
    case 'sensor':
      return event.open ? ({ type: 'DOOR.OPENED' } as const) : ({ type: 'DOOR.CLOSED' } as const);
    case 'rex':
      return { type: 'REX' } as const;
    case 'fault':
      return { type: 'IO.FAULT', reason: event.reason } as const;
    case 'ok':
      return { type: 'IO.OK' } as const;
  }
}
