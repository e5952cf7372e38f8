/**
 * `postern backup --out FILE` and `postern restore FILE`: a consistent copy of the site's SQLite
 * store, taken while the controller runs, and that copy put into an empty data directory
 * (controller/backup). PostgreSQL stores are refused with the pg_dump / pg_restore command to use.
 */
import { backupStore } from '../backup/backupStore.ts';
import { restoreStore } from '../backup/restoreStore.ts';
import { requireString, type SiteOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { AuditBrokenError } from './cliErrors.ts';
import { loadSiteConfig } from './siteFile.ts';

export async function backupCommand(values: SiteOptions & { out?: string }, io: CliEnvironment): Promise<void> {
  const out = requireString(values.out, 'out');
  const config = loadSiteConfig(values.config, io.env);
  const result = await backupStore({ dataDir: config.dataDir, out, databaseUrl: io.env.DATABASE_URL });
  io.stdout.write(`Backup of ${result.source} written to ${result.file} (${result.bytes} bytes, schema ${result.schemaVersion})\n`);
  for (const chain of result.auditChains) io.stdout.write(`  ${chain.controllerId}: ${chain.events} events, up to #${chain.lastSeq}\n`);
  io.stdout.write('It holds the site key and every secret of the store: keep it as carefully as the data directory.\n');
}

/** Exits as `audit verify` does: 3 when a restored audit chain is broken (the restore stays: it is the data there is). */
export async function restoreCommand(values: SiteOptions & { file: string }, io: CliEnvironment): Promise<void> {
  const config = loadSiteConfig(values.config, io.env);
  const result = await restoreStore(values.file, config.dataDir, { databaseUrl: io.env.DATABASE_URL });
  io.stdout.write(`Restored ${result.from} into ${result.file} (schema ${result.schemaVersion}${result.migrated.length > 0 ? `, migrated: ${result.migrated.join(', ')}` : ''})\n`);
  for (const chain of result.auditChains) {
    io.stdout.write(`${chain.controllerId}: ${chain.events} events, ${chain.ok ? 'chain intact' : `${chain.problems.length} problem(s)`}\n`);
    for (const p of chain.problems) io.stdout.write(`  event #${p.seq}: ${p.problem}: ${p.detail}\n`);
  }
  if (!result.verified) throw new AuditBrokenError(`${result.auditChains.filter((c) => !c.ok).length} audit chain(s) of the restored store failed verification`);
}
