/**
 * Frames from ffmpeg: a Linux camera (v4l2) or any file or stream ffmpeg can read, turned into raw
 * 8-bit grey frames of a fixed size on a pipe. The crop (region of interest) and the downscale are
 * done by ffmpeg, so only the pixels that are decoded ever cross the pipe.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

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
  /** The frame size asked of the camera; a file is scaled to it. */
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
  /** The source has stopped by itself; `reason` says why in words an installer can act on. */
  stopped(reason: string): void;
}

/**
 * Opening a camera or a stream takes longer than the gap between two frames (a USB camera powers
 * up, an RTSP server answers): until the first frame, this is the stall limit if it is longer.
 */
export const FIRST_FRAME_TIMEOUT_MS = 10_000;

/** Kept to explain an exit: ffmpeg's last words are the useful ones. */
const STDERR_TAIL_BYTES = 2048;

/** The size of the frames on the pipe, after crop and downscale (even, as ffmpeg's scalers want). */
export function outputSize(options: Pick<FfmpegFrameSourceOptions, 'width' | 'height' | 'region' | 'downscale'>): { width: number; height: number } {
  const region = options.region ?? { x: 0, y: 0, width: options.width, height: options.height };
  const even = (n: number) => Math.max(2, Math.floor(n / options.downscale / 2) * 2);
  return { width: even(region.width), height: even(region.height) };
}

export function ffmpegArguments(options: FfmpegFrameSourceOptions): string[] {
  const { input, width, height, fps, region } = options;
  const out = outputSize(options);
  const inputArgs =
    'device' in input
      ? ['-f', 'v4l2', '-framerate', String(fps), '-video_size', `${width}x${height}`, '-i', input.device]
      : [...(input.realtime ? ['-re'] : []), ...(input.loop ? ['-stream_loop', '-1'] : []), '-i', input.url];
  const filters = [`scale=${width}:${height}`];
  if (region !== undefined) filters.push(`crop=${region.width}:${region.height}:${region.x}:${region.y}`);
  filters.push(`scale=${out.width}:${out.height}`, `fps=${fps}`, 'format=gray');
  return ['-hide_banner', '-nostdin', '-loglevel', 'error', ...inputArgs, '-an', '-vf', filters.join(','), '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'];
}

export class FfmpegFrameSource {
  readonly width: number;
  readonly height: number;
  private child: ChildProcessByStdio<null, Readable, Readable> | null = null;
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
    if (this.child !== null) return;
    this.filled = 0;
    this.stderrTail = '';
    const child = spawn(this.options.ffmpegPath, ffmpegArguments(this.options), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => this.take(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      this.end(error.code === 'ENOENT' ? `ffmpeg not found as "${this.options.ffmpegPath}": install the ffmpeg package or set options.ffmpegPath` : `ffmpeg could not start: ${error.message}`);
    });
    child.on('close', (code, signal) => {
      if (this.child !== child) return;
      if (this.filled > 0) this.truncatedBytes += this.filled;
      const said = lastLine(this.stderrTail);
      const how = signal !== null ? `was killed by ${signal}` : code === 0 ? 'reached the end of the input' : `exited with code ${code}`;
      this.end(`ffmpeg ${how}${said ? `: ${said}` : ''}`);
    });
    this.frames = 0;
    this.armStallTimer();
  }

  stop(): void {
    const child = this.child;
    this.child = null;
    this.clearStallTimer();
    if (child !== null && child.exitCode === null) child.kill('SIGKILL');
  }

  private end(reason: string): void {
    if (this.child === null) return;
    this.stop();
    this.handlers.stopped(reason);
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
        if (this.child === null) return;
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
