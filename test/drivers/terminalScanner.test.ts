import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_READ_CHARS, type ScannerDriverEvent } from '../../drivers/scanners/scannerDriver.ts';
import { TerminalScanner } from '../../drivers/scanners/terminalScanner.ts';

async function feed(chunks: Array<string | Buffer>, end = false): Promise<ScannerDriverEvent[]> {
  const input = new PassThrough();
  const scanner = new TerminalScanner(input);
  const events: ScannerDriverEvent[] = [];
  scanner.onEvent((e) => events.push(e));
  scanner.connect();
  for (const chunk of chunks) input.write(chunk);
  if (end) input.end();
  await new Promise((resolve) => setImmediate(resolve));
  scanner.disconnect();
  return events;
}

describe('terminal scanner (a keyboard-wedge scanner on standard input)', () => {
  it('turns each line into one read, whatever the line ending and however the bytes are split', async () => {
    const events = await feed(['P1.AB', 'CD\r\n', '\n', 'SECOND\rTHIRD\n']);
    expect(events).toEqual([
      { type: 'connected' },
      { type: 'read', text: 'P1.ABCD' },
      { type: 'read', text: 'SECOND' },
      { type: 'read', text: 'THIRD' },
    ]);
  });

  it('cuts a 100 KiB line while it arrives and keeps reading the next one', async () => {
    const huge = 'X'.repeat(100 * 1024);
    const events = await feed([huge.slice(0, 50_000), huge.slice(50_000) + '\n', 'NEXT\n']);
    const reads = events.filter((e) => e.type === 'read');
    expect(reads).toHaveLength(2);
    expect((reads[0] as { text: string }).text.length).toBe(MAX_READ_CHARS);
    expect(reads[1]).toEqual({ type: 'read', text: 'NEXT' });
  });

  it('reads UTF-8, as a terminal sends it: "é" and "🎫" are one character each', async () => {
    const events = await feed([Buffer.from('Zoë 🎫 café\n', 'utf8')]);
    expect(events[1]).toEqual({ type: 'read', text: 'Zoë 🎫 café' });
  });

  it('keeps a character whole when its bytes are split between two chunks', async () => {
    const bytes = Buffer.from('é🎫\n', 'utf8'); // c3 a9 | f0 9f 8e ab | 0a
    const events = await feed([bytes.subarray(0, 1), bytes.subarray(1, 3), bytes.subarray(3, 5), bytes.subarray(5)]);
    expect(events[1]).toEqual({ type: 'read', text: 'é🎫' });
    // Every split of a 4-byte character, with the line end in the second chunk.
    const ticket = Buffer.from('T🎫\n', 'utf8');
    for (let cut = 1; cut < ticket.length; cut++) {
      expect((await feed([ticket.subarray(0, cut), ticket.subarray(cut)]))[1]).toEqual({ type: 'read', text: 'T🎫' });
    }
  });

  it('passes control characters and GS1 separators on unchanged', async () => {
    const events = await feed(['\x1d01095012345678903\x1d10ABC\n', Buffer.from('A\tB\x04C\n')]);
    expect(events.slice(1)).toEqual([
      { type: 'read', text: '\x1d01095012345678903\x1d10ABC' },
      { type: 'read', text: 'A\tB\x04C' },
    ]);
  });

  it('turns bytes that are no UTF-8 into U+FFFD, never throwing', async () => {
    // 0xc3 0x28: a lead byte without its continuation; 0xff: never in UTF-8.
    const events = await feed([Buffer.from([0x00, 0xc3, 0x28, 0xff, 0x0a])]);
    expect(events[1]).toEqual({ type: 'read', text: '\u0000\ufffd(\ufffd' });
    // A lead byte left waiting when a line ends is no character either, and no part of the next line.
    const cut = await feed([Buffer.from([0x41, 0xf0, 0x9f]), Buffer.from([0x0a, 0x42, 0x0a])]);
    expect(cut.slice(1)).toEqual([
      { type: 'read', text: 'A\ufffd' },
      { type: 'read', text: 'B' },
    ]);
  });

  it('starts a fresh line and a fresh character after a reconnect', async () => {
    const input = new PassThrough();
    const scanner = new TerminalScanner(input);
    const events: ScannerDriverEvent[] = [];
    scanner.onEvent((e) => events.push(e));
    scanner.connect();
    await new Promise((resolve) => setImmediate(resolve));
    input.write(Buffer.from([0x58, 0xf0, 0x9f]));
    await new Promise((resolve) => setImmediate(resolve));
    scanner.disconnect();
    scanner.connect();
    await new Promise((resolve) => setImmediate(resolve));
    input.write(Buffer.from('OK\n'));
    await new Promise((resolve) => setImmediate(resolve));
    scanner.disconnect();
    expect(events.filter((e) => e.type === 'read')).toEqual([{ type: 'read', text: 'OK' }]);
  });

  it('reports the end of standard input as a disconnect', async () => {
    const events = await feed(['LAST\n'], true);
    expect(events.at(-1)).toEqual({ type: 'disconnected', reason: 'standard input closed' });
  });
});
