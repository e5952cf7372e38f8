/**
 * A webcam or video stream as a scanner: ffmpeg delivers grey frames, the shared decoder pool
 * reads QR codes in worker threads, and each code is reported once per debounce window. The
 * scanner is connected from the first frame on, so a camera that is missing, busy or silent shows
 * as disconnected with ffmpeg's own reason, and the scanner actor retries it.
 */
import { ScannerDriverBase } from './scannerDriver.ts';
import type { DecoderPool } from './camera/decoderPool.ts';
import { FfmpegFrameSource, type FfmpegFrameSourceOptions } from './camera/ffmpegFrameSource.ts';
import { FrameReader } from './camera/frameReader.ts';

export const HEALTH_PERIOD_MS = 1000;

export interface CameraScannerOptions extends FfmpegFrameSourceOptions {
  debounceMs: number;
}

export class CameraScanner extends ScannerDriverBase {
  private source: FfmpegFrameSource | null = null;
  private reader: FrameReader | null = null;
  private healthTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: CameraScannerOptions,
    private readonly pool: DecoderPool,
  ) {
    super();
  }

  connect(): void {
    this.disconnect();
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
      stopped: (reason) => {
        if (source.truncatedBytes > 0) reader.rejectFrame(`truncated frame: ${source.truncatedBytes} of ${source.width * source.height} bytes`);
        this.emit({ type: 'health', health: reader.health() });
        this.release();
        this.emit({ type: 'disconnected', reason });
      },
    });
    this.reader = reader;
    this.source = source;
    source.start();
  }

  disconnect(): void {
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
