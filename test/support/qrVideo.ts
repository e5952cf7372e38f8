/**
 * Test videos made with ffmpeg: a phone-sized QR code held in front of a camera. Tests that need
 * ffmpeg are skipped where it is missing, unless POSTERN_TEST_REQUIRE_ALL=1 (CI): then they fail.
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import QRCode from 'qrcode';

const run = promisify(execFile);

export const FFMPEG = process.env.POSTERN_TEST_FFMPEG ?? 'ffmpeg';

function ffmpegPresent(): boolean {
  try {
    execFileSync(FFMPEG, ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const haveFfmpeg = ffmpegPresent();
const requireAll = process.env.POSTERN_TEST_REQUIRE_ALL === '1';
/** describe.skipIf(skipWithoutFfmpeg)(ffmpegSuite('…'), …) */
export const skipWithoutFfmpeg = !haveFfmpeg && !requireAll;

export function ffmpegSuite(name: string): string {
  if (haveFfmpeg) return name;
  return requireAll ? `${name} (ffmpeg missing and POSTERN_TEST_REQUIRE_ALL=1: failing)` : `${name} (skipped: ffmpeg not installed)`;
}

export interface QrVideoOptions {
  /** Frame size of the video. */
  width?: number;
  height?: number;
  fps?: number;
  /** Seconds of empty scene before the code appears. */
  leadIn?: number;
  /** Seconds the code is shown. */
  shown?: number;
  /** Side of the code in pixels, quiet zone included: about a phone screen at arm's length. */
  codeSize?: number;
  /** mp4 (H.264), y4m (raw, as Chromium's fake camera reads) or mjpeg. */
  format?: 'mp4' | 'y4m' | 'mjpeg';
  /** The phone in dark mode: the code's light modules on a near-black screen in a dark bezel. */
  darkMode?: boolean;
}

/**
 * A grey scene in which a phone (a dark frame with a white screen) shows `text` as a QR code,
 * slightly turned, after an empty lead-in. Returns the file's path.
 */
export async function makeQrVideo(dir: string, name: string, text: string, options: QrVideoOptions = {}): Promise<string> {
  const { width = 640, height = 480, fps = 15, leadIn = 0.5, shown = 3, codeSize = 200, format = 'mp4', darkMode = false } = options;
  const png = join(dir, `${name}.png`);
  const color = darkMode ? { dark: '#e6e6e6ff', light: '#161616ff' } : undefined;
  await writeFile(png, await QRCode.toBuffer(text, { errorCorrectionLevel: 'M', margin: 2, width: codeSize, ...(color ? { color } : {}) }));
  const file = join(dir, `${name}.${format}`);
  const total = leadIn + shown;
  const x = Math.round((width - codeSize) / 2);
  const y = Math.round((height - codeSize) / 2);
  // The phone: its screen's border (the code's quiet zone continues into it), then a bezel.
  const phone = darkMode ? 'pad=w=iw+24:h=ih+60:x=12:y=30:color=0x161616,pad=w=iw+6:h=ih+6:x=3:y=3:color=0x0c0c0c' : 'pad=w=iw+24:h=ih+60:x=12:y=30:color=0x202020';
  const offset = darkMode ? { x: 15, y: 33 } : { x: 12, y: 30 };
  const filter = [
    `[1]${phone},rotate=0.08:c=0x707070:ow=rotw(0.08):oh=roth(0.08)[phone]`,
    `[0][phone]overlay=x=${x - offset.x}:y=${y - offset.y}:enable='gte(t,${leadIn})',noise=alls=6:allf=t,format=yuv420p[v]`,
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
