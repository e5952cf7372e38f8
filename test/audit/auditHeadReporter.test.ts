/**
 * AuditHeadReporter with fake timers: the head at start, at every interval and at stop, each line
 * with the anchor text; nothing after stop; a timer that never keeps the process alive.
 */
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { AuditHeadReporter, DEFAULT_HEAD_INTERVAL_MS } from '../../controller/audit/auditHeadReporter.ts';
import { ControllerMetrics } from '../../controller/api/metrics.ts';
import { createLogger } from '../../controller/logger.ts';

const HASH = (c: string) => c.repeat(64);

function fakeTrail() {
  return { controllerId: 'site-a', head: { seq: 0, hash: HASH('0') } };
}

describe('AuditHeadReporter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs the head at start, every interval and at stop, then never again', () => {
    const trail = fakeTrail();
    const logged: Array<[object, string | undefined]> = [];
    const reporter = new AuditHeadReporter({ trail, logger: { info: (obj, msg) => logged.push([obj, msg]) }, intervalMs: 1000 });
    trail.head = { seq: 5, hash: HASH('a') };
    reporter.start();
    reporter.start(); // no second timer
    expect(logged).toEqual([[{ controllerId: 'site-a', seq: 5, hash: HASH('a'), anchor: `site-a 5 ${HASH('a')}` }, 'audit head']]);

    trail.head = { seq: 9, hash: HASH('b') };
    vi.advanceTimersByTime(999);
    expect(logged).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(logged.at(-1)?.[0]).toMatchObject({ seq: 9, hash: HASH('b'), anchor: `site-a 9 ${HASH('b')}` });
    vi.advanceTimersByTime(3000);
    expect(logged).toHaveLength(5);

    trail.head = { seq: 12, hash: HASH('c') };
    reporter.stop();
    expect(logged).toHaveLength(6);
    expect(logged.at(-1)?.[0]).toMatchObject({ seq: 12 });
    reporter.stop(); // stopped already: no report
    vi.advanceTimersByTime(10_000);
    expect(logged).toHaveLength(6);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reports every hour by default, on an unref\'d timer', () => {
    const info = vi.fn();
    const setIntervalSpy = vi.spyOn(globalThis, 'setInterval');
    const reporter = new AuditHeadReporter({ trail: fakeTrail(), logger: { info } });
    reporter.start();
    expect(DEFAULT_HEAD_INTERVAL_MS).toBe(3_600_000);
    const timer = setIntervalSpy.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    vi.advanceTimersByTime(DEFAULT_HEAD_INTERVAL_MS - 1);
    expect(info).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(info).toHaveBeenCalledTimes(2);
    reporter.stop();
    setIntervalSpy.mockRestore();
  });

  it('can be started again after stop, as a controller is', () => {
    const info = vi.fn();
    const reporter = new AuditHeadReporter({ trail: fakeTrail(), logger: { info }, intervalMs: 10 });
    reporter.start();
    reporter.stop();
    reporter.start();
    vi.advanceTimersByTime(10);
    expect(info).toHaveBeenCalledTimes(4);
    reporter.stop();
  });

  it('writes a pino line an operator can copy into an anchor file', () => {
    const out = new PassThrough();
    const logger = createLogger('info', out).child({ component: 'audit' });
    new AuditHeadReporter({ trail: { controllerId: 'site-a', head: { seq: 7, hash: HASH('d') } }, logger }).report();
    const line = JSON.parse(String(out.read())) as Record<string, unknown>;
    expect(line).toMatchObject({ component: 'audit', msg: 'audit head', controllerId: 'site-a', seq: 7, hash: HASH('d'), anchor: `site-a 7 ${HASH('d')}` });
  });

  it('refuses an interval that is not positive', () => {
    expect(() => new AuditHeadReporter({ trail: fakeTrail(), logger: { info: () => {} }, intervalMs: 0 })).toThrow(RangeError);
  });
});

describe('postern_audit_head_seq', () => {
  const sources = { doors: () => [], scanners: () => [], auditPending: () => 0, apiConnections: () => 0 };

  it('is the controller\'s head seq, read at each scrape', async () => {
    const trail = fakeTrail();
    const metrics = new ControllerMetrics({ ...sources, auditHead: () => ({ controllerId: trail.controllerId, seq: trail.head.seq }) });
    trail.head = { seq: 41, hash: HASH('a') };
    expect(await metrics.text()).toContain('postern_audit_head_seq{controller="site-a"} 41');
    trail.head = { seq: 42, hash: HASH('b') };
    expect(await metrics.text()).toContain('postern_audit_head_seq{controller="site-a"} 42');
  });

  it('is left out when the controller gives no head', async () => {
    expect(await new ControllerMetrics(sources).text()).not.toContain('postern_audit_head_seq');
  });
});
