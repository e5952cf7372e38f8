/**
 * Camera and kiosk reads of codes shown light on dark (a phone in dark mode, a watch face), and of
 * codes whose text holds control characters or GS1 data: the reader inverts a frame when the plain
 * pass finds nothing, and delivers a code's bytes as text, as a HID scanner types them. Checked on
 * zxing-wasm itself, on the kiosk and camera scanners with real decode workers (the camera over
 * ffmpeg, skipped without it unless POSTERN_TEST_REQUIRE_ALL=1), and end to end: a kiosk's read of
 * such a code reaches a partner's webhook (a real HTTP server) with exactly the code's text.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedDoorIo } from '../../drivers/doorIo/simulatedDoorIo.ts';
import { DecoderPool } from '../../drivers/scanners/camera/decoderPool.ts';
import { decodeGrayFrame, decodeImageFile, QR_READER_OPTIONS } from '../../drivers/scanners/camera/qrReader.ts';
import { CameraScanner } from '../../drivers/scanners/cameraScanner.ts';
import { KioskScanner, type FrameAnswer } from '../../drivers/scanners/kioskScanner.ts';
import type { ScannerDriver, ScannerDriverEvent } from '../../drivers/scanners/scannerDriver.ts';
import { partner, SECRET, startDelegationSite, startWebhookServer, type DelegationSite, type WebhookServer } from '../delegation/delegationHarness.ts';
import { grayFramePng, gs1QrPng, qrGrayFrame } from '../support/qrFrames.ts';
import { FFMPEG, ffmpegSuite, makeQrVideo, skipWithoutFfmpeg } from '../support/qrVideo.ts';
import { tempDir } from '../support/testSite.ts';
import { vectors } from '../support/vectors.ts';

/** A P1 code from the shared test vectors. */
const CODE = vectors.vectors[0]!.code;
/** GS1 element strings as a scanner delivers them: GS (0x1d) in front and between fields. */
const GS1_TEXT = '\x1d01095012345678903\x1d10ABC';
/** Tab and EOT inside, EOT at both ends: data, not white space around a read. */
const CONTROL_TEXT = '\x04TKT\t2026\x04ADA\x04';
const UTF8_TEXT = 'Zoë 🎫 café';
/** A GS1 QR code (FNC1 mode) in bracketed form, and what a scanner types for it. */
const GS1_BRACKETED = '(01)09501234567890(10)ABC(21)XYZ';
const GS1_RAW = '010950123456789010ABC\x1d21XYZ';

describe('the QR reader (zxing-wasm, as every camera and kiosk frame is read)', () => {
  it('reads a code shown light on dark in a grey frame, which it would miss without tryInvert', async () => {
    const frame = qrGrayFrame(CODE, { inverted: true });
    expect(await decodeGrayFrame(frame)).toEqual([CODE]);
    expect(await decodeGrayFrame(frame, { ...QR_READER_OPTIONS, tryInvert: false })).toEqual([]);
    // The same code dark on light is read as before.
    expect(await decodeGrayFrame(qrGrayFrame(CODE))).toEqual([CODE]);
  });

  it('reads a code shown light on dark in a PNG file', async () => {
    expect(await decodeImageFile(grayFramePng(qrGrayFrame(CODE, { inverted: true })))).toEqual([CODE]);
    expect(await decodeImageFile(await gs1QrPng(GS1_BRACKETED, true))).toEqual([GS1_RAW]);
  });

  it('gives a code\'s text as its bytes say: control characters, GS separators and UTF-8 unchanged', async () => {
    for (const text of [GS1_TEXT, CONTROL_TEXT, UTF8_TEXT, 'A\tB\x04C']) {
      expect(await decodeGrayFrame(qrGrayFrame(text))).toEqual([text]);
      expect(await decodeGrayFrame(qrGrayFrame(text, { inverted: true }))).toEqual([text]);
      expect(await decodeImageFile(grayFramePng(qrGrayFrame(text)))).toEqual([text]);
    }
    // zxing's default text mode would have rewritten them for people to read.
    expect(await decodeGrayFrame(qrGrayFrame(GS1_TEXT), { ...QR_READER_OPTIONS, textMode: 'HRI' })).toEqual(['<GS>01095012345678903<GS>10ABC']);
  });

  it('gives a GS1 QR code (FNC1 mode) as the raw element string a scanner types, not "(01)…"', async () => {
    expect(await decodeImageFile(await gs1QrPng(GS1_BRACKETED))).toEqual([GS1_RAW]);
  });
});

/** Collects a driver's reads, settling each as a door would (no controller here). */
function collectReads(driver: ScannerDriver): { events: ScannerDriverEvent[]; reads: () => string[] } {
  const events: ScannerDriverEvent[] = [];
  driver.onEvent((event) => {
    events.push(event);
    if (event.type === 'read' && event.ref !== undefined) {
      driver.settle?.(event.ref, { decided: true, verdict: 'deny', reason: 'unknown-format', door: 'front', auditSeq: 0 });
    }
  });
  return { events, reads: () => events.filter((e) => e.type === 'read').map((e) => (e as { text: string }).text) };
}

describe('the kiosk scanner (frames from a tablet, real decode worker)', () => {
  let pool: DecoderPool;
  let kiosk: KioskScanner;
  let detach: () => void;

  beforeAll(async () => {
    pool = new DecoderPool({ workers: 1 });
    await pool.start();
    kiosk = new KioskScanner(pool, 0);
    kiosk.connect();
    detach = kiosk.attach();
  }, 60_000);

  afterAll(async () => {
    detach?.();
    kiosk?.disconnect();
    await pool?.stop();
  });

  it('reads a light-on-dark code from a PNG frame', async () => {
    const { reads } = collectReads(kiosk);
    const answer = await kiosk.frame(grayFramePng(qrGrayFrame(CODE, { inverted: true })));
    expect(answer).toMatchObject({ code: true, read: true, outcome: { decided: true } });
    expect(reads()).toEqual([CODE]);
  });

  it('passes on control characters, GS1 data and UTF-8 exactly, and a GS1 QR code as its raw element string', async () => {
    const { reads } = collectReads(kiosk);
    for (const text of [GS1_TEXT, CONTROL_TEXT, UTF8_TEXT]) {
      expect(await kiosk.frame(grayFramePng(qrGrayFrame(text)))).toMatchObject({ code: true, read: true });
    }
    expect(await kiosk.frame(await gs1QrPng(GS1_BRACKETED, true))).toMatchObject({ code: true, read: true });
    expect(reads()).toEqual([GS1_TEXT, CONTROL_TEXT, UTF8_TEXT, GS1_RAW]);
  });
});

describe.skipIf(skipWithoutFfmpeg)(ffmpegSuite('the camera scanner over ffmpeg (real decode worker)'), () => {
  let dir: string;
  let pool: DecoderPool;

  beforeAll(async () => {
    dir = await tempDir('postern-qrtext-');
    pool = new DecoderPool({ workers: 1 });
    await pool.start();
  }, 60_000);

  afterAll(async () => {
    await pool?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Plays a video file to a camera scanner until ffmpeg reaches its end; the texts it read. */
  async function readsOfVideo(video: string): Promise<string[]> {
    const camera = new CameraScanner({ ffmpegPath: FFMPEG, input: { url: video, loop: false, realtime: true }, width: 640, height: 480, fps: 15, downscale: 1, stallTimeoutMs: 5000, debounceMs: 60_000 }, pool);
    const { events, reads } = collectReads(camera);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 20_000);
      camera.onEvent((event) => {
        if (event.type !== 'disconnected') return;
        clearTimeout(timer);
        resolve();
      });
      camera.connect();
    });
    camera.disconnect();
    // The file played to its end (not a timeout of this helper).
    expect(events.some((e) => e.type === 'disconnected')).toBe(true);
    return reads();
  }

  it('reads a phone in dark mode: the code light on a dark screen', async () => {
    const video = await makeQrVideo(dir, 'dark-mode', CODE, { leadIn: 0.4, shown: 1.6, darkMode: true });
    expect(await readsOfVideo(video)).toEqual([CODE]);
  }, 60_000);

  it('passes on a code with GS1 separators and control characters exactly', async () => {
    for (const [name, text] of [['gs1', GS1_TEXT], ['control', CONTROL_TEXT]] as const) {
      const video = await makeQrVideo(dir, name, text, { leadIn: 0.4, shown: 1.6 });
      expect(await readsOfVideo(video)).toEqual([text]);
    }
  }, 60_000);
});

describe('a partner\'s webhook, end to end from a kiosk\'s frame', () => {
  let site: DelegationSite | undefined;
  let hook: WebhookServer | undefined;

  afterAll(async () => {
    await site?.stop();
    await hook?.close();
  });

  it('receives the text of a code with control characters and GS1 data exactly as the code holds it, and its grant opens the door', async () => {
    const granted = new Set([GS1_TEXT, CONTROL_TEXT, GS1_RAW]);
    let clock = Date.now;
    hook = await startWebhookServer({}, (request, res, req) =>
      partner(clock, (scan) => (granted.has(scan.text) ? { decision: 'grant', subject: 'Ada' } : { decision: 'deny', reason: 'no such ticket' }))(request, res, req),
    );
    site = await startDelegationSite((input) => {
      input.scanners = [...(input.scanners ?? []), { id: 'kiosk-lab', door: 'lab', driver: 'kiosk', debounceMs: 0 }];
      input.delegation = { url: `${hook!.url}/partner`, secret: SECRET, scanners: ['kiosk-lab'] };
    });
    clock = site.clock;
    const kiosk = site.controller.scannerDriver('kiosk-lab') as KioskScanner;
    // The tablet's socket: the kiosk scanner is connected while one is open.
    const detach = kiosk.attach();
    try {
      const frames: Array<[string, Buffer]> = [
        [GS1_TEXT, grayFramePng(qrGrayFrame(GS1_TEXT, { inverted: true }))],
        [CONTROL_TEXT, grayFramePng(qrGrayFrame(CONTROL_TEXT))],
        [GS1_RAW, await gs1QrPng(GS1_BRACKETED)],
      ];
      for (const [text, png] of frames) {
        const answer = await frameOnceReady(kiosk, png);
        expect(answer).toMatchObject({ code: true, read: true, outcome: { decided: true, verdict: 'grant', door: 'lab' } });
        const request = hook.received.at(-1)!;
        expect(request.path).toBe('/partner');
        expect(request.json).toMatchObject({ type: 'scan', scanner: 'kiosk-lab', door: 'lab', text });
      }
      expect(hook.received.map((r) => r.json.text)).toEqual([GS1_TEXT, CONTROL_TEXT, GS1_RAW]);
      expect((site.controller.doorIo('lab') as SimulatedDoorIo).relayHistory).toContain(true);
    } finally {
      detach();
    }
  }, 60_000);
});

/** A frame sent once the controller holds the kiosk as connected (its link settles a moment after the socket opens). */
async function frameOnceReady(kiosk: KioskScanner, png: Buffer): Promise<FrameAnswer> {
  for (let attempt = 0; ; attempt++) {
    const answer = await kiosk.frame(png);
    const notReady = (!answer.code && answer.bad === 'the scanner is not connected') || (answer.code && answer.read && !answer.outcome.decided && answer.outcome.reason === 'not-ready');
    if (!notReady || attempt >= 50) return answer;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
