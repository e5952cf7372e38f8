/**
 * One hub process for bench/hubSync.ts: `Hub` on 127.0.0.1, any free port, over the database in
 * POSTERN_BENCH_HUB_DB, enrolment unthrottled (the benchmark enrols hundreds of controllers from
 * one address). Prints `HUB_READY <port>` once serving; stops on SIGTERM.
 *
 * POSTERN_BENCH_HUB_POLL_MS (optional): the cursor-polling variant. The change feed still runs (for
 * `!close` and `!link`), but change notifications are ignored; instead every link of this hub looks
 * for changes after its cursor every that many ms (SyncSession.catchUp, the path a hub takes after
 * its feed reconnects). Reached through private fields: a benchmark switch, not a product option.
 */
import { Hub } from '../controller/hub/hubServer.ts';
import type { LinkRegistry } from '../controller/hub/linkRegistry.ts';

const databaseUrl = process.env.POSTERN_BENCH_HUB_DB;
if (databaseUrl === undefined) throw new Error('POSTERN_BENCH_HUB_DB is not set');
const pollMs = Number(process.env.POSTERN_BENCH_HUB_POLL_MS ?? 0);

const hub = new Hub({ databaseUrl, port: 0, host: '127.0.0.1', enrolThrottle: { rate: 100_000, burst: 100_000 } });
await hub.start();

if (pollMs > 0) {
  const inside = hub as unknown as { links: LinkRegistry; feed: { options: { listener: unknown } } };
  const links = inside.links;
  inside.feed.options.listener = {
    onChange: () => undefined,
    onClose: (id: string) => links.onClose(id),
    onLink: (id: string, nonce: string) => links.onLink(id, nonce),
    onReconnect: () => links.onReconnect(),
  };
  setInterval(() => {
    for (const session of links.all()) session.catchUp();
  }, pollMs).unref();
}

process.on('SIGTERM', () => {
  void hub.stop().finally(() => process.exit(0));
});
process.stdout.write(`HUB_READY ${hub.address().port}\n`);
