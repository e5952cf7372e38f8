/**
 * The decoder pool on real zxing-wasm workers: the newest frame of a camera is decoded and the
 * ones it replaced are dropped, not queued; a frame of the wrong size is a clear error; and
 * cameras take turns. (The event-loop lag while decoding is measured in bench/cameras.ts.)
 */
import QRCode from 'qrcode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecoderPool, type DecodeResult, type Frame } from '../../drivers/scanners/camera/decoderPool.ts';
import { vectors } from '../support/vectors.ts';

const WIDTH = 640;
const HEIGHT = 480;

/** A grey 640x480 frame with `text` as a QR code of 5-pixel modules on a textured background. */
function frameWith(text: string | null): Frame & { kind: 'gray' } {
  const data = new Uint8Array(WIDTH * HEIGHT);
  for (let i = 0; i < data.length; i++) data[i] = 110 + ((i * 7919) % 23);
  if (text !== null) {
    const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
    const scale = 5;
    const side = (modules.size + 8) * scale;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const my = Math.floor(y / scale) - 4;
        const mx = Math.floor(x / scale) - 4;
        const dark = my >= 0 && mx >= 0 && my < modules.size && mx < modules.size && modules.get(my, mx);
        data[(y + 120) * WIDTH + x + 200] = dark ? 25 : 235;
      }
    }
  }
  return { kind: 'gray', width: WIDTH, height: HEIGHT, data };
}

describe('the QR decoder pool', () => {
  let pool: DecoderPool;

  beforeAll(async () => {
    pool = new DecoderPool({ workers: 1 });
    await pool.start();
  }, 60_000);

  afterAll(() => pool?.stop());

  it('decodes a code in a worker thread', async () => {
    const code = vectors.vectors[0]!.code;
    const result = await new Promise<DecodeResult | null>((resolve) => pool.channel(() => {}).submit(frameWith(code), resolve));
    expect(result!.texts).toEqual([code]);
    expect(result!.decodeMs).toBeGreaterThan(0);
    expect(result!.latencyMs).toBeGreaterThanOrEqual(result!.decodeMs);
  });

  it('decodes a small PNG from a view into Node\'s shared Buffer pool, and leaves the pool alone', async () => {
    const code = vectors.vectors[1]!.code;
    // Small Buffers share one pooled ArrayBuffer: the frame must be copied out, never moved.
    const png = Buffer.from((await QRCode.toBuffer(code, { width: 150, margin: 4 })).toString('base64'), 'base64');
    const neighbour = Buffer.from('a neighbour in the same pool');
    expect(png.byteOffset > 0 || png.buffer.byteLength > png.byteLength).toBe(true);
    const result = await new Promise<DecodeResult | null>((resolve) => pool.channel(() => {}).submit({ kind: 'image', data: png }, resolve));
    expect(result!.texts).toEqual([code]);
    expect(png.buffer.byteLength).toBeGreaterThan(0);
    expect(neighbour.toString()).toBe('a neighbour in the same pool');
  });

  it('decodes the newest frame and drops the ones it replaced', async () => {
    const codes = vectors.vectors.slice(0, 6).map((v) => v.code);
    const frames = codes.map(frameWith);
    const decoded: string[] = [];
    const settled: Array<DecodeResult | null> = [];
    const channel = pool.channel((r) => decoded.push(...r.texts));
    const all = frames.map((frame) => new Promise<void>((resolve) => channel.submit(frame, (r) => (settled.push(r), resolve()))));
    await Promise.all(all);
    // The first went to the worker at once; each later one replaced the one waiting; the last won.
    expect(decoded).toEqual([codes[0], codes.at(-1)]);
    expect(channel.dropped).toBe(codes.length - 2);
    expect(settled.filter((r) => r === null)).toHaveLength(codes.length - 2);
  });

  it('reports a frame whose size does not match its bytes, and goes on', async () => {
    const channel = pool.channel(() => {});
    const bad = { ...frameWith(null), height: HEIGHT - 1 };
    const result = await new Promise<DecodeResult | null>((resolve) => channel.submit(bad, resolve));
    expect(result!.error).toBe(`frame holds ${WIDTH * HEIGHT} bytes, not ${WIDTH}x${HEIGHT - 1}`);
    const next = await new Promise<DecodeResult | null>((resolve) => channel.submit(frameWith('P1.AFTER'), resolve));
    expect(next!.texts).toEqual(['P1.AFTER']);
  });

  it('lets cameras take turns for the worker', async () => {
    const order: string[] = [];
    const busy = pool.channel((r) => order.push(`busy:${r.texts[0] ?? '-'}`));
    const quiet = pool.channel((r) => order.push(`quiet:${r.texts[0] ?? '-'}`));
    const done = new Promise<void>((resolve) => {
      busy.submit(frameWith('P1.B1'));
      busy.submit(frameWith('P1.B2'));
      quiet.submit(frameWith('P1.Q1'), () => resolve());
    });
    await done;
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The quiet camera's frame is decoded before the busy camera's second one.
    expect(order.slice(0, 2)).toEqual(['busy:P1.B1', 'quiet:P1.Q1']);
  });
});
