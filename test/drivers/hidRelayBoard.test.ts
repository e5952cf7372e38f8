/**
 * The HID relay board driver against a fake node-hid device, on the report bytes the USBRelay
 * boards expect (written out here as fixtures, not computed by the driver's own helpers).
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DoorIoEvent } from '../../drivers/doorIo/doorIo.ts';
import { HidRelayBoard, type HidRelayDevice, type HidRelayBoardOptions } from '../../drivers/doorIo/hidRelayBoard.ts';
import { configSchema } from '../../controller/config/configSchema.ts';
import { createDoorIo } from '../../drivers/createDrivers.ts';

/** Recorded reports: [report id 0, command, channel, 6 × 0]. */
const CH1_ON = [0x00, 0xff, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
const CH1_OFF = [0x00, 0xfd, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
const CH3_ON = [0x00, 0xff, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
const CH3_OFF = [0x00, 0xfd, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
/** Serial "QWERT", then two unused bytes, the relay bitmask, one unused byte. */
const SERIAL = [0x51, 0x57, 0x45, 0x52, 0x54];

/** A board that obeys the protocol: keeps the relay bitmask and reports it back. */
class FakeBoard extends EventEmitter implements HidRelayDevice {
  relays = 0;
  sent: number[][] = [];
  closed = false;
  failWrites = false;
  /** When set, the relay does not move (a welded contact, a board that ignores the report). */
  stuck = false;

  sendFeatureReport(data: number[] | Buffer): number {
    if (this.failWrites) throw new Error('could not send feature report to device');
    const bytes = [...data];
    this.sent.push(bytes);
    const bit = 1 << (bytes[2]! - 1);
    if (!this.stuck) {
      if (bytes[1] === 0xff) this.relays |= bit;
      else if (bytes[1] === 0xfd) this.relays &= ~bit;
      else if (bytes[1] === 0xfe) this.relays = 0xff;
      else if (bytes[1] === 0xfc) this.relays = 0;
    }
    return bytes.length;
  }

  /** When set, reads fail as they do once the board is unplugged. */
  gone = false;

  getFeatureReport(reportId: number, length: number): number[] {
    expect([reportId, length]).toEqual([0x01, 9]);
    if (this.gone) throw new Error('could not get feature report from device');
    return [...SERIAL, 0x00, 0x00, this.relays, 0x00];
  }

  close(): void {
    this.closed = true;
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const boards: HidRelayBoard[] = [];
afterEach(async () => {
  for (const b of boards.splice(0)) await b.stop();
});

async function started(options: Partial<HidRelayBoardOptions> = {}, fake = new FakeBoard()) {
  const board = new HidRelayBoard({ serial: 'QWERT', channel: 1, open: () => fake, ...options });
  boards.push(board);
  const events: DoorIoEvent[] = [];
  board.onEvent((e) => events.push(e));
  await board.start();
  return { board, fake, events };
}

describe('HidRelayBoard', () => {
  it.each([
    { channel: 1, energizeToUnlock: true, unlock: CH1_ON, lock: CH1_OFF },
    { channel: 1, energizeToUnlock: false, unlock: CH1_OFF, lock: CH1_ON },
    { channel: 3, energizeToUnlock: true, unlock: CH3_ON, lock: CH3_OFF },
    { channel: 3, energizeToUnlock: false, unlock: CH3_OFF, lock: CH3_ON },
  ])('channel $channel, energizeToUnlock $energizeToUnlock: sends exactly the board reports', async ({ channel, energizeToUnlock, unlock, lock }) => {
    const { board, fake, events } = await started({ channel, energizeToUnlock });
    board.setRelay(false);
    board.setRelay(true);
    board.setRelay(false);
    expect(fake.sent).toEqual([lock, unlock, lock]);
    await tick();
    expect(events).toEqual([]);
  });

  it('defaults to energise-to-unlock (fail-secure strike)', async () => {
    const { board, fake } = await started({ channel: 3 });
    board.setRelay(true);
    expect(fake.sent).toEqual([CH3_ON]);
    expect(fake.relays).toBe(0b100);
  });

  it('a read-back mismatch is a fault', async () => {
    const { board, fake, events } = await started({ channel: 3 });
    fake.stuck = true;
    board.setRelay(true);
    await tick();
    expect(events).toEqual([{ type: 'fault', reason: expect.stringMatching(/channel 3 reads released after commanding energised/) }]);
  });

  it('a throwing write is a fault; the next good write is ok', async () => {
    const { board, fake, events } = await started();
    fake.failWrites = true;
    board.setRelay(true);
    board.setRelay(false); // same failure: reported once
    await tick();
    expect(events).toEqual([{ type: 'fault', reason: expect.stringMatching(/write to channel 1 failed: could not send feature report/) }]);
    fake.failWrites = false;
    board.setRelay(false);
    board.setRelay(true);
    await tick();
    expect(events.map((e) => e.type)).toEqual(['fault', 'ok']);
    expect(fake.sent).toEqual([CH1_OFF, CH1_ON]);
  });

  it('unplug is a fault; the board is closed, then reopened and the last command re-applied', async () => {
    const first = new FakeBoard();
    const second = new FakeBoard();
    const open = vi.fn<() => HidRelayDevice>().mockReturnValueOnce(first).mockImplementationOnce(() => {
      throw new Error('no board');
    }).mockReturnValue(second);
    const { board, events } = await started({ open, reconnectMs: 5 }, first);
    board.setRelay(true);
    first.emit('error', new Error('could not read from HID device'));
    expect(first.closed).toBe(true);
    await tick();
    expect(events).toEqual([{ type: 'fault', reason: expect.stringMatching(/board QWERT unplugged or failed: could not read from HID device/) }]);
    board.setRelay(false); // commanded while unplugged: remembered
    await vi.waitFor(() => expect(events.map((e) => e.type)).toEqual(['fault', 'fault', 'ok']));
    expect(events[1]).toEqual({ type: 'fault', reason: 'HID relay board QWERT is not connected' });
    expect(second.sent).toEqual([CH1_OFF]);
    expect(open).toHaveBeenCalledTimes(3);
  });

  it('notices an unplug between commands, and re-applies the last command to a board that came back released', async () => {
    const first = new FakeBoard();
    const second = new FakeBoard();
    const open = vi.fn<() => HidRelayDevice>().mockReturnValueOnce(first).mockReturnValue(second);
    const { board, events } = await started({ open, reconnectMs: 5, checkMs: 5 }, first);
    board.setRelay(true);
    // Nobody writes: the check's read finds the board gone.
    first.gone = true;
    await vi.waitFor(() => expect(events.map((e) => e.type)).toEqual(['fault', 'ok']));
    expect(events[0]).toEqual({ type: 'fault', reason: expect.stringMatching(/board QWERT unplugged or failed: could not get feature report/) });
    expect(first.closed).toBe(true);
    expect(second.sent).toEqual([CH1_ON]);
    // The board loses power and comes back with its relays released: the check puts the command back.
    second.relays = 0;
    await vi.waitFor(() => expect(second.sent).toEqual([CH1_ON, CH1_ON]));
    expect(second.relays).toBe(1);
  });

  it('stop() closes the device', async () => {
    const { board, fake } = await started();
    await board.stop();
    expect(fake.closed).toBe(true);
  });

  it('start() refuses a board whose serial differs', async () => {
    const fake = new FakeBoard();
    const board = new HidRelayBoard({ serial: 'ABCDE', channel: 1, open: () => fake });
    await expect(board.start()).rejects.toMatchObject({ code: 'POSTERN_ERR_DRIVER_FAILED' });
    expect(fake.closed).toBe(true);
  });

  it('does not import node-hid until start(): constructing with a factory and no device opens nothing', async () => {
    const open = vi.fn();
    const board = new HidRelayBoard({ path: '/dev/hidraw9', channel: 2, open });
    expect(open).not.toHaveBeenCalled();
    // The module itself has no static import of node-hid.
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(new URL('../../drivers/doorIo/hidRelayBoard.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^import[^;]*['"]node-hid['"]/m);
    expect(source).toMatch(/await import\('node-hid'\)/);
    await board.stop();
  });

  it('with the real node-hid: a missing board fails start() with DRIVER_FAILED', async () => {
    // node-hid loads here (or fails to load without libusb: DRIVER_FAILED too).
    await expect(new HidRelayBoard({ path: '/dev/postern-no-such-hidraw', channel: 1 }).start()).rejects.toMatchObject({ code: 'POSTERN_ERR_DRIVER_FAILED' });
    await expect(new HidRelayBoard({ serial: 'ZZZZZ', channel: 1 }).start()).rejects.toMatchObject({ code: 'POSTERN_ERR_DRIVER_FAILED' });
  });

  it('is configured from the site file, serial or path required', async () => {
    const site = (io: unknown) => ({ site: { id: 's', name: 'S' }, doors: [{ id: 'front', name: 'Front', io }] });
    const ok = configSchema.parse(site({ driver: 'hid-relay', serial: 'QWERT', channel: 3 }));
    expect(ok.doors[0]!.io).toEqual({ driver: 'hid-relay', serial: 'QWERT', channel: 3, energizeToUnlock: true });
    expect(configSchema.safeParse(site({ driver: 'hid-relay', channel: 3 })).success).toBe(false);
    expect(configSchema.safeParse(site({ driver: 'hid-relay', path: '/dev/hidraw0', channel: 9 })).success).toBe(false);
    const io = await createDoorIo(ok.doors[0]!);
    expect(io).toBeInstanceOf(HidRelayBoard);
  });
});
