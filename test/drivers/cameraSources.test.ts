/**
 * Camera sources as they come, on real ffmpeg and real decode workers: a V4L2 camera opened in a
 * format it lists (the camera is a stand-in ffmpeg that lists formats as a camera would, then plays
 * a clip), a 16:9 or 32:9 picture fitted into the frame without being squashed, a file with
 * `loop: false` played once under the scanner actor's retries, the last frames of a clip still
 * decoded after ffmpeg exits, and a decode worker that dies mid-stream replaced while the camera
 * goes on reading. Skipped without ffmpeg, unless POSTERN_TEST_REQUIRE_ALL=1.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { scannerEvent } from '../../controller/driverEvents.ts';
import { DecoderPool, WORKER_STOPPED_ERROR } from '../../drivers/scanners/camera/decoderPool.ts';
import { FfmpegFrameSource, type FfmpegFrameSourceOptions } from '../../drivers/scanners/camera/ffmpegFrameSource.ts';
import { CameraScanner, FILE_ENDED_REASON, playsOnce } from '../../drivers/scanners/cameraScanner.ts';
import type { ScannerDriverEvent } from '../../drivers/scanners/scannerDriver.ts';
import type { DriverHealth } from '../../machines/shared/driverHealth.ts';
import { scannerLinkState, scannerMachine } from '../../machines/scannerMachine.ts';
import { cameraOptions, disconnected, eventsOf, readsOf, reasonOf } from '../support/cameraEvents.ts';
import { FFMPEG, ffmpegSuite, makeQrVideo, skipWithoutFfmpeg } from '../support/qrVideo.ts';
import { tempDir } from '../support/testSite.ts';
import { vectors } from '../support/vectors.ts';

const run = promisify(execFile);
const CODE = vectors.vectors[0]!.code;

const healthOf = (events: ScannerDriverEvent[]) => events.filter((e): e is Extract<ScannerDriverEvent, { type: 'health' }> => e.type === 'health').map((e) => e.health);


describe('which sources play once', () => {
  it('is a file without loop, not a stream or a camera', () => {
    expect(playsOnce({ url: '/srv/clip.mp4', loop: false, realtime: true })).toBe(true);
    expect(playsOnce({ url: 'clips/door.mp4', loop: false, realtime: false })).toBe(true);
    expect(playsOnce({ url: 'file:///srv/clip.mp4', loop: false, realtime: true })).toBe(true);
    expect(playsOnce({ url: '/srv/clip.mp4', loop: true, realtime: true })).toBe(false);
    expect(playsOnce({ url: 'rtsp://camera/stream', loop: false, realtime: true })).toBe(false);
    expect(playsOnce({ url: 'http://camera/video.mjpeg', loop: false, realtime: true })).toBe(false);
    expect(playsOnce({ device: '/dev/video0' })).toBe(false);
  });
});

describe.skipIf(skipWithoutFfmpeg)(ffmpegSuite('camera sources on ffmpeg and zxing-wasm workers'), () => {
  let dir: string;
  let pool: DecoderPool;

  beforeAll(async () => {
    dir = await tempDir('postern-camera-sources-');
    pool = new DecoderPool({ workers: 1 });
    await pool.start();
  }, 120_000);

  afterAll(async () => {
    await pool?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * A stand-in for ffmpeg that logs each start's arguments. Asked to list a camera's formats it
   * prints `listing` on stderr and exits 1, as ffmpeg does; asked to open the camera, it plays
   * `clip` instead with the same output arguments, so the driver's whole path runs.
   */
  async function fakeCamera(name: string, listing: string, clip: string): Promise<{ program: string; starts: () => Promise<string[]> }> {
    const log = path.join(dir, `${name}.starts`);
    const listingFile = path.join(dir, `${name}.listing`);
    await writeFile(listingFile, listing);
    await writeFile(log, '');
    const program = path.join(dir, name);
    await writeFile(program, `#!/bin/sh
echo "$*" >> '${log}'
for arg in "$@"; do
  if [ "$arg" = "-list_formats" ]; then cat '${listingFile}' >&2; exit 1; fi
done
while [ $# -gt 0 ] && [ "$1" != "-an" ]; do shift; done
exec '${FFMPEG}' -hide_banner -nostdin -loglevel error -re -i '${clip}' "$@"
`, { mode: 0o755 });
    return { program, starts: async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean) };
  }

  describe('a V4L2 camera', () => {
    let clip: string;
    const LISTING = `[video4linux2,v4l2 @ 0x55f1c2a3e8c0] Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480 320x240 1280x720
[video4linux2,v4l2 @ 0x55f1c2a3e8c0] Compressed:       mjpeg :          Motion-JPEG : 1280x720 640x480 320x240
/dev/video0: Immediate exit requested
`;

    beforeAll(async () => {
      clip = await makeQrVideo(dir, 'camera-clip', CODE, { leadIn: 0.3, shown: 1.5 });
    }, 60_000);

    it('is asked for a format and size it lists, and read', async () => {
      const camera = await fakeCamera('ffmpeg-c920', LISTING, clip);
      const scanner = new CameraScanner(cameraOptions({ ffmpegPath: camera.program, input: { device: '/dev/video0' }, inputFormat: 'auto', debounceMs: 60_000 }), pool);
      const events = await eventsOf(scanner, (e) => readsOf(e).length > 0);
      expect(readsOf(events)).toEqual([CODE]);
      const starts = await camera.starts();
      expect(starts[0]).toBe('-hide_banner -nostdin -f v4l2 -list_formats all -i /dev/video0');
      expect(starts[1]).toContain('-f v4l2 -input_format mjpeg -framerate 15 -video_size 640x480 -i /dev/video0');
      expect(starts).toHaveLength(2);
    }, 30_000);

    it('is asked for YUYV when the site file says so', async () => {
      const camera = await fakeCamera('ffmpeg-yuyv', LISTING, clip);
      const scanner = new CameraScanner(cameraOptions({ ffmpegPath: camera.program, input: { device: '/dev/video0' }, inputFormat: 'yuyv422', width: 1280, height: 720, debounceMs: 60_000 }), pool);
      const events = await eventsOf(scanner, (e) => readsOf(e).length > 0);
      expect(readsOf(events)).toEqual([CODE]);
      expect((await camera.starts())[1]).toContain('-f v4l2 -input_format yuyv422 -framerate 15 -video_size 1280x720 -i /dev/video0');
    }, 30_000);

    it('says which formats it has when the one set in the site file is not among them, and opens nothing', async () => {
      const camera = await fakeCamera('ffmpeg-yuyv-only', '[video4linux2,v4l2 @ 0x1] Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480\n', clip);
      const scanner = new CameraScanner(cameraOptions({ ffmpegPath: camera.program, input: { device: '/dev/video0' }, inputFormat: 'mjpeg' }), pool);
      const events = await eventsOf(scanner, disconnected);
      expect(reasonOf(events)).toBe('/dev/video0: the camera does not offer mjpeg (it offers yuyv422): set inputFormat to auto');
      expect(await camera.starts()).toHaveLength(1);
    });

    it('is opened at the asked size in the driver\'s own format when it lists nothing', async () => {
      const camera = await fakeCamera('ffmpeg-unlisted', '/dev/video0: Inappropriate ioctl for device\n', clip);
      const scanner = new CameraScanner(cameraOptions({ ffmpegPath: camera.program, input: { device: '/dev/video0' }, inputFormat: 'auto', debounceMs: 60_000 }), pool);
      const events = await eventsOf(scanner, (e) => readsOf(e).length > 0);
      expect(readsOf(events)).toEqual([CODE]);
      expect((await camera.starts())[1]).toContain('-f v4l2 -framerate 15 -video_size 640x480 -i /dev/video0');
    }, 30_000);
  });

  describe('aspect ratio', () => {
    it('reads a code in a 16:9 video at 640x480', async () => {
      const wide = await makeQrVideo(dir, 'wide', CODE, { width: 1280, height: 720, codeSize: 360, leadIn: 0.3, shown: 1.5 });
      const scanner = new CameraScanner(cameraOptions({ input: { url: wide, loop: false, realtime: true }, debounceMs: 60_000 }), pool);
      const events = await eventsOf(scanner, disconnected);
      expect(readsOf(events)).toEqual([CODE]);
    }, 30_000);

    it('fits a 32:9 picture into the frame between grey bands, a square staying square', async () => {
      // A white square on black, 1280x360: squashed into 640x480 it would be 100x267 pixels.
      const strip = path.join(dir, 'strip.mp4');
      await run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=black:s=1280x360:r=15:d=1', '-vf', 'drawbox=x=540:y=80:w=200:h=200:color=white:t=fill,format=yuv420p', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '10', strip]);
      const options: FfmpegFrameSourceOptions = { ffmpegPath: FFMPEG, input: { url: strip, loop: false, realtime: false }, width: 640, height: 480, fps: 15, downscale: 1, stallTimeoutMs: 5000 };
      const frame = await new Promise<Uint8Array>((resolve, reject) => {
        const source = new FfmpegFrameSource(options, {
          frame: (data) => {
            source.stop();
            resolve(data);
          },
          stopped: (reason) => reject(new Error(reason)),
        });
        source.start();
      });
      const at = (x: number, y: number) => frame[y * 640 + x]!;
      let [left, right, top, bottom] = [640, -1, 480, -1];
      for (let y = 0; y < 480; y++) {
        for (let x = 0; x < 640; x++) {
          if (at(x, y) < 200) continue;
          [left, right, top, bottom] = [Math.min(left, x), Math.max(right, x), Math.min(top, y), Math.max(bottom, y)];
        }
      }
      const [width, height] = [right - left + 1, bottom - top + 1];
      expect(width).toBeGreaterThanOrEqual(96);
      expect(width).toBeLessThanOrEqual(104);
      expect(Math.abs(width - height)).toBeLessThanOrEqual(3);
      // The picture is 640x180 in the middle: mid grey above and below it, black at its edges.
      expect(at(320, 100)).toBeGreaterThan(110);
      expect(at(320, 100)).toBeLessThan(146);
      expect(at(10, 160)).toBeLessThan(40);
      expect(at(320, 380)).toBeGreaterThan(110);
      expect(top).toBeGreaterThan(150);
    }, 30_000);
  });

  describe('a file with loop: false', () => {
    it('is played once: one read, and the scanner actor\'s retries do not reopen it', async () => {
      const clip = await makeQrVideo(dir, 'once', CODE, { leadIn: 0.2, shown: 1, width: 320, height: 240, codeSize: 150 });
      const log = path.join(dir, 'once.starts');
      await writeFile(log, '');
      const wrapper = path.join(dir, 'ffmpeg-counting');
      await writeFile(wrapper, `#!/bin/sh\necho start >> '${log}'\nexec '${FFMPEG}' "$@"\n`, { mode: 0o755 });
      const scanner = new CameraScanner(cameraOptions({ ffmpegPath: wrapper, input: { url: clip, loop: false, realtime: true }, width: 320, height: 240, debounceMs: 60_000 }), pool);
      const actor = createActor(
        scannerMachine.provide({ actions: { connect: () => scanner.connect(), disconnect: () => scanner.disconnect() } }),
        { input: { id: 'once-cam', door: 'lab', debounceMs: 0, backoff: { initialMs: 50, maxMs: 200 } } },
      );
      const reads: string[] = [];
      scanner.onEvent((event) => {
        if (event.type === 'read') reads.push(event.text);
        actor.send(scannerEvent(event));
      });
      actor.start();
      try {
        await expect.poll(() => actor.getSnapshot().context.lastError, { timeout: 15_000, interval: 50 }).toBe(FILE_ENDED_REASON);
        // The actor keeps retrying with its backoff; each retry finds the file ended.
        await expect.poll(() => actor.getSnapshot().context.attempt, { timeout: 5000, interval: 50 }).toBeGreaterThanOrEqual(5);
        expect(scannerLinkState(actor.getSnapshot())).toBe('disconnected');
        expect(reads).toEqual([CODE]);
        expect(actor.getSnapshot().context.reads).toBe(1);
        expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual(['start']);
      } finally {
        actor.stop();
        scanner.disconnect();
      }
    }, 30_000);

    it('is played again after an explicit disconnect', async () => {
      const clip = path.join(dir, 'once.mp4');
      const scanner = new CameraScanner(cameraOptions({ input: { url: clip, loop: false, realtime: false }, width: 320, height: 240, debounceMs: 60_000 }), pool);
      const first: ScannerDriverEvent[] = [];
      scanner.onEvent((e) => first.push(e));
      scanner.connect();
      await expect.poll(() => reasonOf(first), { timeout: 15_000 }).toBe(FILE_ENDED_REASON);
      scanner.disconnect();
      const again = await eventsOf(scanner, disconnected);
      expect(again[0]).toEqual({ type: 'connected' });
      expect(readsOf(again)).toEqual([CODE]);
    }, 30_000);
  });

  it('decodes the last frames of a clip after ffmpeg has exited', async () => {
    // 3 s of empty scene, the code in the last two frames only, read as fast as ffmpeg decodes:
    // when ffmpeg exits, those frames are still waiting for the worker or in it.
    const clip = await makeQrVideo(dir, 'late', CODE, { leadIn: 3, shown: 0.1 });
    const scanner = new CameraScanner(cameraOptions({ input: { url: clip, loop: false, realtime: false }, debounceMs: 60_000 }), pool);
    const events = await eventsOf(scanner, disconnected);
    expect(readsOf(events)).toEqual([CODE]);
    // The read came before the disconnection, while the scanner still counted as connected.
    expect(events.findIndex((e) => e.type === 'read')).toBeLessThan(events.findIndex((e) => e.type === 'disconnected'));
    expect(reasonOf(events)).toBe(FILE_ENDED_REASON);
  }, 30_000);

  describe('a decode worker that dies mid-stream', () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it('is replaced, and the camera goes on reading and reports it in its health', async () => {
      const own = new DecoderPool({ workers: 1 });
      await own.start();
      try {
        const clip = await makeQrVideo(dir, 'steady', CODE, { leadIn: 0.2, shown: 6 });
        // The worker that takes the camera's next frame dies with it, as on a fatal error.
        const postMessage = Worker.prototype.postMessage;
        let killNext = false;
        vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
          postMessage.apply(this, args);
          if (killNext) {
            killNext = false;
            void this.terminate();
          }
        });
        const scanner = new CameraScanner(cameraOptions({ input: { url: clip, loop: false, realtime: true }, debounceMs: 400 }), own);
        let killedAt = -1;
        const events = await eventsOf(scanner, (e) => {
          if (killedAt === -1 && readsOf(e).length === 1) {
            killedAt = e.length;
            killNext = true;
          }
          return killedAt !== -1 && readsOf(e.slice(killedAt)).length >= 2 && healthOf(e.slice(killedAt)).some((h) => (h.badFrames ?? 0) > 0);
        });
        expect(own.replaced).toBe(1);
        expect(own.size).toBe(1);
        expect(readsOf(events.slice(killedAt)).length).toBeGreaterThanOrEqual(2);
        const health: DriverHealth[] = healthOf(events.slice(killedAt));
        expect(health.some((h) => h.badFrames === 1 && h.warning === WORKER_STOPPED_ERROR)).toBe(true);
        expect(events.slice(killedAt).some((e) => e.type === 'disconnected')).toBe(false);
      } finally {
        await own.stop();
      }
    }, 30_000);
  });
});
