/**
 * The decoder pool on real zxing-wasm workers: the newest frame of a camera is decoded and the
 * ones it replaced are dropped, not queued; a frame of the wrong size is a clear error; cameras
 * take turns; and a worker that dies or is stuck on a frame is replaced. (The event-loop lag while
 * decoding is measured in bench/cameras.ts.)
 */
import { Worker } from 'node:worker_threads';
import { crc32, deflateSync } from 'node:zlib';
import QRCode from 'qrcode';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DecoderPool, WORKER_STOPPED_ERROR, type DecodeResult, type Frame } from '../../drivers/scanners/camera/decoderPool.ts';
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

/** A grey PNG of side x side pixels in 2-pixel checks: a small file that takes long to decode. */
function hugePng(side: number): Buffer {
  const row = Buffer.alloc(side + 1);
  const rows: Buffer[] = [];
  for (let y = 0; y < side; y++) {
    const line = Buffer.from(row);
    for (let x = 0; x < side; x++) line[x + 1] = ((x >> 1) + (y >> 1)) % 2 === 0 ? 30 : 230;
    rows.push(line);
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale, no interlace
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

const decode = (channel: ReturnType<DecoderPool['channel']>, frame: Frame) => new Promise<DecodeResult | null>((resolve) => channel.submit(frame, resolve));

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

describe('a decode worker that dies or is stuck', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is replaced when it dies with a frame in it: the frame gets an error, the next is decoded', async () => {
    const errors: Error[] = [];
    const pool = new DecoderPool({ workers: 1, onWorkerError: (e) => errors.push(e) });
    await pool.start();
    try {
      // The worker dies the moment it is handed the frame, as on a fatal error inside it.
      const postMessage = Worker.prototype.postMessage;
      vi.spyOn(Worker.prototype, 'postMessage').mockImplementationOnce(function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
        postMessage.apply(this, args);
        void this.terminate();
      });
      const channel = pool.channel(() => {});
      const lost = await decode(channel, frameWith(vectors.vectors[2]!.code));
      expect(lost).toMatchObject({ texts: [], error: WORKER_STOPPED_ERROR });
      vi.restoreAllMocks();
      const next = await decode(channel, frameWith('P1.AFTER.CRASH'));
      expect(next!.texts).toEqual(['P1.AFTER.CRASH']);
      expect(pool.replaced).toBe(1);
      expect(pool.size).toBe(1);
      expect(errors.map((e) => e.message)).toEqual(['the decode worker exited with code 1']);
    } finally {
      await pool.stop();
    }
  }, 60_000);

  it('stops a worker stuck on one frame after decodeTimeoutMs and goes on with a new one', async () => {
    const errors: Error[] = [];
    // A kiosk page may send any image: an 8000x8000 one takes the decoder well over half a second.
    const pool = new DecoderPool({ workers: 1, decodeTimeoutMs: 250, onWorkerError: (e) => errors.push(e) });
    await pool.start();
    try {
      const kiosk = pool.channel(() => {});
      const camera = pool.channel(() => {});
      const started = performance.now();
      const stuck = decode(kiosk, { kind: 'image', data: hugePng(8000) });
      // A camera's frame waits behind it, and is decoded by the replacement.
      const waiting = decode(camera, frameWith('P1.WAITED'));
      expect(await stuck).toMatchObject({ texts: [], error: 'decoding one frame took over 250 ms: the decode worker was stopped and is being replaced' });
      expect(performance.now() - started).toBeLessThan(5000);
      expect((await waiting)!.texts).toEqual(['P1.WAITED']);
      expect(errors.map((e) => e.message)).toEqual(['decoding one frame took over 250 ms: the decode worker was stopped and is being replaced']);
      expect(pool.replaced).toBe(1);
      expect(pool.size).toBe(1);
    } finally {
      await pool.stop();
    }
  }, 60_000);
});
