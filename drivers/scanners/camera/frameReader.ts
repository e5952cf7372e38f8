/**
 * Turns a camera's frames into reads: frames go to the decoder pool (newest first, stale ones
 * dropped), a decoded text is passed on once per debounce window however many frames show it, and
 * the frame rate, decode time and drops are measured for the scanner's health report.
 */
import type { DriverHealth } from '../../../machines/shared/driverHealth.ts';
import type { DecodeChannel, DecodeResult, DecoderPool, Frame } from './decoderPool.ts';

export interface FrameReaderOptions {
  /** A code in front of the camera is passed on again after this long. */
  debounceMs: number;
  /** A new text to pass on (not a repeat within the debounce window). */
  onText(text: string): void;
  clock?: () => number;
}

export class FrameReader {
  private readonly channel: DecodeChannel;
  private readonly clock: () => number;
  private frames = 0;
  private badFrames = 0;
  private warning: string | null = null;
  private lastText: string | null = null;
  private lastTextAt = 0;
  /** The result whose text was passed on last: lets a frame's submitter know it caused a read. */
  private passedOn: DecodeResult | null = null;
  /** Frames submitted and not yet settled (in a worker, or waiting for one). */
  private pending = 0;
  private readonly drained: Array<() => void> = [];
  // Since the last health report:
  private periodStart: number;
  private periodFrames = 0;
  private periodDecodes = 0;
  private periodDecodeMs = 0;

  constructor(
    pool: DecoderPool,
    private readonly options: FrameReaderOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.periodStart = this.clock();
    this.channel = pool.channel((result) => this.decoded(result));
  }

  /** Hands a frame to the decoders; `settled` hears the text this frame passed on, if any. */
  submit(frame: Frame, settled?: (outcome: { text: string | null; passedOn: boolean; result: DecodeResult | null }) => void): void {
    this.frames++;
    this.periodFrames++;
    this.pending++;
    this.channel.submit(frame, (result) => {
      const text = result?.texts[0] ?? null;
      settled?.({ text, passedOn: text !== null && this.passedOn === result, result });
      if (--this.pending === 0) for (const resolve of this.drained.splice(0)) resolve();
    });
  }

  /**
   * Resolves once the frames already handed over are decoded (or dropped for a newer one), or after
   * `timeoutMs` at most: a source that ended need not lose the frames it sent last.
   */
  drain(timeoutMs: number): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.drained.push(done);
    });
  }

  /** A frame that never reached a decoder: wrong size, not an image. */
  rejectFrame(reason: string): void {
    this.frames++;
    this.periodFrames++;
    this.badFrames++;
    this.warning = reason;
  }

  /** The health of the period since the last call, which starts a new period. */
  health(): DriverHealth {
    const now = this.clock();
    const seconds = Math.max(0.001, (now - this.periodStart) / 1000);
    const health: DriverHealth = {
      framesPerSecond: round(this.periodFrames / seconds),
      decodeMs: this.periodDecodes === 0 ? 0 : round(this.periodDecodeMs / this.periodDecodes),
      frames: this.frames,
      droppedFrames: this.channel.dropped,
      badFrames: this.badFrames,
      warning: this.warning,
    };
    this.periodStart = now;
    this.periodFrames = 0;
    this.periodDecodes = 0;
    this.periodDecodeMs = 0;
    return health;
  }

  close(): void {
    this.channel.close();
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private decoded(result: DecodeResult): void {
    this.periodDecodes++;
    this.periodDecodeMs += result.decodeMs;
    if (result.error !== undefined) {
      this.badFrames++;
      this.warning = result.error;
      return;
    }
    const text = result.texts[0];
    if (text === undefined) return;
    const now = this.clock();
    if (text === this.lastText && now - this.lastTextAt < this.options.debounceMs) return;
    this.lastText = text;
    this.lastTextAt = now;
    this.passedOn = result;
    this.options.onText(text);
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
