import { Controller } from '../controller.ts';
import { tuneHeapForController } from '../heapTuning.ts';
import { checkDataDir } from '../config/checkDataDir.ts';
import { DEMO_CONFIG } from '../config/demoConfig.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { createCliLogger, type LogFormat } from '../logger.ts';
import { checkStartFiles } from '../secureFiles.ts';
import type { SiteOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { stateWord } from './format.ts';
import { configPath } from './siteFile.ts';
import { listenForStop } from './stopSignal.ts';

export interface StartOptions extends SiteOptions {
  demo?: boolean;
  logFormat?: LogFormat;
}

/** Runs until SIGINT or SIGTERM, then stops cleanly. Logs are lines for people on a terminal, else JSON (--log-format). */
export async function startCommand(values: StartOptions, io: CliEnvironment, signals: NodeJS.EventEmitter = process): Promise<void> {
  // Everything that can be refused without opening anything is, first: the site file and the
  // environment's settings (one schema), then the data directory. A refusal here leaves no timer,
  // thread or socket behind to keep the process alive.
  const siteFile = values.demo ? DEMO_CONFIG : configPath(values.config, io.env);
  const config = loadConfig(siteFile, io.env);
  if (!io.env.DATABASE_URL) checkDataDir(config.dataDir, io.env.POSTERN_DATA_DIR?.trim() ? 'POSTERN_DATA_DIR' : `dataDir in ${siteFile}`);
  const out = (line: string) => io.stdout.write(line + '\n');
  const stop = listenForStop(signals, out, 'controller');
  const logger = await createCliLogger(config.logLevel, values.logFormat, io.stderr);
  checkStartFiles(config, { siteFile, logger: logger.child({ component: 'files' }) });

  // A long-running process that decides in bursts: keep the heap near what is live (heapTuning.ts).
  tuneHeapForController();
  const controller = new Controller({ config, databaseUrl: io.env.DATABASE_URL, logger });

  controller.onDecision((d) => {
    const who = d.subject === null ? '' : ` ${d.kind} ${d.issuer ? `${d.issuer}:` : ''}${d.subject}`;
    out(`${d.verdict === 'grant' ? 'GRANT' : 'DENY '} ${d.door} (scanner ${d.scanner})${who}${d.reason ? `: ${d.reason}` : ''}`);
  });
  controller.onDoorChange((c) => out(`door ${c.door}: ${stateWord(c.from)} -> ${stateWord(c.to)}`));

  await controller.start();
  stop.started();
  const terminal = config.scanners.find((s) => s.driver === 'terminal');
  out(`Postern controller for "${config.site.name}" (${config.site.id}) on ${controller.storeDialect}, data in ${io.env.DATABASE_URL ? 'PostgreSQL' : config.dataDir}`);
  // Worth a line of its own: on a site that had links and an audit trail, dataDir or DATABASE_URL points at the wrong place.
  if (controller.newStoreAt !== undefined) out(`new empty store at ${controller.newStoreAt}`);
  out(`doors: ${config.doors.map((d) => d.id).join(', ')}; scanners: ${config.scanners.map((s) => `${s.id}->${s.door}`).join(', ')}`);
  if (controller.apiUrl) out(`API: ${controller.apiUrl.replace(/^http/, 'ws')}/api (JSON-RPC 2.0; docs/api.md); metrics: ${controller.apiUrl}/metrics`);
  if (terminal) out(`Scanner "${terminal.id}" reads this terminal: paste a code and press Enter to scan it at door "${terminal.door}".`);
  for (const kiosk of config.scanners.filter((s) => s.driver === 'kiosk')) {
    out(`Scanner "${kiosk.id}" is a kiosk page: \`postern token create --name tablet --role scanner --scanner ${kiosk.id}\` prints the link to open in a browser with a camera.`);
  }
  out('Press Ctrl+C to stop.');

  const signal = await stop.asked;
  out(`${signal}: stopping`);
  await controller.stop();
  out('stopped');
}
