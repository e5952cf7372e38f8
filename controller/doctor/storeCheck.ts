/**
 * The store's engine: SQLite's native module loads (it is built for one Node.js ABI, so a Node.js
 * upgrade without a rebuild stops the controller), or PostgreSQL answers at DATABASE_URL with the
 * credentials given. Nothing is written and the controller's claim is not touched.
 */
import { describePostgresUrl } from '../store/openStore.ts';
import type { DoctorCheck, DoctorContext } from './doctor.ts';

const POSTGRES_TIMEOUT_MS = 5000;

export async function storeCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  const url = ctx.env.DATABASE_URL;
  if (url === undefined || url === '') {
    try {
      const version = await ctx.system.sqliteVersion();
      return { name: 'store', status: 'ok', message: `SQLite ${version} (better-sqlite3 loads), in ${ctx.config.dataDir}` };
    } catch (error) {
      return {
        name: 'store',
        status: 'fail',
        message: `the SQLite module cannot be loaded: ${firstLine(error)}`,
        // Never built and built for another Node.js read alike. npm 12, installing or rebuilding,
        // skips the install script of a dependency that package.json's allowScripts does not allow.
        hint: 'build it for this Node.js: npm rebuild better-sqlite3 in the folder Postern was installed in (needs python3, make and g++), whose package.json allows its script ("allowScripts": { "better-sqlite3": true }, docs/install.md)',
      };
    }
  }
  const { location, server } = describePostgresUrl(url);
  try {
    const version = await ctx.system.postgresVersion(url, POSTGRES_TIMEOUT_MS);
    return { name: 'store', status: 'ok', message: `PostgreSQL ${version} at ${location} (DATABASE_URL) answers` };
  } catch (error) {
    return {
      name: 'store',
      status: 'fail',
      message: `PostgreSQL at ${location} (DATABASE_URL) does not answer: ${firstLine(error)}`,
      hint: `check that the server at ${server} runs and accepts this user (pg_hba.conf), and that DATABASE_URL is in /etc/postern/postern.env`,
    };
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message || (error as NodeJS.ErrnoException).code || error.name : String(error);
  return text.split('\n')[0]!;
}
