/**
 * `postern demo force-open|hold-open|close DOOR` as a real process against a running controller
 * (simulated doors, API on a free port): each prints the door as the command left it and the
 * alarm it raised; a refused call is exit 1 with the controller's reason, a missing door exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { runCli } from '../support/runCli.ts';

let site: ApiSite;
let url: string;

beforeAll(async () => {
  site = await startApiSite();
  url = `${site.url.replace(/^http/, 'ws')}/api`;
});
afterAll(async () => {
  await site.stop();
});

/** The token in POSTERN_TOKEN, as README's walk-through has it; null: none at all. */
const demo = (args: string[], token: string | null = site.tokens.operator) => runCli(['demo', ...args, '--url', url], { POSTERN_TOKEN: token ?? undefined });

async function doorWhen(door: string, wanted: (status: any) => boolean, timeoutMs = 10_000): Promise<any> {
  const client = await ApiClient.connect(site.url, site.tokens.viewer);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await client.call('doors.get', { door });
      if (wanted(status)) return status;
      if (Date.now() > deadline) throw new Error(`door ${door} stayed ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    client.close();
  }
}

describe('postern demo', () => {
  it('force-open raises the forced-open alarm, close ends it (token from POSTERN_TOKEN)', async () => {
    const forced = await demo(['force-open', 'front']);
    expect(forced).toMatchObject({ code: 0, stderr: '' });
    expect(forced.stdout).toBe('door front: forcedOpen (door open, relay locked); alarm forced-open\n');

    const closed = await demo(['close', 'front']);
    expect(closed.code).toBe(0);
    expect(closed.stdout).toBe('door front: secured (door closed, relay locked); alarm forced-open (door closed again)\n');
  });

  it('hold-open keeps the door open on a grant until the held-open alarm (token from --token)', async () => {
    const held = await runCli(['demo', 'hold-open', 'lab', '--url', url, '--token', site.tokens.operator], { POSTERN_TOKEN: undefined });
    expect(held.code).toBe(0);
    expect(held.stdout).toBe('door lab: open (door open, relay unlocked)\n');
    await doorWhen('lab', (s) => s.state === 'heldOpen' && s.alarm?.kind === 'held-open');
    const closed = await demo(['close', 'lab']);
    expect(closed.stdout).toBe('door lab: secured (door closed, relay locked); alarm held-open (door closed again)\n');
  });

  it('exits 1 with the reason when refused or unreachable, 2 for a missing door', async () => {
    const [viewer, unknown, noToken, unreachable, missing] = await Promise.all([
      demo(['force-open', 'store'], site.tokens.viewer),
      demo(['close', 'back']),
      demo(['force-open', 'store'], null),
      runCli(['demo', 'close', 'store', '--url', 'ws://127.0.0.1:9/api', '--token', 'pst_x']),
      runCli(['demo', 'force-open', '--url', url]),
    ]);
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toContain('demo.forceOpen:');
    expect(viewer.stderr).toContain('operator');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no door "back"');
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('pass --token or set POSTERN_TOKEN');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot reach the controller at ws://127.0.0.1:9/api');
    expect(missing.code).toBe(2);
    expect(missing.stderr.split('\n')[0]).toBe("postern: missing required argument 'door'");
    for (const r of [viewer, unknown, noToken, unreachable]) expect(r.stderr).not.toContain('    at ');
    // Nothing refused moved the door.
    expect(await doorWhen('store', () => true)).toMatchObject({ state: 'secured', doorOpen: false, alarm: null });
  });
});
