/**
 * QR decode time per frame and decode share: the controller's camera pipeline (zxing-wasm in a
 * DecoderPool worker, and decodeGrayFrame in this thread) against jsQR and @zxing/library on the
 * same grey frames.
 *
 * Frames are made here (bench/lib/qrScene.ts): a textured scene with posters and a door frame, and
 * for frames with a code a phone showing a 67-character P1 link code (QR version 4, error
 * correction M) at about 5.4 px per module at 640x480 (a code of about 200 px with its quiet zone,
 * as in test/support/qrVideo.ts), scaled with the frame height at 1280x720.
 *
 * Timing: 6 frames with a code and 6 without at each size, every decoder warmed up on all of them
 * first, then 8 rounds; in each round every frame goes to every decoder, the order of the decoders
 * turning from frame to frame so that a busy moment of the machine does not fall on one decoder.
 *   - worker pool: DecoderPool with one worker, one frame at a time; submit() → result, which
 *     includes moving the frame to the worker and the answer back (the time inside the worker is
 *     reported beside it)
 *   - in thread: decodeGrayFrame(), the same zxing-wasm call the worker makes, grey → RGBA included
 *   - in thread, tryInvert off: the same call without the inverted pass (which runs when the plain
 *     pass finds nothing): the ratio of the two on frames without a code is what reading
 *     light-on-dark codes costs the controller
 *   - jsQR(rgba, w, h): the RGBA copy it needs is made beforehand, outside the timing; both the
 *     default inversionAttempts ('attemptBoth', which also reads the inverted image when nothing
 *     is found) and 'dontInvert'
 *   - @zxing/library: QRCodeReader, TRY_HARDER, POSSIBLE_FORMATS [QR_CODE], HybridBinarizer over an
 *     RGBLuminanceSource made from the grey bytes (no copy)
 *
 * Decode share: 30 images of each kind at 640x480 (clean, rotation, perspective, blur, noise, low
 * contrast, glare, inverted: a phone in dark mode, light modules on a dark screen;
 * bench/lib/distortions.ts), each decoded once by each decoder; a decode counts when the text is
 * exactly the code's. The pool runs the same decodeGrayFrame as the in-thread call, so its share
 * is the in-thread share.
 */
import { encodeCredential } from '../controller/credentials/credentialCodec.ts';
import { DISTORTION_KINDS, distortedImages, levelsOf, type DistortedImage, type DistortionKind } from './lib/distortions.ts';
import { busyNowWarning, describeEnvironment, describeLoad, environment, watchLoad } from './lib/environment.ts';
import { decoderVersions, jsQrDecoder, wasmInThread, wasmPool, zxingLibraryDecoder, type BenchDecoder } from './lib/qrDecoders.ts';
import { heldPose, renderScene, rng, type GrayFrame } from './lib/qrScene.ts';
import { quantiles, type Quantiles } from './lib/quantiles.ts';
import { writeResults } from './lib/site.ts';
import { ms, table } from './lib/stats.ts';

const SIZES: ReadonlyArray<readonly [number, number]> = [
  [640, 480],
  [1280, 720],
];
const TIMING_FRAMES = 6;
const ROUNDS = 8;
const WARMUP_ROUNDS = 2;
const IMAGES_PER_KIND = 30;
const TARGET_SPEEDUP = 3;

/** The key of the shared credential vectors (test/fixtures/credential-vectors.json): real P1 codes. */
const VECTOR_SITE_KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');

/** A site link of the P1 format, 67 characters, different for every n. */
export function p1Code(n: number): string {
  const a = 1767225600;
  return encodeCredential({ kind: 'link', issuer: 0, subject: 1_000_000n + BigInt(n), a, b: a + 365 * 86400, scope: 7 }, VECTOR_SITE_KEY);
}

interface TimingFrame {
  size: string;
  withCode: boolean;
  text: string | null;
  frame: GrayFrame;
}

function timingFrames(): TimingFrame[] {
  const frames: TimingFrame[] = [];
  let n = 10_000;
  for (const [width, height] of SIZES) {
    for (let i = 0; i < TIMING_FRAMES; i++) {
      const seed = width * 100 + i;
      const text = p1Code(n++);
      frames.push({ size: `${width}x${height}`, withCode: true, text, frame: renderScene({ width, height, seed, code: { text, pose: heldPose(width, height, rng(seed)) } }) });
      frames.push({ size: `${width}x${height}`, withCode: false, text: null, frame: renderScene({ width, height, seed: seed + 50 }) });
    }
  }
  return frames;
}

interface Cell {
  decoder: string;
  size: string;
  withCode: boolean;
  samples: number[];
  inside: number[];
  decoded: number;
  wrong: number;
}

interface CellResult {
  decoder: string;
  size: string;
  withCode: boolean;
  /** Frames read with the right text (with a code) or with any text (without: a false read). */
  decoded: number;
  wrong: number;
  time: Quantiles;
  /** Pool only: time inside the worker. */
  insideWorker?: Quantiles;
}

/** Every decoder gets every frame; the decoders' order turns from one frame to the next. */
async function timeDecoders(decoders: BenchDecoder[], frames: TimingFrame[], rounds: number, record: boolean): Promise<CellResult[]> {
  const cells = new Map<string, Cell>();
  let turn = 0;
  for (let round = 0; round < rounds; round++) {
    for (const f of frames) {
      turn++;
      for (let k = 0; k < decoders.length; k++) {
        const decoder = decoders[(k + turn) % decoders.length]!;
        const result = await decoder.decode(f.frame);
        if (!record) continue;
        const key = `${decoder.name}|${f.size}|${f.withCode}`;
        let cell = cells.get(key);
        if (cell === undefined) {
          cell = { decoder: decoder.name, size: f.size, withCode: f.withCode, samples: [], inside: [], decoded: 0, wrong: 0 };
          cells.set(key, cell);
        }
        cell.samples.push(result.ms);
        if (result.insideMs !== undefined) cell.inside.push(result.insideMs);
        if (f.text !== null && result.text === f.text) cell.decoded++;
        else if (result.text !== null) cell.wrong++;
      }
    }
  }
  return [...cells.values()].map((c) => ({
    decoder: c.decoder,
    size: c.size,
    withCode: c.withCode,
    decoded: c.decoded,
    wrong: c.wrong,
    time: quantiles(c.samples),
    ...(c.inside.length > 0 ? { insideWorker: quantiles(c.inside) } : {}),
  }));
}

interface ShareResult {
  decoder: string;
  kind: DistortionKind;
  images: number;
  decoded: number;
  wrong: number;
  byLevel: Record<string, { images: number; decoded: number }>;
  time: Quantiles;
}

async function decodeShares(decoders: BenchDecoder[], images: DistortedImage[]): Promise<ShareResult[]> {
  const results = new Map<string, ShareResult & { samples: number[] }>();
  for (const kind of new Set(images.map((image) => image.kind))) {
    for (const d of decoders) {
      const byLevel = Object.fromEntries(levelsOf(kind).map((l) => [l, { images: 0, decoded: 0 }]));
      results.set(`${d.name}|${kind}`, { decoder: d.name, kind, images: 0, decoded: 0, wrong: 0, byLevel, time: quantiles([]), samples: [] });
    }
  }
  let turn = 0;
  for (const image of images) {
    turn++;
    for (let k = 0; k < decoders.length; k++) {
      const decoder = decoders[(k + turn) % decoders.length]!;
      const result = await decoder.decode(image.frame);
      const r = results.get(`${decoder.name}|${image.kind}`)!;
      const level = r.byLevel[image.level]!;
      r.images++;
      level.images++;
      r.samples.push(result.ms);
      if (result.text === image.text) {
        r.decoded++;
        level.decoded++;
      } else if (result.text !== null) r.wrong++;
    }
  }
  return [...results.values()].map(({ samples, ...r }) => ({ ...r, time: quantiles(samples) }));
}

const pct = (decoded: number, total: number) => (total === 0 ? '-' : `${decoded}/${total} (${Math.round((decoded / total) * 100)} %)`);
const quotient = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const ratio = (a: number, b: number, digits = 1) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(digits)}×` : '-');

export async function runDecode(): Promise<void> {
  const name = 'decode';
  const env = environment();
  env.versions = { ...env.versions, ...decoderVersions() };
  console.log(`\n# ${name}: QR decode time per frame and decode share\n${describeEnvironment(env)}\n`);
  const warning = await busyNowWarning();
  if (warning !== undefined) console.log(warning + '\n');

  const load = watchLoad();
  let started = performance.now();
  const frames = timingFrames();
  const images = distortedImages(640, 480, IMAGES_PER_KIND, (n) => p1Code(n));
  const renderSeconds = (performance.now() - started) / 1000;
  console.log(`${frames.length} timing frames and ${images.length} distorted images made in ${renderSeconds.toFixed(1)} s`);

  const pool = await wasmPool();
  const inThread = await wasmInThread();
  const inThreadNoInvert = await wasmInThread({ tryInvert: false });
  const jsQrPlain = jsQrDecoder('dontInvert');
  const jsQrDefault = jsQrDecoder('attemptBoth');
  const zxingLibrary = zxingLibraryDecoder();
  const decoders = [pool, inThread, inThreadNoInvert, jsQrPlain, jsQrDefault, zxingLibrary];
  const shareDecoders = [inThread, inThreadNoInvert, jsQrPlain, jsQrDefault, zxingLibrary];
  let timing: CellResult[];
  let shares: ShareResult[];
  try {
    started = performance.now();
    await timeDecoders(decoders, frames, WARMUP_ROUNDS, false);
    timing = await timeDecoders(decoders, frames, ROUNDS, true);
    console.log(`timing: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    started = performance.now();
    // The pool decodes with the same call as in thread: its share is that one's.
    shares = await decodeShares(shareDecoders, images);
    console.log(`decode shares: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await pool.close?.();
  }
  const machine = load.stop();
  console.log(describeLoad(machine));

  // --- time per frame
  const cell = (decoder: BenchDecoder, size: string, withCode: boolean) => timing.find((c) => c.decoder === decoder.name && c.size === size && c.withCode === withCode)!;
  const sizes = SIZES.map(([w, h]) => `${w}x${h}`);
  const timeRows: string[][] = [];
  for (const size of sizes) {
    for (const withCode of [true, false]) {
      for (const d of decoders) {
        const c = cell(d, size, withCode);
        const read = withCode ? `${c.decoded}/${c.time.count}` : c.wrong > 0 ? `${c.wrong} false` : 'none';
        timeRows.push([`${size}, ${withCode ? 'code' : 'no code'}: ${d.name}`, read, ms(c.time.p50), ms(c.time.p95), ms(c.time.p99), ms(c.time.max), ms(c.time.mean), c.insideWorker ? ms(c.insideWorker.p50) : '']);
      }
    }
  }
  console.log('\n' + table(['frames: decoder', 'read', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'mean ms', 'in worker p50 ms'], timeRows));

  // --- ratios: jsQR at its faster setting in each cell (the one the comparison favours)
  const comparisons = sizes.flatMap((size) =>
    [true, false].map((withCode) => {
      const jsPlain = cell(jsQrPlain, size, withCode);
      const jsDefault = cell(jsQrDefault, size, withCode);
      const jsFast = jsPlain.time.p50 <= jsDefault.time.p50 ? jsPlain : jsDefault;
      const p = cell(pool, size, withCode);
      const t = cell(inThread, size, withCode);
      const z = cell(zxingLibrary, size, withCode);
      return {
        size,
        withCode,
        jsQrSetting: jsFast.decoder,
        p50: { pool: p.time.p50, inThread: t.time.p50, jsQr: jsFast.time.p50, zxingLibrary: z.time.p50 },
        p95: { pool: p.time.p95, inThread: t.time.p95, jsQr: jsFast.time.p95, zxingLibrary: z.time.p95 },
        jsQrOverPool: { p50: quotient(jsFast.time.p50, p.time.p50), p95: quotient(jsFast.time.p95, p.time.p95) },
        jsQrOverInThread: { p50: quotient(jsFast.time.p50, t.time.p50), p95: quotient(jsFast.time.p95, t.time.p95) },
        zxingLibraryOverPool: { p50: quotient(z.time.p50, p.time.p50), p95: quotient(z.time.p95, p.time.p95) },
      };
    }),
  );
  console.log('\n' + table(
    ['frames', 'jsQR setting (faster)', 'pool p50', 'in thread p50', 'jsQR p50', '@zxing/library p50', 'jsQR ÷ pool p50 (p95)', 'jsQR ÷ in thread p50', '@zxing/library ÷ pool p50 (p95)'],
    comparisons.map((c) => [
      `${c.size}, ${c.withCode ? 'code' : 'no code'}`,
      c.jsQrSetting.replace('jsQR, ', ''),
      ms(c.p50.pool),
      ms(c.p50.inThread),
      ms(c.p50.jsQr),
      ms(c.p50.zxingLibrary),
      `${ratio(c.p50.jsQr, c.p50.pool)} (${ratio(c.p95.jsQr, c.p95.pool)})`,
      ratio(c.p50.jsQr, c.p50.inThread),
      `${ratio(c.p50.zxingLibrary, c.p50.pool)} (${ratio(c.p95.zxingLibrary, c.p95.pool)})`,
    ]),
  ));

  // --- what reading light-on-dark codes costs: the controller's decoder with and without tryInvert
  const invertCost = sizes.flatMap((size) =>
    [true, false].map((withCode) => {
      const on = cell(inThread, size, withCode);
      const off = cell(inThreadNoInvert, size, withCode);
      return {
        size,
        withCode,
        on: { p50: on.time.p50, p95: on.time.p95, mean: on.time.mean },
        off: { p50: off.time.p50, p95: off.time.p95, mean: off.time.mean },
        onOverOff: { p50: quotient(on.time.p50, off.time.p50), p95: quotient(on.time.p95, off.time.p95), mean: quotient(on.time.mean, off.time.mean) },
      };
    }),
  );
  console.log('\n' + table(
    ['frames (zxing-wasm in thread)', 'tryInvert on p50', 'off p50', 'on p95', 'off p95', 'on ÷ off p50', 'on ÷ off p95', 'on ÷ off mean'],
    invertCost.map((c) => [
      `${c.size}, ${c.withCode ? 'code' : 'no code'}`,
      ms(c.on.p50),
      ms(c.off.p50),
      ms(c.on.p95),
      ms(c.off.p95),
      ratio(c.on.p50, c.off.p50, 2),
      ratio(c.on.p95, c.off.p95, 2),
      ratio(c.on.mean, c.off.mean, 2),
    ]),
  ));

  // --- decode shares
  const share = (decoder: BenchDecoder, kind?: DistortionKind, distortedOnly = false) => {
    const rows = shares.filter((s) => s.decoder === decoder.name && (kind === undefined ? !distortedOnly || s.kind !== 'clean' : s.kind === kind));
    return { decoded: rows.reduce((a, s) => a + s.decoded, 0), images: rows.reduce((a, s) => a + s.images, 0), wrong: rows.reduce((a, s) => a + s.wrong, 0) };
  };
  const shareRows: string[][] = DISTORTION_KINDS.map((kind) => [kind, ...shareDecoders.map((d) => pct(share(d, kind).decoded, share(d, kind).images))]);
  shareRows.push(['distorted (all but clean)', ...shareDecoders.map((d) => pct(share(d, undefined, true).decoded, share(d, undefined, true).images))]);
  shareRows.push(['total', ...shareDecoders.map((d) => pct(share(d).decoded, share(d).images))]);
  const shareColumns = ['zxing-wasm (pool, in thread)', 'zxing-wasm tryInvert off', 'jsQR dontInvert', 'jsQR attemptBoth', '@zxing/library'];
  console.log('\n' + table(['640x480 images', ...shareColumns], shareRows));

  const levelRows: string[][] = [];
  for (const kind of DISTORTION_KINDS) {
    if (kind === 'clean') continue;
    for (const level of levelsOf(kind)) {
      levelRows.push([`${kind}: ${level}`, ...shareDecoders.map((d) => {
        const l = shares.find((s) => s.decoder === d.name && s.kind === kind)!.byLevel[level]!;
        return `${l.decoded}/${l.images}`;
      })]);
    }
  }
  console.log('\n' + table(['strength', ...shareColumns], levelRows));

  const timeOnImages = shareDecoders.map((d) => {
    const rows = shares.filter((s) => s.decoder === d.name);
    return [d.name, ...DISTORTION_KINDS.map((k) => ms(rows.find((s) => s.kind === k)!.time.p50, 1))];
  });
  console.log('\n' + table(['p50 ms on the images', ...DISTORTION_KINDS], timeOnImages));

  const wrong = shareDecoders.map((d) => share(d).wrong).reduce((a, b) => a + b, 0) + timing.reduce((a, c) => a + c.wrong, 0);
  if (wrong > 0) console.log(`\nWARNING: ${wrong} decodes returned a wrong text or a text where there was no code`);

  // --- targets
  const slowest = Math.min(...comparisons.map((c) => c.jsQrOverPool.p50));
  const wasmShare = share(inThread);
  const invertedShare = Object.fromEntries(shareDecoders.map((d) => [d.name, share(d, 'inverted')]));
  const jsBestShare = Math.max(share(jsQrPlain).decoded, share(jsQrDefault).decoded);
  const speedMet = slowest >= TARGET_SPEEDUP;
  const shareMet = wasmShare.decoded >= jsBestShare;
  console.log(
    `\ntarget: worker pipeline at least ${TARGET_SPEEDUP}× faster than jsQR (p50, every size, with and without a code): ` +
      `${speedMet ? 'MET' : 'NOT MET'} (lowest ${slowest.toFixed(1)}×)`,
  );
  console.log(`target: decode share equal or better than jsQR: ${shareMet ? 'MET' : 'NOT MET'} (${wasmShare.decoded} vs ${jsBestShare} of ${wasmShare.images})`);
  const noCodeCost = invertCost.filter((c) => !c.withCode).map((c) => `${c.size} ${ratio(c.on.p50, c.off.p50, 2)} p50, ${ratio(c.on.p95, c.off.p95, 2)} p95`).join('; ');
  console.log(`tryInvert: time on frames without a code, on ÷ off: ${noCodeCost}; inverted images read: ${invertedShare[inThread.name]!.decoded}/${invertedShare[inThread.name]!.images} on, ${invertedShare[inThreadNoInvert.name]!.decoded}/${invertedShare[inThreadNoInvert.name]!.images} off`);

  const file = await writeResults(name, {
    benchmark: name,
    measuredAt: new Date().toISOString(),
    environment: env,
    load: machine,
    config: {
      sizes,
      timingFramesPerSizeAndKind: TIMING_FRAMES,
      rounds: ROUNDS,
      warmupRounds: WARMUP_ROUNDS,
      imagesPerKind: IMAGES_PER_KIND,
      imageSize: '640x480',
      codeText: 'P1 site link, 67 characters, QR version 4, error correction M',
      jsQrInput: 'RGBA made before the timing',
      zxingLibrary: 'QRCodeReader, TRY_HARDER, POSSIBLE_FORMATS [QR_CODE], HybridBinarizer, RGBLuminanceSource on the grey bytes',
      pipeline: 'DecoderPool, 1 worker, one frame at a time; time from submit() to the result',
      renderSeconds: Math.round(renderSeconds * 10) / 10,
    },
    targets: { speedup: TARGET_SPEEDUP, speedMet, lowestSpeedupP50: Math.round(slowest * 100) / 100, shareMet },
    timing,
    comparisons,
    tryInvert: { cost: invertCost, invertedShare },
    shares,
  });
  console.log(`results: ${file}`);
}
