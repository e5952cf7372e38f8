/**
 * The QR decoders the decode benchmark compares, each behind the same call: the controller's own
 * (zxing-wasm, in this thread and through the worker pool, and in this thread without tryInvert),
 * jsQR and @zxing/library. Every call is timed around the decoder's own work only; what a decoder
 * needs made beforehand (jsQR's RGBA copy) is made outside the timing and said so.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { BarcodeFormat, BinaryBitmap, DecodeHintType, HybridBinarizer, QRCodeReader, RGBLuminanceSource } from '@zxing/library';
import jsQRModule from 'jsqr';

import { DecoderPool, type DecodeChannel, type DecodeResult } from '../../drivers/scanners/camera/decoderPool.ts';
import { decodeGrayFrame, prepareQrReader, QR_READER_OPTIONS, type GrayFrame } from '../../drivers/scanners/camera/qrReader.ts';

// jsqr is a CommonJS bundle typed as an ES module: its function is module.exports and also .default.
const jsQR = jsQRModule.default;

export interface Timed {
  text: string | null;
  ms: number;
  /** For the pool: time inside the worker (ms is submit → result). */
  insideMs?: number;
}

export interface BenchDecoder {
  name: string;
  decode(frame: GrayFrame): Promise<Timed>;
  close?(): Promise<void>;
}

/**
 * decodeGrayFrame called in this thread: the decoder alone, as a worker runs it (its grey → RGBA
 * fill included). With `tryInvert: false`, the same call without the inverted pass the controller
 * makes when the plain one finds nothing: what reading light-on-dark codes costs.
 */
export async function wasmInThread(settings: { tryInvert?: boolean } = {}): Promise<BenchDecoder> {
  await prepareQrReader();
  const options = settings.tryInvert === false ? { ...QR_READER_OPTIONS, tryInvert: false } : QR_READER_OPTIONS;
  return {
    name: settings.tryInvert === false ? 'zxing-wasm, in thread, tryInvert off' : 'zxing-wasm, in thread',
    async decode(frame) {
      const t0 = performance.now();
      const texts = await decodeGrayFrame(frame, options);
      return { text: texts[0] ?? null, ms: performance.now() - t0 };
    },
  };
}

/** The controller's pipeline: a DecoderPool with one worker; submit → result, the frame moved to the worker. */
export async function wasmPool(): Promise<BenchDecoder> {
  const pool = new DecoderPool({ workers: 1 });
  await pool.start();
  const channel: DecodeChannel = pool.channel(() => undefined);
  return {
    name: 'zxing-wasm, worker pool',
    decode(frame) {
      // The pool moves the bytes to the worker: give it a copy, made before the clock starts in submit().
      const data = frame.data.slice();
      return new Promise<Timed>((resolve, reject) => {
        channel.submit({ kind: 'gray', width: frame.width, height: frame.height, data }, (result: DecodeResult | null) => {
          if (result === null) return reject(new Error('frame dropped: one frame at a time should never be'));
          if (result.error !== undefined) return reject(new Error(result.error));
          resolve({ text: result.texts[0] ?? null, ms: result.latencyMs, insideMs: result.decodeMs });
        });
      });
    },
    async close() {
      channel.close();
      await pool.stop();
    },
  };
}

/** jsQR wants RGBA: the copy is made once per frame, outside the timing (about 0.4 ms at 640x480, 1 ms at 1280x720). */
const rgbaCache = new WeakMap<GrayFrame, Uint8ClampedArray>();

export function toRgba(frame: GrayFrame): Uint8ClampedArray {
  let rgba = rgbaCache.get(frame);
  if (rgba === undefined) {
    const pixels = frame.width * frame.height;
    const words = new Uint32Array(pixels);
    for (let i = 0; i < pixels; i++) words[i] = 0xff000000 | (frame.data[i]! * 0x010101);
    rgba = new Uint8ClampedArray(words.buffer);
    rgbaCache.set(frame, rgba);
  }
  return rgba;
}

export type JsQrInversion = 'dontInvert' | 'attemptBoth';

export function jsQrDecoder(inversionAttempts: JsQrInversion): BenchDecoder {
  return {
    name: `jsQR, ${inversionAttempts}${inversionAttempts === 'attemptBoth' ? ' (default)' : ''}`,
    async decode(frame) {
      const rgba = toRgba(frame);
      const t0 = performance.now();
      const code = jsQR(rgba, frame.width, frame.height, { inversionAttempts });
      return { text: code?.data ?? null, ms: performance.now() - t0 };
    },
  };
}

/** @zxing/library: QRCodeReader with TRY_HARDER on the grey bytes (RGBLuminanceSource takes luminance as is), HybridBinarizer. */
export function zxingLibraryDecoder(): BenchDecoder {
  const reader = new QRCodeReader();
  const hints = new Map<DecodeHintType, unknown>([
    [DecodeHintType.TRY_HARDER, true],
    [DecodeHintType.POSSIBLE_FORMATS, [BarcodeFormat.QR_CODE]],
  ]);
  return {
    name: '@zxing/library',
    async decode(frame) {
      const t0 = performance.now();
      let text: string | null = null;
      try {
        const luminance = new Uint8ClampedArray(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
        const bitmap = new BinaryBitmap(new HybridBinarizer(new RGBLuminanceSource(luminance, frame.width, frame.height)));
        text = reader.decode(bitmap, hints).getText();
      } catch {
        // NotFoundException, ChecksumException, FormatException: no code read in this frame
      } finally {
        reader.reset();
      }
      return { text, ms: performance.now() - t0 };
    },
  };
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The installed version of a package of this project (read from node_modules, whatever its exports allow). */
export function installedVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The first line of `ffmpeg -version`, or why there is none. */
export function ffmpegVersion(ffmpeg = 'ffmpeg'): string {
  try {
    return execFileSync(ffmpeg, ['-version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    return 'not installed';
  }
}

export function decoderVersions(): Record<string, string> {
  return {
    'zxing-wasm': installedVersion('zxing-wasm'),
    jsqr: installedVersion('jsqr'),
    '@zxing/library': installedVersion('@zxing/library'),
    qrcode: installedVersion('qrcode'),
    ffmpeg: ffmpegVersion(),
  };
}
