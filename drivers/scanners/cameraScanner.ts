/**
 * A webcam or video stream as a scanner: ffmpeg delivers grey frames, the shared decoder pool
 * reads QR codes in worker threads, and each code is reported once per debounce window. The
 * scanner is connected from the first frame on, so a camera that is missing, busy or silent shows
 * as disconnected with ffmpeg's own reason, and the scanner actor retries it. A file played once
 * (`loop: false`) stays ended: the actor's retries find it ended and open nothing.
 */
import { ScannerDriverBase } from './scannerDriver.ts';
import type { DecoderPool } from './camera/decoderPool.ts';
import { END_OF_INPUT, FfmpegFrameSource, type FfmpegFrameSourceOptions, type FrameInput } from './camera/ffmpegFrameSource.ts';
import { FrameReader } from './camera/frameReader.ts';

export const HEALTH_PERIOD_MS = 1000;

/**
 * When ffmpeg stops, the frames it sent last are still decoded for this long at most before the
 * scanner reports the disconnection: a code shown at the very end of a clip is read, and a camera
 * that died is reported within a frame's decode or two.
 */
export const DRAIN_TIMEOUT_MS = 3000;

export const FILE_ENDED_REASON = 'the file was played to its end and is not replayed (loop: false)';

export interface CameraScannerOptions extends FfmpegFrameSourceOptions {
  debounceMs: number;
}

/**
 * A local file (a path or file: URL) that is not looped. A network stream (rtsp://, http://…) that
 * ends is a camera that hung up, and is reopened like any other.
 */
export function playsOnce(input: FrameInput): boolean {
  if ('device' in input || input.loop) return false;
  return !/^[a-z][a-z0-9+.-]*:/i.test(input.url) || /^file:/i.test(input.url);
}

export class CameraScanner extends ScannerDriverBase {
  private source: FfmpegFrameSource | null = null;
  private reader: FrameReader | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  /** Why a file played once is over, once it is: connect() then only says so. */
  private ended: string | null = null;

  constructor(
    private readonly options: CameraScannerOptions,
    private readonly pool: DecoderPool,
  ) {
    super();
  }

  connect(): void {
    this.release();
    if (this.ended !== null) {
      // Not from inside the caller's connect: the actor hears the answer as a separate event.
      queueMicrotask(() => this.ended !== null && this.emit({ type: 'disconnected', reason: this.ended }));
      return;
    }
    const reader = new FrameReader(this.pool, { debounceMs: this.options.debounceMs, onText: (text) => this.emitRead(text) });
    let connected = false;
    const source = new FfmpegFrameSource(this.options, {
      frame: (data) => {
        if (!connected) {
          connected = true;
          this.emit({ type: 'connected' });
          this.healthTimer = setInterval(() => this.emit({ type: 'health', health: reader.health() }), HEALTH_PERIOD_MS);
        }
        reader.submit({ kind: 'gray', width: source.width, height: source.height, data });
      },
      stopped: (reason, ended) => {
        if (source.truncatedBytes > 0) reader.rejectFrame(`truncated frame: ${source.truncatedBytes} of ${source.width * source.height} bytes`);
        this.source = null;
        // Still connected while the last frames are decoded, so their reads count.
        void reader.drain(DRAIN_TIMEOUT_MS).then(() => {
          if (this.reader !== reader) return; // released meanwhile: nothing more to say
          this.release();
          this.emit({ type: 'health', health: reader.health() });
          // ffmpeg's words on a clean end (a file cut short) are kept with it.
          if (ended && playsOnce(this.options.input)) this.ended = reason === END_OF_INPUT ? FILE_ENDED_REASON : `${FILE_ENDED_REASON} (${reason})`;
          this.emit({ type: 'disconnected', reason: this.ended ?? reason });
        });
      },
    });
    this.reader = reader;
    this.source = source;
    source.start();
  }

  /** Also forgets that a file has ended: the next connect() plays it again. */
  disconnect(): void {
    this.ended = null;
    this.release();
  }

  private release(): void {
    if (this.healthTimer !== null) clearInterval(this.healthTimer);
    this.healthTimer = null;
    this.source?.stop();
    this.source = null;
    this.reader?.close();
    this.reader = null;
  }
}
