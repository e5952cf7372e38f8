/**
 * QR codes as a camera or a kiosk page sees them, made in the test: a grey frame with a phone
 * showing a code, dark on light as printed or light on dark as a phone in dark mode or a watch face
 * shows it; the same as a PNG; a GS1 QR code (FNC1 mode) made with zxing's own writer; and a video
 * of a dark-mode phone for the camera scanner over ffmpeg.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { prepareZXingModule, writeBarcode } from 'zxing-wasm/writer';
import type { GrayFrame } from '../../drivers/scanners/camera/qrReader.ts';
import { FFMPEG, type QrVideoOptions } from './qrVideo.ts';

const run = promisify(execFile);

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

/**
 * Like makeQrVideo (test/support/qrVideo.ts), with the phone in dark mode: the code's light
 * modules on a near-black screen in a dark bezel, slightly turned, after an empty lead-in.
 */
export async function makeDarkModeQrVideo(dir: string, name: string, text: string, options: QrVideoOptions = {}): Promise<string> {
  const { width = 640, height = 480, fps = 15, leadIn = 0.5, shown = 3, codeSize = 200, format = 'mp4' } = options;
  const png = join(dir, `${name}.png`);
  await writeFile(png, await QRCode.toBuffer(text, { errorCorrectionLevel: 'M', margin: 2, width: codeSize, color: { dark: '#e6e6e6ff', light: '#161616ff' } }));
  const file = join(dir, `${name}.${format}`);
  const total = leadIn + shown;
  const x = Math.round((width - codeSize) / 2);
  const y = Math.round((height - codeSize) / 2);
  const filter = [
    `[1]pad=w=iw+24:h=ih+60:x=12:y=30:color=0x161616,pad=w=iw+6:h=ih+6:x=3:y=3:color=0x0c0c0c,rotate=0.08:c=0x707070:ow=rotw(0.08):oh=roth(0.08)[phone]`,
    `[0][phone]overlay=x=${x - 15}:y=${y - 33}:enable='gte(t,${leadIn})',noise=alls=6:allf=t,format=yuv420p[v]`,
  ].join(';');
  const codec = format === 'mp4' ? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18'] : format === 'mjpeg' ? ['-c:v', 'mjpeg', '-q:v', '3', '-f', 'mjpeg'] : ['-f', 'yuv4mpegpipe'];
  await run(FFMPEG, [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `color=c=0x707070:s=${width}x${height}:r=${fps}:d=${total}`,
    '-loop', '1', '-framerate', String(fps), '-t', String(total), '-i', png,
    '-filter_complex', filter, '-map', '[v]', '-r', String(fps), ...codec, file,
  ]);
  return file;
}
