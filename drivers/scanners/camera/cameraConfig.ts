/**
 * Site-file options of camera scanners (ffmpeg sources) and of the decoder pool they share. The site
 * file schema (controller/config/configSchema.ts) puts them under a camera scanner and at `decoder`.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';

const region = z.strictObject({
  x: z.number().int().min(0),
  y: z.number().int().min(0),
  width: z.number().int().min(16),
  height: z.number().int().min(16),
});

export const cameraScannerOptions = z
  .strictObject({
    /** A V4L2 camera, e.g. /dev/video0. */
    device: z.string().min(1).optional(),
    /** The format asked of a V4L2 camera; auto: MJPEG if it lists it, else YUYV, else any raw format. */
    inputFormat: z.enum(['auto', 'mjpeg', 'yuyv422']).default('auto'),
    /** Instead of a device: any file or stream ffmpeg reads (a path, rtsp://, http://). */
    url: z.string().min(1).optional(),
    /** Replays a file from the start when it ends; without it a file is played once. */
    loop: z.boolean().default(false),
    /** Reads a file at its own frame rate, as a camera would deliver it. */
    realtime: z.boolean().default(true),
    /** The frame size asked of the camera; another size is scaled to fit inside it, keeping its aspect ratio. */
    width: z.number().int().min(16).max(3840).default(640),
    height: z.number().int().min(16).max(2160).default(480),
    fps: z.number().int().min(1).max(60).default(15),
    /** Only this part of the frame is decoded (pixels of the width x height frame). */
    region: region.optional(),
    /** The frame (or region) is shrunk by this factor before decoding. */
    downscale: z.number().int().min(1).max(8).default(1),
    /** With no frame for this long the camera counts as disconnected and is reopened. */
    stallTimeoutMs: z.number().int().min(500).max(120_000).default(5000),
    ffmpegPath: z.string().min(1).default('ffmpeg'),
  })
  .refine((o) => (o.device === undefined) !== (o.url === undefined), { message: 'give device or url, not both' })
  .refine((o) => o.region === undefined || (o.region.x + o.region.width <= o.width && o.region.y + o.region.height <= o.height), {
    message: 'region must lie inside the width x height frame',
    path: ['region'],
  });

export type CameraScannerOptionsConfig = z.output<typeof cameraScannerOptions>;

/** One worker per core but one, kept for the controller's own event loop; at least one, at most four. */
export function defaultDecodeWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

export const decoderSchema = z.strictObject({
  /** Worker threads decoding camera and kiosk frames (default: the cores but one, 1 to 4). */
  workers: z.number().int().min(1).max(16).optional(),
  /** A worker still decoding one frame after this long is stopped and replaced. */
  decodeTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
});

export type DecoderConfig = z.output<typeof decoderSchema>;
