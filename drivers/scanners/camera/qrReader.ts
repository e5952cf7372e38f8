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

// QR only: each extra format costs time on every frame, and a door only reads QR.
const QR_ONLY: ReaderOptions = { formats: ['QRCode'], tryHarder: true, tryRotate: true, tryInvert: false, maxNumberOfSymbols: 1 };

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

/** Texts of the QR codes in a grey frame (at most one: a door reads one code at a time). */
export async function decodeGrayFrame(frame: GrayFrame): Promise<string[]> {
  if (frame.data.length !== frame.width * frame.height) throw new RangeError(`frame holds ${frame.data.length} bytes, not ${frame.width}x${frame.height}`);
  await prepareQrReader();
  const results = await readBarcodes({ data: grayToRgba(frame), width: frame.width, height: frame.height, colorSpace: 'srgb' } as unknown as Parameters<typeof readBarcodes>[0], QR_ONLY);
  return results.filter((r) => r.isValid).map((r) => r.text);
}

/** Texts of the QR codes in an encoded image (JPEG, PNG, as a kiosk page sends them). */
export async function decodeImageFile(bytes: Uint8Array): Promise<string[]> {
  await prepareQrReader();
  const results = await readBarcodes(bytes, QR_ONLY);
  return results.filter((r) => r.isValid).map((r) => r.text);
}
