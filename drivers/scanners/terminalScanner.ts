/**
 * The terminal as a keyboard-wedge scanner: each line typed or pasted on standard input is one
 * read, exactly as a USB scanner in keyboard mode types a code followed by Enter.
 *
 * Lines are split here rather than with readline so that a line of any length is cut at
 * MAX_READ_CHARS while it arrives, instead of being buffered whole.
 *
 * Bytes are read as UTF-8, as a terminal (and a scanner's USB keyboard through it) sends them: a
 * code with "é" or "🎫" arrives as the camera would read it. A StringDecoder keeps a character
 * whose bytes are split between two chunks whole; bytes that are no UTF-8 become U+FFFD, which
 * no Postern code holds, so such a read is never taken for a valid code.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { MAX_READ_CHARS, ScannerDriverBase } from './scannerDriver.ts';

export class TerminalScanner extends ScannerDriverBase {
  private pending = '';
  private overflowed = false;
  private attached = false;
  private decoder = new StringDecoder('utf8');
  // A stream with an encoding set already gives strings; anything else gives bytes.
  private readonly onData = (chunk: Buffer | string): void => this.take(typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
  private readonly onEnd = (): void => {
    this.detach();
    this.emit({ type: 'disconnected', reason: 'standard input closed' });
  };

  constructor(private readonly input: Readable = process.stdin) {
    super();
  }

  connect(): void {
    if (this.attached) return;
    if (this.input.readableEnded || this.input.destroyed) {
      queueMicrotask(() => this.emit({ type: 'disconnected', reason: 'standard input closed' }));
      return;
    }
    this.attached = true;
    // Connected is reported before the first read can arrive, as a USB device enumerates first.
    queueMicrotask(() => {
      if (!this.attached) return;
      this.emit({ type: 'connected' });
      this.input.on('data', this.onData);
      this.input.once('end', this.onEnd);
      this.input.resume();
    });
  }

  disconnect(): void {
    this.detach();
    // Standard input held open would keep the process alive after stop().
    this.input.pause();
  }

  private detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.pending = '';
    this.overflowed = false;
    this.decoder = new StringDecoder('utf8');
  }

  private take(text: string): void {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x0a && c !== 0x0d) continue;
      this.append(text.slice(start, i));
      this.flushLine();
      start = i + 1;
    }
    this.append(text.slice(start));
  }

  private append(part: string): void {
    if (this.overflowed) return;
    this.pending += part;
    if (this.pending.length > MAX_READ_CHARS) {
      this.pending = this.pending.slice(0, MAX_READ_CHARS + 1);
      this.overflowed = true;
    }
  }

  private flushLine(): void {
    const line = this.pending;
    this.pending = '';
    this.overflowed = false;
    // An empty line (the LF of a CRLF, or Enter alone) is no read.
    if (line.length > 0) this.emitRead(line);
  }
}
