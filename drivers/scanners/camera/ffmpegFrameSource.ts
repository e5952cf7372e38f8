/**
 * Frames from ffmpeg: a Linux camera (v4l2) or any file or stream ffmpeg can read, turned into raw
 * 8-bit grey frames of a fixed size on a pipe. The crop (region of interest) and the downscale are
 * done by ffmpeg, so only the pixels that are decoded ever cross the pipe. A camera is first asked
 * what it can deliver (v4l2Formats.ts), and opened in a format and size it lists.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { chooseV4l2Format, probeV4l2Formats, type InputFormatPreference, type V4l2Choice } from './v4l2Formats.ts';

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type FrameInput =
  /** A V4L2 camera, e.g. /dev/video0. */
  | { device: string }
  /** A file or stream URL; `loop` replays a file, `realtime` reads it at its own frame rate. */
  | { url: string; loop: boolean; realtime: boolean };

export interface FfmpegFrameSourceOptions {
  ffmpegPath: string;
  input: FrameInput;
  /** The format asked of a V4L2 camera; auto: the best it lists (MJPEG, then YUYV, then any raw). */
  inputFormat?: InputFormatPreference;
  /** The frame size asked of the camera; any other size is scaled to fit inside it, never squashed. */
  width: number;
  height: number;
  fps: number;
  /** Only this part of the frame is decoded. */
  region?: Region;
  /** The region is shrunk by this factor before decoding. */
  downscale: number;
  /** With no frame for this long the source is considered dead. */
  stallTimeoutMs: number;
}

export interface FrameSourceHandlers {
  frame(data: Uint8Array): void;
  /**
   * The source has stopped by itself; `reason` says why in words an installer can act on. `ended`:
   * ffmpeg read its input to the end and exited cleanly (a file, or a stream its server closed).
   */
  stopped(reason: string, ended: boolean): void;
}

/**
 * Opening a camera or a stream takes longer than the gap between two frames (a USB camera powers
 * up, an RTSP server answers): until the first frame, this is the stall limit if it is longer.
 */
export const FIRST_FRAME_TIMEOUT_MS = 10_000;

/** The reason of a clean exit at the end of the input, when ffmpeg said nothing more. */
export const END_OF_INPUT = 'ffmpeg reached the end of the input';

/** Kept to explain an exit: ffmpeg's last words are the useful ones. */
const STDERR_TAIL_BYTES = 2048;

/** The size of the frames on the pipe, after crop and downscale (even, as ffmpeg's scalers want). */
export function outputSize(options: Pick<FfmpegFrameSourceOptions, 'width' | 'height' | 'region' | 'downscale'>): { width: number; height: number } {
  const region = options.region ?? { x: 0, y: 0, width: options.width, height: options.height };
  const even = (n: number) => Math.max(2, Math.floor(n / options.downscale / 2) * 2);
  return { width: even(region.width), height: even(region.height) };
}

/**
 * ffmpeg's command line. `camera`: the format and size chosen from the camera's own list; without
 * it the camera is asked for width x height in whatever format its driver prefers.
 *
 * The filters keep the frame rate first (fewer frames to scale), go grey (one plane, and no
 * chroma rounding of odd sizes), then fit the picture inside width x height keeping its aspect
 * ratio and pad the rest with mid grey: a 16:9 stream in a 640x480 frame is 640x360 between two
 * grey bands, not squashed, and `region` stays in pixels of the width x height frame.
 */
export function ffmpegArguments(options: FfmpegFrameSourceOptions, camera?: V4l2Choice | null): string[] {
  const { input, width, height, fps, region } = options;
  const out = outputSize(options);
  const inputArgs =
    'device' in input
      ? ['-f', 'v4l2', ...(camera ? ['-input_format', camera.inputFormat] : []), '-framerate', String(fps), '-video_size', `${camera?.width ?? width}x${camera?.height ?? height}`, '-i', input.device]
      : [...(input.realtime ? ['-re'] : []), ...(input.loop ? ['-stream_loop', '-1'] : []), '-i', input.url];
  const filters = [`fps=${fps}`, 'format=gray', `scale=${width}:${height}:force_original_aspect_ratio=decrease`, `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2:color=gray`];
  if (region !== undefined) filters.push(`crop=${region.width}:${region.height}:${region.x}:${region.y}`);
  filters.push(`scale=${out.width}:${out.height}`);
  return ['-hide_banner', '-nostdin', '-loglevel', 'error', ...inputArgs, '-an', '-vf', filters.join(','), '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'];
}

export class FfmpegFrameSource {
  readonly width: number;
  readonly height: number;
  private child: ChildProcessByStdio<null, Readable, Readable> | null = null;
  /** Between start() and stop() or the end: also while the camera's formats are being listed. */
  private running = false;
  private killProbe: (() => void) | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  private frame: Uint8Array;
  private filled = 0;
  /** Frames since start(): the first one may be slower to come. */
  private frames = 0;
  private stderrTail = '';
  /** Bytes of a frame ffmpeg began but never finished (it exited mid-frame). */
  truncatedBytes = 0;

  constructor(
    private readonly options: FfmpegFrameSourceOptions,
    private readonly handlers: FrameSourceHandlers,
  ) {
    ({ width: this.width, height: this.height } = outputSize(options));
    this.frame = new Uint8Array(this.width * this.height);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.filled = 0;
    this.stderrTail = '';
    this.frames = 0;
    // The first-frame limit covers listing the camera's formats too.
    this.armStallTimer();
    const { input, inputFormat } = this.options;
    if ('device' in input && inputFormat !== undefined) this.probeThenSpawn(input.device, inputFormat);
    else this.spawnFfmpeg(null);
  }

  stop(): void {
    this.running = false;
    const child = this.child;
    this.child = null;
    this.killProbe?.();
    this.killProbe = null;
    this.clearStallTimer();
    if (child !== null && child.exitCode === null) child.kill('SIGKILL');
  }

  private probeThenSpawn(device: string, preference: InputFormatPreference): void {
    const { ffmpegPath } = this.options;
    probeV4l2Formats(ffmpegPath, device, FIRST_FRAME_TIMEOUT_MS, (kill) => (this.killProbe = kill)).then(
      ({ formats }) => {
        this.killProbe = null;
        if (!this.running) return;
        const choice = chooseV4l2Format(formats, { width: this.options.width, height: this.options.height }, preference);
        if (typeof choice === 'string') return this.end(`${device}: ${choice}`);
        this.spawnFfmpeg(choice);
      },
      (error: NodeJS.ErrnoException) => {
        this.killProbe = null;
        this.end(this.spawnFailure(error));
      },
    );
  }

  private spawnFfmpeg(camera: V4l2Choice | null): void {
    const child = spawn(this.options.ffmpegPath, ffmpegArguments(this.options, camera), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    // A killed ffmpeg's last bytes are not frames of this source any more.
    child.stdout.on('data', (chunk: Buffer) => this.child === child && this.take(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (this.child === child) this.end(this.spawnFailure(error));
    });
    child.on('close', (code, signal) => {
      if (this.child !== child) return;
      if (this.filled > 0) this.truncatedBytes += this.filled;
      const said = lastLine(this.stderrTail);
      const ended = signal === null && code === 0;
      const how = signal !== null ? `ffmpeg was killed by ${signal}` : ended ? END_OF_INPUT : `ffmpeg exited with code ${code}`;
      this.end(`${how}${said ? `: ${said}` : ''}`, ended);
    });
  }

  private spawnFailure(error: NodeJS.ErrnoException): string {
    return error.code === 'ENOENT' ? `ffmpeg not found as "${this.options.ffmpegPath}": install the ffmpeg package or set options.ffmpegPath` : `ffmpeg could not start: ${error.message}`;
  }

  private end(reason: string, ended = false): void {
    if (!this.running) return;
    this.stop();
    this.handlers.stopped(reason, ended);
  }

  /** Cuts the byte stream into frames, each in a buffer of its own that can move to a worker. */
  private take(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, this.frame.length - this.filled);
      this.frame.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.frame.length) {
        const full = this.frame;
        this.frame = new Uint8Array(full.length);
        this.filled = 0;
        this.frames++;
        this.armStallTimer();
        this.handlers.frame(full);
        if (!this.running) return;
      }
    }
  }

  private armStallTimer(): void {
    this.clearStallTimer();
    const { stallTimeoutMs } = this.options;
    this.stallTimer =
      this.frames === 0
        ? setTimeout(() => this.end(`no frame within ${Math.max(stallTimeoutMs, FIRST_FRAME_TIMEOUT_MS) / 1000} s of starting: the camera or stream sends nothing`), Math.max(stallTimeoutMs, FIRST_FRAME_TIMEOUT_MS))
        : setTimeout(() => this.end(`no frame for ${stallTimeoutMs / 1000} s: the camera or stream stopped sending`), stallTimeoutMs);
  }

  private clearStallTimer(): void {
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }
}

function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? '';
}
