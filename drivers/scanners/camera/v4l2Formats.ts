/**
 * What a V4L2 camera can deliver, as ffmpeg lists it (`ffmpeg -f v4l2 -list_formats all -i
 * /dev/video0`), and the format and size to ask of it. Asking a camera for a format or size it does
 * not have leaves the choice to the driver, which may pick uncompressed YUYV at a size the USB link
 * only carries at a few frames per second; asking for one it lists does not.
 */
import { spawn } from 'node:child_process';

export interface V4l2DiscreteSize {
  width: number;
  height: number;
}

/** A range of sizes ("{32-2592, 2}x{32-1944, 2}"): any width and height on the steps. */
export interface V4l2SizeRange {
  minWidth: number;
  maxWidth: number;
  stepWidth: number;
  minHeight: number;
  maxHeight: number;
  stepHeight: number;
}

export type V4l2Size = V4l2DiscreteSize | V4l2SizeRange;

export interface V4l2Format {
  compressed: boolean;
  /** ffmpeg's name for it, as `-input_format` takes it (yuyv422, mjpeg); null when ffmpeg has none ("Unsupported"). */
  name: string | null;
  /** The driver's own description ("YUYV 4:2:2", "Motion-JPEG"). */
  description: string;
  /** Converted by libv4l2 rather than delivered by the camera itself. */
  emulated: boolean;
  sizes: V4l2Size[];
}

export type InputFormatPreference = 'auto' | 'mjpeg' | 'yuyv422';

export interface V4l2Choice {
  inputFormat: string;
  width: number;
  height: number;
}

export function v4l2ProbeArguments(device: string): string[] {
  return ['-hide_banner', '-nostdin', '-f', 'v4l2', '-list_formats', 'all', '-i', device];
}

// "[video4linux2,v4l2 @ 0x5581…] Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480 1280x720";
// ffmpeg before 4.0 wrote "R :" and "C :". The description may hold colons ("4:2:2"), never " : ".
const FORMAT_LINE = /^(?:\[[^\]]*\]\s*)?(Raw|Compressed|R|C)\s*:\s*(\S+)\s+:\s+(.*?)\s+:((?:\s*Emulated\s*:)?)(.*)$/;
const SIZE = /\{(\d+)-(\d+)(?:,\s*(\d+))?\}x\{(\d+)-(\d+)(?:,\s*(\d+))?\}|(\d+)x(\d+)/g;

/** The formats in ffmpeg's listing (its stderr); none when the device listed nothing. */
export function parseV4l2Formats(listing: string): V4l2Format[] {
  const formats: V4l2Format[] = [];
  for (const line of listing.split(/\r?\n/)) {
    const match = FORMAT_LINE.exec(line.trim());
    if (match === null) continue;
    const [, kind, name, description, emulated, sizeText] = match as unknown as [string, string, string, string, string, string];
    const sizes: V4l2Size[] = [];
    for (const size of sizeText.matchAll(SIZE)) {
      const n = (i: number) => Number(size[i]);
      if (size[7] !== undefined) sizes.push({ width: n(7), height: n(8) });
      else sizes.push({ minWidth: n(1), maxWidth: n(2), stepWidth: size[3] === undefined ? 1 : Math.max(1, n(3)), minHeight: n(4), maxHeight: n(5), stepHeight: size[6] === undefined ? 1 : Math.max(1, n(6)) });
    }
    formats.push({
      compressed: kind.startsWith('C'),
      name: name === 'Unsupported' ? null : name,
      description,
      emulated: emulated.trim() !== '',
      sizes,
    });
  }
  return formats;
}

/** How far a size is from the asked one, in the ratio of each side: 2x too big weighs as 2x too small. */
function sizeDistance(size: V4l2DiscreteSize, asked: V4l2DiscreteSize): number {
  return Math.abs(Math.log(size.width / asked.width)) + Math.abs(Math.log(size.height / asked.height));
}

function onSteps(value: number, min: number, max: number, step: number): number {
  const clamped = Math.min(max, Math.max(min, value));
  return Math.min(max, min + Math.round((clamped - min) / step) * step);
}

/** The listed size nearest the asked one (the asked one itself when listed); the larger on a tie. */
export function nearestSize(sizes: V4l2Size[], asked: V4l2DiscreteSize): V4l2DiscreteSize | null {
  let best: V4l2DiscreteSize | null = null;
  let bestDistance = Infinity;
  for (const size of sizes) {
    const candidate =
      'width' in size
        ? size
        : { width: onSteps(asked.width, size.minWidth, size.maxWidth, size.stepWidth), height: onSteps(asked.height, size.minHeight, size.maxHeight, size.stepHeight) };
    if (candidate.width <= 0 || candidate.height <= 0) continue;
    const distance = sizeDistance(candidate, asked);
    if (distance < bestDistance - 1e-9 || (Math.abs(distance - bestDistance) <= 1e-9 && best !== null && candidate.width * candidate.height > best.width * best.height)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * MJPEG first (a fraction of the USB bandwidth of raw frames), then YUYV, then any other raw format,
 * then any other compressed one ffmpeg decodes; formats libv4l2 only emulates come after real ones.
 */
function formatRank(format: V4l2Format): number {
  const base = format.name === 'mjpeg' ? 0 : format.name === 'yuyv422' ? 1 : !format.compressed ? 2 : 3;
  return base + (format.emulated ? 4 : 0);
}

/**
 * The format and size to ask of the camera: among the formats it lists, the size nearest the asked
 * one wins (the asked size itself when listed), and on equal sizes the better format. With a
 * `preference` other than auto, only that format is considered. null: the camera listed nothing
 * usable, so it is opened without a format (ffmpeg's and the driver's defaults); a string: the
 * preferred format is not offered.
 */
export function chooseV4l2Format(formats: V4l2Format[], asked: V4l2DiscreteSize, preference: InputFormatPreference = 'auto'): V4l2Choice | string | null {
  const usable = formats.filter((f): f is V4l2Format & { name: string } => f.name !== null && f.sizes.length > 0);
  const candidates = preference === 'auto' ? usable : usable.filter((f) => f.name === preference);
  if (candidates.length === 0) {
    if (preference === 'auto' || formats.length === 0) return null;
    const offered = [...new Set(usable.map((f) => f.name))];
    return `the camera does not offer ${preference}${offered.length > 0 ? ` (it offers ${offered.join(', ')})` : ''}: set inputFormat to auto`;
  }
  let best: { choice: V4l2Choice; distance: number; rank: number } | null = null;
  for (const format of candidates) {
    const size = nearestSize(format.sizes, asked);
    if (size === null) continue;
    const distance = sizeDistance(size, asked);
    const rank = formatRank(format);
    if (best === null || distance < best.distance - 1e-9 || (Math.abs(distance - best.distance) <= 1e-9 && rank < best.rank)) {
      best = { choice: { inputFormat: format.name, width: size.width, height: size.height }, distance, rank };
    }
  }
  return best?.choice ?? null;
}

/** What the probe heard: the formats, and ffmpeg's own words when it could not list them. */
export interface V4l2Probe {
  formats: V4l2Format[];
  output: string;
}

const PROBE_OUTPUT_BYTES = 64 * 1024;

/**
 * Runs ffmpeg's listing of a device. ffmpeg exits with an error after listing (it opens no input),
 * so the exit code says nothing: the listing is what counts. Rejects only when ffmpeg cannot start.
 */
export function probeV4l2Formats(ffmpegPath: string, device: string, timeoutMs: number, onChild?: (kill: () => void) => void): Promise<V4l2Probe> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, v4l2ProbeArguments(device), { stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    onChild?.(() => child.kill('SIGKILL'));
    child.stderr.on('data', (chunk: Buffer) => {
      if (output.length < PROBE_OUTPUT_BYTES) output += chunk.toString('utf8');
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ formats: parseV4l2Formats(output), output });
    });
  });
}
