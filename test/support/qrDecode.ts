/**
 * Real QR decoding for tests: zxing-wasm with its local .wasm (no network), on PNG files.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { PNG } from 'pngjs';
import { prepareZXingModule, readBarcodes } from 'zxing-wasm/reader';

let prepared: Promise<unknown> | undefined;

function prepare(): Promise<unknown> {
  prepared ??= (async () => {
    const wasmPath = createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm');
    const wasm = await readFile(wasmPath);
    return prepareZXingModule({
      overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer },
      fireImmediately: true,
    });
  })();
  return prepared;
}

/** Texts of every QR code in a PNG image. */
export async function decodeQrPng(png: Buffer): Promise<string[]> {
  await prepare();
  const image = PNG.sync.read(png);
  const results = await readBarcodes(
    { data: new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.byteLength), width: image.width, height: image.height, colorSpace: 'srgb' },
    { formats: ['QRCode'], tryHarder: true },
  );
  return results.filter((r) => r.isValid).map((r) => r.text);
}
