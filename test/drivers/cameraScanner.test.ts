/**
 * The webcam scanner on real ffmpeg and real zxing-wasm decode workers: videos of a phone showing a
 * code, made by the test with ffmpeg, are read as a camera would deliver them. Bad sources (ffmpeg
 * missing, a file that does not exist, a stream that stops, a truncated file, ffmpeg killed) each
 * end in a clear reason, and the scanner actor brings the camera back. (Formats of V4L2 cameras,
 * aspect ratio, files played once, the last frames and worker crashes: cameraSources.test.ts.) Skipped without ffmpeg,
 * unless POSTERN_TEST_REQUIRE_ALL=1.
 */
import { execFileSync, spawn } from 'node:child_process';
import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../controller/controller.ts';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import { DecoderPool } from '../../drivers/scanners/camera/decoderPool.ts';
import { ffmpegArguments, FIRST_FRAME_TIMEOUT_MS } from '../../drivers/scanners/camera/ffmpegFrameSource.ts';
import { CameraScanner, FILE_ENDED_REASON } from '../../drivers/scanners/cameraScanner.ts';
import type { ScannerDriverEvent } from '../../drivers/scanners/scannerDriver.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { cameraOptions, disconnected, eventsOf, readsOf, reasonOf } from '../support/cameraEvents.ts';
import { ffmpegSuite, makeQrVideo, skipWithoutFfmpeg } from '../support/qrVideo.ts';
import { tempDir, testSite } from '../support/testSite.ts';
import { vectors } from '../support/vectors.ts';

/** A P1 code from the shared test vectors: any valid text will do for the driver. */
const CODE = vectors.vectors[0]!.code;


describe('ffmpeg arguments', () => {
  it('asks a V4L2 camera for its size and rate, and crops and shrinks in ffmpeg', () => {
    const args = ffmpegArguments({ ...cameraOptions({}), input: { device: '/dev/video2' }, region: { x: 100, y: 60, width: 400, height: 300 }, downscale: 2 });
    expect(args.join(' ')).toContain('-f v4l2 -framerate 15 -video_size 640x480 -i /dev/video2');
    // Fitted inside 640x480 with its aspect ratio kept, padded with grey, then cropped and shrunk.
    expect(args).toContain('fps=15,format=gray,scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2:color=gray,crop=400:300:100:60,scale=200:150');
    expect(args.slice(-5)).toEqual(['-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1']);
  });

  it('asks a V4L2 camera for the format and size chosen from its list', () => {
    const args = ffmpegArguments({ ...cameraOptions({}), input: { device: '/dev/video0' } }, { inputFormat: 'mjpeg', width: 1280, height: 720 });
    expect(args.join(' ')).toContain('-f v4l2 -input_format mjpeg -framerate 15 -video_size 1280x720 -i /dev/video0');
    // The camera's 16:9 is fitted into the 4:3 frame, not squashed.
    expect(args).toContain('fps=15,format=gray,scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2:color=gray,scale=640:480');
  });

  it('replays a file in a loop at its own rate when asked', () => {
    const args = ffmpegArguments(cameraOptions({ input: { url: 'clip.mp4', loop: true, realtime: true } }));
    expect(args.join(' ')).toContain('-re -stream_loop -1 -i clip.mp4');
  });
});

describe.skipIf(skipWithoutFfmpeg)(ffmpegSuite('the camera scanner on ffmpeg and zxing-wasm workers'), () => {
  let dir: string;
  let video: string;
  let pool: DecoderPool;

  beforeAll(async () => {
    dir = await tempDir('postern-camera-');
    video = await makeQrVideo(dir, 'phone', CODE, { leadIn: 0.4, shown: 2.6 });
    pool = new DecoderPool({ workers: 1 });
    await pool.start();
  }, 120_000);

  afterAll(async () => {
    await pool?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads the code once per debounce window and reports its health', async () => {
    const camera = new CameraScanner(cameraOptions({ input: { url: video, loop: false, realtime: true }, debounceMs: 1000 }), pool);
    const events = await eventsOf(camera, disconnected);
    expect(events[0]).toEqual({ type: 'connected' });
    const reads = readsOf(events);
    // 2.6 s of code with a 1 s window: read at its first sight, then once a second, never more.
    expect(reads.length).toBeGreaterThanOrEqual(2);
    expect(reads.length).toBeLessThanOrEqual(3);
    expect(new Set(reads)).toEqual(new Set([CODE]));
    const health = events.filter((e) => e.type === 'health').map((e) => (e as Extract<ScannerDriverEvent, { type: 'health' }>).health);
    expect(health.length).toBeGreaterThanOrEqual(2);
    const last = health.at(-1)!;
    expect(last.frames).toBeGreaterThanOrEqual(40);
    expect(last.badFrames).toBe(0);
    expect(health.some((h) => h.framesPerSecond! > 5 && h.decodeMs! > 0)).toBe(true);
    expect(reasonOf(events)).toBe(FILE_ENDED_REASON);
  }, 30_000);

  it('decodes only the region of interest, shrunk', async () => {
    // The code is in the middle of the frame: a strip along the top never shows it.
    const top = new CameraScanner(cameraOptions({ input: { url: video, loop: false, realtime: true }, region: { x: 0, y: 0, width: 640, height: 100 } }), pool);
    expect(readsOf(await eventsOf(top, disconnected))).toEqual([]);
    const middle = new CameraScanner(cameraOptions({ input: { url: video, loop: false, realtime: true }, region: { x: 160, y: 80, width: 320, height: 320 }, downscale: 2, debounceMs: 60_000 }), pool);
    expect(readsOf(await eventsOf(middle, disconnected))).toEqual([CODE]);
  }, 30_000);

  it('says so when ffmpeg is missing', async () => {
    const camera = new CameraScanner(cameraOptions({ ffmpegPath: path.join(dir, 'no-ffmpeg-here') }), pool);
    expect(reasonOf(await eventsOf(camera, disconnected))).toMatch(/^ffmpeg not found as ".*no-ffmpeg-here": install the ffmpeg package or set options.ffmpegPath$/);
  });

  it('passes on what ffmpeg says when it cannot open the input', async () => {
    const camera = new CameraScanner(cameraOptions({ input: { url: path.join(dir, 'missing.mp4'), loop: false, realtime: true } }), pool);
    expect(reasonOf(await eventsOf(camera, disconnected))).toMatch(/^ffmpeg exited with code \d+: .*No such file or directory/);
  });

  it('notices a stream that stops sending frames', async () => {
    // In place of ffmpeg, a program that sends a second of frames and then nothing, without
    // exiting: a camera gone quiet (a stand-in at the hardware edge, so the test needs no timing luck).
    const quiet = path.join(dir, 'quiet-camera.mjs');
    await writeFile(quiet, `#!${process.execPath}
const frame = Buffer.alloc(640 * 480, 128);
for (let i = 0; i < 15; i++) process.stdout.write(frame);
setInterval(() => {}, 60_000);
`, { mode: 0o755 });
    const camera = new CameraScanner(cameraOptions({ ffmpegPath: quiet, stallTimeoutMs: 800 }), pool);
    const events = await eventsOf(camera, disconnected);
    expect(events[0]).toEqual({ type: 'connected' });
    expect(reasonOf(events)).toBe('no frame for 0.8 s: the camera or stream stopped sending');
  });

  it('gives a camera that sends nothing at all 10 s to start before calling it dead', async () => {
    const fifo = path.join(dir, 'silent.fifo');
    execFileSync('mkfifo', [fifo]);
    const camera = new CameraScanner(cameraOptions({ input: { url: fifo, loop: false, realtime: false }, stallTimeoutMs: 800 }), pool);
    // Opened for writing, never written: ffmpeg waits, as for a camera that never delivers.
    const writer = open(fifo, 'w');
    const started = Date.now();
    const events = await eventsOf(camera, disconnected);
    await (await writer).close();
    expect(events.map((e) => e.type)).not.toContain('connected');
    expect(reasonOf(events)).toBe('no frame within 10 s of starting: the camera or stream sends nothing');
    expect(Date.now() - started).toBeGreaterThanOrEqual(FIRST_FRAME_TIMEOUT_MS);
  }, 30_000);

  it('reads a truncated file up to where it breaks off', async () => {
    const y4m = await makeQrVideo(dir, 'cut', CODE, { format: 'y4m', leadIn: 0, shown: 1, width: 320, height: 240, codeSize: 150 });
    const whole = await readFile(y4m);
    const cut = path.join(dir, 'cut-short.y4m');
    // Half a file: ends in the middle of a frame.
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2) + 1234));
    expect((await stat(cut)).size).toBeLessThan(whole.length);
    // At the file's own rate, as from a camera: read as fast as possible, most frames would be
    // dropped for newer ones.
    const camera = new CameraScanner(cameraOptions({ input: { url: cut, loop: false, realtime: true }, width: 320, height: 240 }), pool);
    const events = await eventsOf(camera, disconnected);
    expect(readsOf(events)).toEqual([CODE]);
    expect(reasonOf(events)).toMatch(/^the file was played to its end and is not replayed \(loop: false\)( \(ffmpeg .*\))?$/);
  });
});

describe.skipIf(skipWithoutFfmpeg)(ffmpegSuite('a camera scanner in a running controller'), () => {
  let controller: Controller;
  let dir: string;
  let code: string;

  beforeAll(async () => {
    dir = await tempDir('postern-camera-site-');
    controller = new Controller({
      config: testSite(dir, (input) => {
        input.scanners!.push({ id: 'lab-cam', door: 'lab', driver: 'camera', debounceMs: 2000, options: { url: path.join(dir, 'lab.mp4'), loop: true, stallTimeoutMs: 3000 } });
        input.decoder = { workers: 1 };
      }),
      terminal: new PassThrough(),
    });
    await controller.start();
    // The video is made after the start: the camera retries until its input exists.
    ({ code } = await controller.issuing.createLink({ name: 'Camera visitor', doors: ['lab'] }, 'test'));
    await makeQrVideo(dir, 'lab', code, { leadIn: 0.5, shown: 1.5 });
  }, 120_000);

  afterAll(async () => {
    await controller?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('opens the door for a code shown to the camera, and recovers when ffmpeg is killed', async () => {
    const decisions: Decision[] = [];
    controller.onDecision((d) => decisions.push(d));
    await expect.poll(() => decisions.find((d) => d.scanner === 'lab-cam'), { timeout: 30_000, interval: 100 }).toMatchObject({ verdict: 'grant', door: 'lab', kind: 'link' });
    const status = controller.scannerStatus('lab-cam')!;
    expect(status).toMatchObject({ driver: 'camera', state: 'ready' });
    await expect.poll(() => controller.scannerStatus('lab-cam')?.health?.framesPerSecond ?? 0, { timeout: 5000 }).toBeGreaterThan(0);

    // Another scanner is decided as usual while the camera runs.
    const granted = new Promise<Decision>((resolve) => controller.onDecision((d) => d.scanner === 'lab-in' && resolve(d)));
    (controller.scannerDriver('lab-in') as SimulatedScanner).read(code);
    expect(await granted).toMatchObject({ verdict: 'grant', door: 'lab' });

    // The camera's ffmpeg dies: the scanner goes disconnected with the reason, then comes back.
    const states: string[] = [];
    const killed = spawn('pkill', ['-KILL', '-f', path.join(dir, 'lab.mp4')]);
    await new Promise((resolve) => killed.on('close', resolve));
    await expect.poll(() => {
      const s = controller.scannerStatus('lab-cam')!;
      states.push(s.state);
      return s.lastError;
    }, { timeout: 10_000, interval: 20 }).toBe('ffmpeg was killed by SIGKILL');
    await expect.poll(() => controller.scannerStatus('lab-cam')?.state, { timeout: 15_000, interval: 100 }).toBe('ready');
    expect(states).toContain('disconnected');
  }, 60_000);
});
