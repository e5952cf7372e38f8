/**
 * What every administrative command needs: the validated site file, the store, the site key and
 * the administration audit chain. The CLI writes to its own chain ("<site>/admin") so that it never
 * races a running controller for the controller's sequence numbers.
 */
import { AuditTrail } from '../audit/auditTrail.ts';
import type { SiteConfig } from '../config/configSchema.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { Issuing } from '../issuing/issuing.ts';
import { loadOrCreateSiteKey } from '../issuing/siteKey.ts';
import { openStore } from '../store/openStore.ts';
import type { Store } from '../store/storeTypes.ts';
import { loadSiteConfig } from './siteFile.ts';

export { configPath, loadSiteConfig } from './siteFile.ts';

export interface CliEnvironment {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

/** For commands that only read: the site file and the store. */
export interface ReadContext {
  config: SiteConfig;
  store: Store;
  close(): Promise<void>;
}

/** For commands that change the site: they also issue, and record what they did in the audit chain. */
export interface AdminContext extends ReadContext {
  issuing: Issuing;
  audit: AuditTrail;
  actor: string;
}

/**
 * How a command opens the store. `create`: whether it may make a new, empty store where there is
 * none (the `--create` flag). Commands other than `start` pass `{ create: values.create === true }`
 * (args.ts, opening()) so that a wrong dataDir or DATABASE_URL is refused ("no store at <path>: run
 * `postern start` first, or pass --create", STORE_UNAVAILABLE) instead of silently starting an
 * empty site: with*Context, which the commands use, take it without a default; open*Context
 * default to true. `ctx.store.created` says whether one was made.
 */
export interface ContextOptions {
  create?: boolean;
}

/** The site file and its store, started. */
async function startSiteStore(configFlag: string | undefined, env: NodeJS.ProcessEnv, options: ContextOptions): Promise<{ config: SiteConfig; store: Store }> {
  const config = loadSiteConfig(configFlag, env);
  // No background quick_check (a thread of its own): a command is over long before it would answer, and nothing here reads it.
  // No writer thread either: starting it costs a command more than its own work (sqliteBackend.ts, writerThread).
  const store = openStore({ databaseUrl: env.DATABASE_URL, dataDir: config.dataDir, create: options.create ?? true, quickCheck: false, writerThread: false });
  await store.start();
  return { config, store };
}

export async function openAdminContext(configFlag: string | undefined, env: NodeJS.ProcessEnv, options: ContextOptions = {}): Promise<AdminContext> {
  const { config, store } = await startSiteStore(configFlag, env, options);
  try {
    const siteKey = await loadOrCreateSiteKey(store);
    // Any number of commands may run at once, each a process of its own: they share this chain.
    const audit = new AuditTrail({ store, controllerId: `${config.site.id}/admin`, sharedChain: true });
    await audit.start();
    const actor = `cli:${env.USER ?? env.LOGNAME ?? 'unknown'}`;
    return {
      config,
      store,
      audit,
      actor,
      issuing: new Issuing({ store, siteKey, config, audit }),
      async close() {
        await audit.stop();
        const unsaved = audit.pending;
        await store.stop();
        if (unsaved > 0) throw new PosternError(ErrorCodes.STORE_WRITE_FAILED, `${unsaved} audit event(s) could not be written`);
      },
    };
  } catch (error) {
    await store.stop();
    throw error;
  }
}

export async function openReadContext(configFlag: string | undefined, env: NodeJS.ProcessEnv, options: ContextOptions = {}): Promise<ReadContext> {
  const { config, store } = await startSiteStore(configFlag, env, options);
  return { config, store, close: () => store.stop() };
}

/**
 * Runs `fn` with an open AdminContext and closes it afterwards, whether `fn` returns or throws.
 * close() throws when audit events could not be written: that error then reaches the user even
 * though the command itself succeeded.
 */
export function withAdminContext<T>(configFlag: string | undefined, env: NodeJS.ProcessEnv, fn: (ctx: AdminContext) => Promise<T>, options: ContextOptions): Promise<T> {
  return closing(openAdminContext(configFlag, env, options), fn);
}

/** Runs `fn` with an open ReadContext and closes it afterwards, whether `fn` returns or throws. */
export function withReadContext<T>(configFlag: string | undefined, env: NodeJS.ProcessEnv, fn: (ctx: ReadContext) => Promise<T>, options: ContextOptions): Promise<T> {
  return closing(openReadContext(configFlag, env, options), fn);
}

/**
 * A plain try/finally, so an error from close() replaces one from fn, exactly as when each command
 * wrote it out. A context that failed to open is not closed here.
 */
async function closing<C extends { close(): Promise<void> }, T>(opening: Promise<C>, fn: (ctx: C) => Promise<T>): Promise<T> {
  const ctx = await opening;
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
