/**
 * QR codes as a camera or a kiosk page sees them, made in the test: a grey frame with a phone
 * showing a code, dark on light as printed or light on dark as a phone in dark mode or a watch face
 * shows it; the same as a PNG; and a GS1 QR code (FNC1 mode) made with zxing's own writer. (A
 * video of a dark-mode phone: makeQrVideo's darkMode in qrVideo.ts.)
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { prepareZXingModule, writeBarcode } from 'zxing-wasm/writer';
import type { GrayFrame } from '../../drivers/scanners/camera/qrReader.ts';

export interface QrFrameOptions {
  width?: number;
  height?: number;
  /** Side of one module in pixels. */
  modulePx?: number;
  /** Light modules on a dark screen, as a phone in dark mode shows a code. */
  inverted?: boolean;
}

/** Grey levels of a phone screen: ink and paper of a printed code; swapped when inverted. */
const INK = 30;
const PAPER = 225;
const BEZEL = 20;
const WALL = 0x70;

/**
 * A frame of a grey wall with a phone in the middle: a dark bezel, a screen with a quiet zone of
 * 3 modules, and the code. Light on dark, the screen is as dark as the bezel, so only the code's
 * light modules stand out: nothing around the code is lighter than the wall.
 */
export function qrGrayFrame(text: string, options: QrFrameOptions = {}): GrayFrame {
  const { width = 640, height = 480, modulePx = 6, inverted = false } = options;
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const size = qr.modules.size;
  const dark = inverted ? PAPER : INK;
  const light = inverted ? INK : PAPER;
  const data = new Uint8Array(width * height).fill(WALL);
  const codePx = size * modulePx;
  const x0 = Math.round((width - codePx) / 2);
  const y0 = Math.round((height - codePx) / 2);
  const fill = (x: number, y: number, w: number, h: number, grey: number) => {
    for (let yy = Math.max(0, y); yy < Math.min(height, y + h); yy++) data.fill(grey, yy * width + Math.max(0, x), yy * width + Math.min(width, x + w));
  };
  const quiet = 3 * modulePx;
  fill(x0 - quiet - 12, y0 - quiet - 40, codePx + 2 * quiet + 24, codePx + 2 * quiet + 100, BEZEL);
  fill(x0 - quiet, y0 - quiet - 28, codePx + 2 * quiet, codePx + 2 * quiet + 76, light);
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      if (qr.modules.data[v * size + u]) fill(x0 + u * modulePx, y0 + v * modulePx, modulePx, modulePx, dark);
    }
  }
  return { width, height, data };
}

/** A grey frame as a PNG file (as a kiosk page may send it). */
export function grayFramePng(frame: GrayFrame): Buffer {
  const png = new PNG({ width: frame.width, height: frame.height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  png.data = Buffer.from(frame.data);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

let writerReady: Promise<unknown> | undefined;

/**
 * A GS1 QR code (FNC1 in first position) holding `elementString`, written in GS1's bracketed form,
 * e.g. "(01)09501234567890(10)ABC(21)XYZ"; a PNG. Scanners deliver it as the raw element string,
 * a GS between a variable-length field and the next.
 */
export async function gs1QrPng(elementString: string, inverted = false): Promise<Buffer> {
  writerReady ??= (async () => {
    const wasm = await readFile(createRequire(import.meta.url).resolve('zxing-wasm/writer/zxing_writer.wasm'));
    return prepareZXingModule({
      overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer },
      fireImmediately: true,
    });
  })();
  await writerReady;
  const written = await writeBarcode(elementString, { format: 'QRCode', options: 'gs1', scale: 6, invert: inverted });
  if (written.error || written.image === null) throw new Error(`no GS1 QR code for ${elementString}: ${written.error}`);
  return Buffer.from(await written.image.arrayBuffer());
}
