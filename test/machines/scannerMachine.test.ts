import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { backoffDelay, scannerMachine, type ScannerInput, type ScanParams } from '../../machines/scannerMachine.ts';

const DEBOUNCE_MS = 1_000;

/** A started scanner whose driver calls and forwarded scans are recorded. */
function startScanner(input: Partial<ScannerInput> = {}) {
  const calls: string[] = [];
  const scans: ScanParams[] = [];
  const machine = scannerMachine.provide({
    actions: {
      connect: () => void calls.push('connect'),
      disconnect: () => void calls.push('disconnect'),
      forwardScan: (_, params) => void scans.push(params),
    },
  });
  const actor = createActor(machine, { input: { id: 's1', door: 'd1', debounceMs: DEBOUNCE_MS, ...input } }).start();
  return {
    actor,
    calls,
    scans,
    send: actor.send.bind(actor),
    snapshot: () => actor.getSnapshot(),
    context: () => actor.getSnapshot().context,
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('scannerMachine: connection', () => {
  it('connects on start and becomes ready on DRIVER.CONNECTED', () => {
    const scanner = startScanner();
    expect(scanner.snapshot().matches('connecting')).toBe(true);
    expect(scanner.calls).toEqual(['connect']);
    scanner.send({ type: 'DRIVER.CONNECTED' });
    expect(scanner.snapshot().matches('ready')).toBe(true);
  });

  it('retries with a doubling backoff capped at maxMs, and resets it on connect', () => {
    const scanner = startScanner({ backoff: { initialMs: 100, maxMs: 500 } });
    const expected = [100, 200, 400, 500, 500];
    for (const [i, delay] of expected.entries()) {
      scanner.send({ type: 'DRIVER.DISCONNECTED', reason: `failure ${i}` });
      expect(scanner.snapshot().matches('disconnected')).toBe(true);
      expect(scanner.context()).toMatchObject({ attempt: i + 1, lastError: `failure ${i}` });
      vi.advanceTimersByTime(delay - 1);
      expect(scanner.snapshot().matches('disconnected')).toBe(true);
      vi.advanceTimersByTime(1);
      expect(scanner.snapshot().matches('connecting')).toBe(true);
    }
    expect(scanner.calls).toEqual(Array(expected.length + 1).fill('connect'));

    scanner.send({ type: 'DRIVER.CONNECTED' });
    expect(scanner.context().attempt).toBe(0);
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'unplugged' });
    vi.advanceTimersByTime(99);
    expect(scanner.snapshot().matches('disconnected')).toBe(true);
    vi.advanceTimersByTime(1);
    expect(scanner.snapshot().matches('connecting')).toBe(true);
  });

  it('uses 500 ms doubling to 30 s by default', () => {
    expect([1, 2, 3, 7, 8, 20].map((attempt) => backoffDelay({ initialMs: 500, maxMs: 30_000 }, attempt))).toEqual([
      500, 1_000, 2_000, 30_000, 30_000, 30_000,
    ]);
    const scanner = startScanner();
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'x' });
    vi.advanceTimersByTime(499);
    expect(scanner.snapshot().matches('disconnected')).toBe(true);
    vi.advanceTimersByTime(1);
    expect(scanner.snapshot().matches('connecting')).toBe(true);
  });

  it('becomes ready at once if the driver reconnects by itself while waiting', () => {
    const scanner = startScanner();
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'x' });
    scanner.send({ type: 'DRIVER.CONNECTED' });
    expect(scanner.snapshot().matches('ready')).toBe(true);
    expect(scanner.context().attempt).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(scanner.snapshot().matches('ready')).toBe(true);
    expect(scanner.calls).toEqual(['connect']);
  });

  it('stops from any state, disconnecting the driver and cancelling the retry', () => {
    const scanner = startScanner();
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'x' });
    scanner.send({ type: 'STOP' });
    expect(scanner.snapshot().value).toBe('stopped');
    expect(scanner.snapshot().status).toBe('done');
    vi.advanceTimersByTime(60_000);
    expect(scanner.calls).toEqual(['connect', 'disconnect']);
  });
});

describe('scannerMachine: reads', () => {
  function readyScanner() {
    const scanner = startScanner();
    scanner.send({ type: 'DRIVER.CONNECTED' });
    return scanner;
  }

  it('forwards a read with the scanner and door ids', () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'P1.abc' });
    expect(scanner.scans).toEqual([{ scannerId: 's1', door: 'd1', text: 'P1.abc' }]);
    expect(scanner.context()).toMatchObject({ reads: 1, dropped: 0 });
  });

  it('drops the same text inside the debounce window and forwards it after', () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'A' });
    vi.advanceTimersByTime(DEBOUNCE_MS - 1);
    scanner.send({ type: 'DRIVER.READ', text: 'A' });
    expect(scanner.scans.map((s) => s.text)).toEqual(['A']);
    expect(scanner.context()).toMatchObject({ reads: 2, dropped: 1, lastText: 'A' });
    // The dropped repeat did not extend the window: it ends DEBOUNCE_MS after the forwarded read.
    vi.advanceTimersByTime(1);
    expect(scanner.context().lastText).toBeNull();
    scanner.send({ type: 'DRIVER.READ', text: 'A' });
    expect(scanner.scans.map((s) => s.text)).toEqual(['A', 'A']);
    expect(scanner.context()).toMatchObject({ reads: 3, dropped: 1 });
  });

  it('forwards a different text at once and restarts the window for it', () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'A' });
    vi.advanceTimersByTime(500);
    scanner.send({ type: 'DRIVER.READ', text: 'B' });
    expect(scanner.scans.map((s) => s.text)).toEqual(['A', 'B']);
    vi.advanceTimersByTime(DEBOUNCE_MS - 1);
    scanner.send({ type: 'DRIVER.READ', text: 'B' });
    expect(scanner.scans.map((s) => s.text)).toEqual(['A', 'B']);
    expect(scanner.context().dropped).toBe(1);
  });

  it('drops and counts reads while connecting or disconnected', () => {
    const scanner = startScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'early' });
    scanner.send({ type: 'DRIVER.CONNECTED' });
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'cable' });
    scanner.send({ type: 'DRIVER.READ', text: 'late' });
    expect(scanner.scans).toEqual([]);
    expect(scanner.context()).toMatchObject({ reads: 2, dropped: 2 });
  });

  it('forgets the debounce window across a reconnect', () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'A' });
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'x' });
    scanner.send({ type: 'DRIVER.CONNECTED' });
    scanner.send({ type: 'DRIVER.READ', text: 'A' });
    expect(scanner.scans.map((s) => s.text)).toEqual(['A', 'A']);
  });

  it('without a parent, the default forwardScan drops the scan instead of failing', () => {
    const actor = createActor(scannerMachine, { input: { id: 's1', door: 'd1', debounceMs: DEBOUNCE_MS } }).start();
    actor.send({ type: 'DRIVER.CONNECTED' });
    actor.send({ type: 'DRIVER.READ', text: 'A' });
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().matches({ ready: 'debouncing' })).toBe(true);
  });
});
