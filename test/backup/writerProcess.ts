/**
 * A second process that writes to a site's SQLite store without pause, as CLI commands beside a
 * running controller do (run with `node --import tsx`):
 *
 *   writerProcess.ts DATA_DIR SITE_FILE
 *
 * Each round issues a link and revokes it (the revocation and the link's revokedAt stamp are one
 * transaction), each recorded on the `<site>/admin` audit chain. Prints {"rounds":N} after the
 * first round and again on SIGTERM, when it stops cleanly.
 */
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { loadConfig } from '../../controller/config/loadConfig.ts';
import { Issuing } from '../../controller/issuing/issuing.ts';
import { loadOrCreateSiteKey } from '../../controller/issuing/siteKey.ts';
import { openStore } from '../../controller/store/openStore.ts';

const [dataDir, siteFile] = process.argv.slice(2);
if (dataDir === undefined || siteFile === undefined) {
  process.stderr.write('usage: writerProcess.ts DATA_DIR SITE_FILE\n');
  process.exit(2);
}

const config = loadConfig(siteFile, { POSTERN_DATA_DIR: dataDir });
const store = openStore({ dataDir, quickCheck: false, create: false });
await store.start();
const audit = new AuditTrail({ store, controllerId: `${config.site.id}/admin` });
await audit.start();
const issuing = new Issuing({ store, siteKey: await loadOrCreateSiteKey(store), config, audit });

let stopping = false;
let rounds = 0;
process.on('SIGTERM', () => (stopping = true));
while (!stopping) {
  const { link } = await issuing.createLink({ name: `writer ${rounds}`, scope: 7 }, 'writer');
  await issuing.revokeLink(link.id, 'writer', 'round');
  rounds += 1;
  if (rounds === 1) process.stdout.write(`${JSON.stringify({ rounds })}\n`);
}
await audit.stop();
await store.stop();
process.stdout.write(`${JSON.stringify({ rounds })}\n`);
