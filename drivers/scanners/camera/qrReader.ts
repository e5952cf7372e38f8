/**
 * QR decoding with zxing-wasm, loaded from the package's own .wasm file: the controller never
 * fetches code from the network. Runs inside a decode worker (decodeWorker.ts); benchmarks and
 * tests call it directly.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { prepareZXingModule, readBarcodes, type ReaderOptions } from 'zxing-wasm/reader';

/** A camera frame of 8-bit luminance, one byte per pixel, rows top to bottom. */
export interface GrayFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * How the controller reads every camera and kiosk frame.
 *
 * - QR only: each extra format costs time on every frame, and a door only reads QR.
 * - tryInvert: a code shown light on dark (a watch face, a phone in dark mode) is read too. The
 *   inverted pass runs when the plain one finds nothing, so any cost falls on frames without a
 *   code; on real photos it was not measurable (the decode benchmark measures both ways).
 * - textMode 'Plain': the code's bytes as text, as a HID scanner types them. zxing's default
 *   ('HRI') rewrites control characters as "<GS>", "<HT>", "<EOT>" and GS1 data as "(01)...", so
 *   a partner's ticket with such bytes would reach its webhook as other text than it printed.
 * - characterSet left to zxing: an ECI in the code says its encoding; without one zxing takes
 *   valid UTF-8 as UTF-8 (what phones and most generators write) and guesses otherwise. ASCII,
 *   control characters included, is the same in every guess.
 */
export const QR_READER_OPTIONS: Readonly<ReaderOptions> = Object.freeze<ReaderOptions>({
  formats: ['QRCode'],
  tryHarder: true,
  tryRotate: true,
  tryInvert: true,
  textMode: 'Plain',
  maxNumberOfSymbols: 1,
});

let prepared: Promise<unknown> | undefined;

/** Compiles the .wasm once per thread. */
export function prepareQrReader(): Promise<unknown> {
  prepared ??= (async () => {
    const wasm = await readFile(createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm'));
    return prepareZXingModule({
      overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer },
      fireImmediately: true,
    });
  })();
  return prepared;
}

// Reused between frames of the same size: a camera sends the same size for hours.
let rgba: Uint32Array = new Uint32Array(0);

/**
 * zxing-wasm takes RGBA pixels and turns them back into luminance; grey R=G=B survives that
 * exactly. Filling 32-bit words writes each pixel once.
 */
function grayToRgba(frame: GrayFrame): Uint8ClampedArray {
  const pixels = frame.width * frame.height;
  if (rgba.length !== pixels) rgba = new Uint32Array(pixels);
  const { data } = frame;
  for (let i = 0; i < pixels; i++) rgba[i] = 0xff000000 | (data[i]! * 0x010101);
  return new Uint8ClampedArray(rgba.buffer, 0, pixels * 4);
}

/**
 * Texts of the QR codes in a grey frame (at most one: a door reads one code at a time).
 * `options` is for the decode benchmark, which measures the controller's reader with one setting
 * changed; the controller always reads with QR_READER_OPTIONS.
 */
export async function decodeGrayFrame(frame: GrayFrame, options: Readonly<ReaderOptions> = QR_READER_OPTIONS): Promise<string[]> {
  if (frame.data.length !== frame.width * frame.height) throw new RangeError(`frame holds ${frame.data.length} bytes, not ${frame.width}x${frame.height}`);
  await prepareQrReader();
  const results = await readBarcodes({ data: grayToRgba(frame), width: frame.width, height: frame.height, colorSpace: 'srgb' } as unknown as Parameters<typeof readBarcodes>[0], options);
  return results.filter((r) => r.isValid).map((r) => r.text);
}

/** Texts of the QR codes in an encoded image (JPEG, PNG, as a kiosk page sends them). */
export async function decodeImageFile(bytes: Uint8Array): Promise<string[]> {
  await prepareQrReader();
  const results = await readBarcodes(bytes, QR_READER_OPTIONS);
  return results.filter((r) => r.isValid).map((r) => r.text);
}
