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

  it('passes binary and invalid UTF-8 on as characters, never throwing', async () => {
    const events = await feed([Buffer.from([0x00, 0xc3, 0x28, 0xff, 0x0a])]);
    expect(events[1]).toEqual({ type: 'read', text: '\u0000\u00c3(\u00ff' });
  });

  it('reports the end of standard input as a disconnect', async () => {
    const events = await feed(['LAST\n'], true);
    expect(events.at(-1)).toEqual({ type: 'disconnected', reason: 'standard input closed' });
  });
});
