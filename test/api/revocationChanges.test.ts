/**
 * AccountChanges alone: what it reads and when it tells its listeners, and that a store that fails
 * or hangs never holds requests back for long (the requests then run with the principal as last
 * checked, as the API did before when the store was down). The end-to-end proof is
 * revocationInstant.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AccountChanges } from '../../controller/accounts/accountChanges.ts';

describe('AccountChanges', () => {
  it('reads nothing while nobody listens, and tells the listeners of each new version once', async () => {
    const store: { version?: string } = {};
    let reads = 0;
    const changes = new AccountChanges({ read: async () => (reads++, store.version), intervalMs: 60_000 });
    await changes.check();
    expect(reads).toBe(0);
    let told = 0;
    const off = changes.onChange(() => void told++);
    await changes.check(); // the first read counts as a change: nothing is known before it
    expect(told).toBe(1);
    await changes.check();
    expect(told).toBe(1);
    store.version = '1';
    await changes.check();
    expect(told).toBe(2);
    expect(changes.generation).toBe(2);
    off();
    const before = reads;
    await changes.check();
    expect(reads).toBe(before);
  });

  it('shares one read among the checks that arrive while it runs, and never uses a read that began before a check', async () => {
    let reads = 0;
    const pending: Array<() => void> = [];
    const changes = new AccountChanges({
      read: () => {
        reads++;
        return new Promise<string>((resolve) => pending.push(() => resolve(String(reads))));
      },
      intervalMs: 60_000,
      waitMs: 10_000,
    });
    changes.onChange(() => undefined);
    const first = changes.check();
    const second = [changes.check(), changes.check(), changes.check()];
    expect(reads).toBe(1);
    pending.shift()!();
    await first;
    // The three later checks share one read, made after the first ended.
    await new Promise((r) => setImmediate(r));
    expect(reads).toBe(2);
    pending.shift()!();
    await Promise.all(second);
    expect(reads).toBe(2);
  });

  it('gives up waiting for a read that hangs, and stops waiting at all while it still hangs', async () => {
    const changes = new AccountChanges({ read: () => new Promise<string>(() => undefined), intervalMs: 60_000, waitMs: 50 });
    changes.onChange(() => undefined);
    const started = performance.now();
    await changes.check();
    expect(performance.now() - started).toBeLessThan(1000);
    // The second does not wait at all: it settles before the event loop's next turn, where waiting
    // (even giving up after waitMs) would need a timer to fire first.
    const order: string[] = [];
    const second = changes.check().then(() => order.push('check settled'));
    await new Promise((resolve) => setImmediate(resolve));
    order.push('next turn');
    await second;
    expect(order).toEqual(['check settled', 'next turn']);
  });

  it('reports a failing store once per outage, and notices a change made during it', async () => {
    let failing = true;
    let version = '1';
    const errors: unknown[] = [];
    let told = 0;
    const changes = new AccountChanges({
      read: async () => {
        if (failing) throw new Error('store down');
        return version;
      },
      intervalMs: 60_000,
      onError: (e) => errors.push(e),
    });
    changes.onChange(() => void told++);
    await changes.check();
    await changes.check();
    expect(errors).toHaveLength(1);
    expect(told).toBe(0);
    failing = false;
    version = '2';
    await changes.check();
    expect(told).toBe(1);
  });
});
