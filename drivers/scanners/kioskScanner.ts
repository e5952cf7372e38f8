/**
 * A tablet at the door as a scanner: the kiosk page (webui/kiosk.html) takes frames from the
 * browser's camera and sends each as a JPEG or PNG over the API with `scanner.frame`; they are
 * decoded in the shared decoder pool like a webcam's. The page waits for each answer before it
 * sends the next frame, so it always sends the camera's newest picture. A kiosk is a network
 * scanner too: its connection state follows its sockets. Text reads are refused (scanner.read): what
 * a kiosk reads is what its tablet's camera saw.
 */
import type { DecoderPool } from './camera/decoderPool.ts';
import { FrameReader } from './camera/frameReader.ts';
import { HEALTH_PERIOD_MS } from './cameraScanner.ts';
import { NetworkScanner } from './networkScanner.ts';
import type { ReadOutcome } from './scannerDriver.ts';

/** What became of one frame. No decoded text is ever sent back: the door's verdict is enough. */
export type FrameAnswer =
  | { code: false; bad?: string }
  /** A code was read but is a repeat within the debounce window, or a newer frame took its turn. */
  | { code: true; read: false }
  | { code: true; read: true; outcome: ReadOutcome };

const IMAGE_SIGNATURES = [Buffer.from([0xff, 0xd8, 0xff]), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])];

export class KioskScanner extends NetworkScanner {
  private reader: FrameReader | null = null;
  private healthTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pool: DecoderPool,
    private readonly debounceMs: number,
  ) {
    super();
    this.onEvent((event) => {
      if (event.type === 'connected') this.startReading();
      if (event.type === 'disconnected') this.stopReading();
    });
  }

  override disconnect(): void {
    this.stopReading();
    super.disconnect();
  }

  async frame(image: Uint8Array): Promise<FrameAnswer> {
    const reader = this.reader;
    if (reader === null) return { code: false, bad: 'the scanner is not connected' };
    if (!IMAGE_SIGNATURES.some((signature) => Buffer.from(image.buffer, image.byteOffset, signature.length).equals(signature))) {
      const reason = 'frame is not a JPEG or PNG image';
      reader.rejectFrame(reason);
      return { code: false, bad: reason };
    }
    const decoded = await new Promise<{ text: string | null; passedOn: boolean; bad?: string }>((resolve) =>
      reader.submit({ kind: 'image', data: image }, ({ text, passedOn, result }) => resolve({ text, passedOn, ...(result?.error ? { bad: result.error } : {}) })),
    );
    if (decoded.text === null) return decoded.bad !== undefined ? { code: false, bad: decoded.bad } : { code: false };
    if (!decoded.passedOn) return { code: true, read: false };
    return { code: true, read: true, outcome: await this.read(decoded.text) };
  }

  private startReading(): void {
    if (this.reader !== null) return;
    const reader = new FrameReader(this.pool, { debounceMs: this.debounceMs, onText: () => {} });
    this.reader = reader;
    this.healthTimer = setInterval(() => this.emit({ type: 'health', health: reader.health() }), HEALTH_PERIOD_MS);
  }

  private stopReading(): void {
    if (this.healthTimer !== null) clearInterval(this.healthTimer);
    this.healthTimer = null;
    this.reader?.close();
    this.reader = null;
  }
}
