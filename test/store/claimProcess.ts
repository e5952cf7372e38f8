/**
 * A second process for the controller-claim tests (run with `node --import tsx`):
 *
 *   claimProcess.ts hold DATA_DIR SITE [DATABASE_URL]   claims, prints {"claimed":true,"pid":N}, waits to be killed
 *   claimProcess.ts try  DATA_DIR SITE [DATABASE_URL]   tries to claim, prints the outcome, exits
 */
import { openStore } from '../../controller/store/openStore.ts';

const [mode, dataDir, siteId, databaseUrl] = process.argv.slice(2);
if ((mode !== 'hold' && mode !== 'try') || dataDir === undefined || siteId === undefined) {
  process.stderr.write('usage: claimProcess.ts hold|try DATA_DIR SITE [DATABASE_URL]\n');
  process.exit(2);
}

const store = openStore({ dataDir, databaseUrl, quickCheck: false });
await store.start();
try {
  await store.claimController(siteId);
  process.stdout.write(`${JSON.stringify({ claimed: true, pid: process.pid })}\n`);
  if (mode === 'hold') setInterval(() => undefined, 60_000);
  else await store.stop();
} catch (error) {
  const { code, message } = error as { code?: string; message: string };
  process.stdout.write(`${JSON.stringify({ claimed: false, pid: process.pid, code, message })}\n`);
  await store.stop();
}
