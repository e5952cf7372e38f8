/**
 * Camera-like grey frames made in JavaScript, repeatably from a seed: a textured scene (a wall,
 * posters with text-like blocks, a door frame, sensor noise) and, optionally, a phone held up to
 * the camera showing a QR code (error correction M, as the controller prints them) on a bright
 * screen with a dark bezel. The phone is placed by a pose (position, size, roll, tilt about either
 * axis through a pinhole camera), so rotation and perspective come from the same renderer; blur,
 * noise, low contrast and glare are applied to the rendered pixels. A phone in dark mode shows the
 * code inverted: light modules on a dark screen.
 */
import QRCode from 'qrcode';

import type { GrayFrame } from '../../drivers/scanners/camera/qrReader.ts';
import { seededRandom } from './random.ts';

export type { GrayFrame };

/** The same seed gives the same frames on every machine. */
export const rng = seededRandom;

/** A normal deviate (Box-Muller) from a uniform source. */
export function gaussian(random: () => number): number {
  const u = Math.max(1e-12, random());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export interface QrMatrix {
  size: number;
  /** 1 = dark module, row-major. */
  modules: Uint8Array;
}

export function qrMatrix(text: string): QrMatrix {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  return { size: qr.modules.size, modules: Uint8Array.from(qr.modules.data) };
}

export interface Pose {
  /** Centre of the code in the image, pixels. */
  cx: number;
  cy: number;
  /** Side of one module, pixels, when the phone faces the camera. */
  modulePx: number;
  /** Turn in the image plane, degrees. */
  rollDeg: number;
  /** Turn about the vertical axis (left-right keystone), degrees. */
  yawDeg: number;
  /** Turn about the horizontal axis (top-bottom keystone), degrees. */
  pitchDeg: number;
}

export interface Look {
  /** Grey of the dark modules and of the screen. */
  dark: number;
  light: number;
  /** Gaussian blur of the whole frame, sigma in pixels (a camera is never perfectly sharp). */
  blurSigma: number;
  /** Gaussian sensor noise, sigma in grey levels. */
  noiseSigma: number;
  /** A bright radial blob added to the frame (clipped at 255), centre in code modules. */
  glare?: { u: number; v: number; radiusModules: number; amplitude: number };
  /**
   * Light on dark, as a phone in dark mode (or a watch face) shows a code: the modules take the
   * `light` grey and the screen around them the `dark` one.
   */
  inverted?: boolean;
}

export const DEFAULT_LOOK: Look = { dark: 35, light: 215, blurSigma: 0.6, noiseSigma: 3 };

type Point = [number, number];

/** 3x3 homography mapping (u, v, 1) to image coordinates, from four point pairs (DLT, h33 = 1). */
function homography(from: readonly Point[], to: readonly Point[]): number[] {
  const a: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const [u, v] = from[i]!;
    const [x, y] = to[i]!;
    a.push([u, v, 1, 0, 0, 0, -u * x, -v * x, x]);
    a.push([0, 0, 0, u, v, 1, -u * y, -v * y, y]);
  }
  // Gaussian elimination with partial pivoting on the 8x9 augmented matrix.
  for (let c = 0; c < 8; c++) {
    let pivot = c;
    for (let r = c + 1; r < 8; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[pivot]![c]!)) pivot = r;
    [a[c], a[pivot]] = [a[pivot]!, a[c]!];
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const f = a[r]![c]! / a[c]![c]!;
      for (let k = c; k < 9; k++) a[r]![k]! -= f * a[c]![k]!;
    }
  }
  const h = a.map((row, i) => row[8]! / row[i]!);
  return [...h, 1];
}

function invert3(m: readonly number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m as [number, number, number, number, number, number, number, number, number];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [A / det, -(b * i - c * h) / det, (b * f - c * e) / det, B / det, (a * i - c * g) / det, -(a * f - c * d) / det, C / det, -(a * h - b * g) / det, (a * e - b * d) / det];
}

/** Where the code's corners land in the image: the phone turned in 3-D and seen through a pinhole camera. */
function codeCorners(pose: Pose, size: number, focal: number): Point[] {
  const half = (size * pose.modulePx) / 2;
  const rad = Math.PI / 180;
  const [cr, sr] = [Math.cos(pose.rollDeg * rad), Math.sin(pose.rollDeg * rad)];
  const [cy, sy] = [Math.cos(pose.yawDeg * rad), Math.sin(pose.yawDeg * rad)];
  const [cp, sp] = [Math.cos(pose.pitchDeg * rad), Math.sin(pose.pitchDeg * rad)];
  const corners: Point[] = [[-half, -half], [half, -half], [half, half], [-half, half]];
  return corners.map(([x0, y0]) => {
    // roll (in plane), then yaw (about y), then pitch (about x); the phone sits `focal` away.
    const x1 = x0 * cr - y0 * sr;
    const y1 = x0 * sr + y0 * cr;
    const x2 = x1 * cy;
    const z2 = x1 * sy;
    const y3 = y1 * cp - z2 * sp;
    const z3 = y1 * sp + z2 * cp;
    const scale = focal / (focal + z3);
    return [pose.cx + x2 * scale, pose.cy + y3 * scale];
  });
}

/** The textured scene without a phone: light wall, soft shading, a door frame, posters with text-like blocks. */
function background(width: number, height: number, random: () => number): Float32Array {
  const out = new Float32Array(width * height);
  const base = 95 + random() * 50;
  // Two octaves of value noise (bilinear between random grid values): soft shading and stains.
  for (const [cell, amplitude] of [[96, 28], [24, 8]] as const) {
    const gw = Math.ceil(width / cell) + 2;
    const gh = Math.ceil(height / cell) + 2;
    const grid = Float32Array.from({ length: gw * gh }, () => (random() - 0.5) * 2 * amplitude);
    for (let y = 0; y < height; y++) {
      const gy = y / cell;
      const y0 = Math.floor(gy);
      const fy = gy - y0;
      for (let x = 0; x < width; x++) {
        const gx = x / cell;
        const x0 = Math.floor(gx);
        const fx = gx - x0;
        const g00 = grid[y0 * gw + x0]!;
        const g10 = grid[y0 * gw + x0 + 1]!;
        const g01 = grid[(y0 + 1) * gw + x0]!;
        const g11 = grid[(y0 + 1) * gw + x0 + 1]!;
        out[y * width + x]! += (g00 * (1 - fx) + g10 * fx) * (1 - fy) + (g01 * (1 - fx) + g11 * fx) * fy;
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i]! += base;
  const fill = (x0: number, y0: number, w: number, h: number, value: (x: number, y: number) => number | undefined) => {
    for (let y = Math.max(0, Math.round(y0)); y < Math.min(height, Math.round(y0 + h)); y++) {
      for (let x = Math.max(0, Math.round(x0)); x < Math.min(width, Math.round(x0 + w)); x++) {
        const v = value(x, y);
        if (v !== undefined) out[y * width + x] = v;
      }
    }
  };
  // A door frame: two dark vertical bars.
  const frameX = width * (0.05 + random() * 0.15);
  const frameW = width * (0.6 + random() * 0.25);
  const bar = width * 0.03;
  const frameGrey = 40 + random() * 40;
  fill(frameX, 0, bar, height, () => frameGrey);
  fill(frameX + frameW, 0, bar, height, () => frameGrey);
  // Posters: a light sheet with rows of dark blocks (text), which gives the finder search work to do.
  for (let p = 0; p < 3; p++) {
    const w = width * (0.1 + random() * 0.12);
    const h = w * (1.2 + random() * 0.3);
    const x0 = random() * (width - w);
    const y0 = random() * (height - h);
    const paper = 180 + random() * 50;
    const ink = 20 + random() * 50;
    const glyph = Math.max(2, Math.round(w / (18 + random() * 20)));
    const blocks = new Uint8Array(Math.ceil(w / glyph) * Math.ceil(h / glyph));
    for (let i = 0; i < blocks.length; i++) blocks[i] = random() < 0.45 ? 1 : 0;
    const cols = Math.ceil(w / glyph);
    fill(x0, y0, w, h, (x, y) => {
      const lx = x - x0;
      const ly = y - y0;
      const row = Math.floor(ly / glyph);
      if (lx < glyph || lx > w - glyph || ly < glyph || ly > h - glyph || row % 3 === 2) return paper;
      return blocks[row * cols + Math.floor(lx / glyph)] === 1 ? ink : paper;
    });
  }
  return out;
}

function gaussianBlur(src: Float32Array, width: number, height: number, sigma: number): Float32Array {
  if (sigma <= 0) return src;
  const radius = Math.ceil(sigma * 3);
  const kernel = Float32Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const sum = kernel.reduce((a, b) => a + b, 0);
  for (let i = 0; i < kernel.length; i++) kernel[i]! /= sum;
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  // Rows: through a copy of the row with its edge pixels repeated, so the inner loop needs no clamping.
  const padded = new Float32Array(width + 2 * radius);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    padded.set(src.subarray(row, row + width), radius);
    padded.fill(src[row]!, 0, radius);
    padded.fill(src[row + width - 1]!, radius + width);
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = 0; k < kernel.length; k++) acc += padded[x + k]! * kernel[k]!;
      tmp[row + x] = acc;
    }
  }
  // Columns: whole rows at a time, clamping only the row index.
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let k = 0; k < kernel.length; k++) {
      const from = Math.min(height - 1, Math.max(0, y + k - radius)) * width;
      const weight = kernel[k]!;
      for (let x = 0; x < width; x++) out[row + x]! += tmp[from + x]! * weight;
    }
  }
  return out;
}

/** Normal deviates drawn once from a fixed seed; frames pick from them (cheaper than Box-Muller per pixel). */
const NORMALS = (() => {
  const random = rng(0x9e3779b9);
  return Float32Array.from({ length: 1 << 16 }, () => gaussian(random));
})();

export interface SceneOptions {
  width: number;
  height: number;
  seed: number;
  /** The phone and its code; none for an empty scene. */
  code?: { text: string; pose: Pose };
  look?: Partial<Look>;
}

/** Quiet zone and screen around the code, and the bezel around the screen, in modules. */
const SCREEN = { left: 3, right: 3, top: 7, bottom: 11 };
const BEZEL = 1.6;
const BEZEL_GREY = 28;
/** Samples per pixel along each axis when drawing the phone (anti-aliased edges, as a lens gives). */
const SUPERSAMPLE = 3;

/** Renders one frame. The same options give the same bytes. */
export function renderScene(options: SceneOptions): GrayFrame {
  const { width, height } = options;
  const look: Look = { ...DEFAULT_LOOK, ...options.look };
  const random = rng(options.seed);
  let image = background(width, height, random);
  if (options.code !== undefined) {
    const { size, modules } = qrMatrix(options.code.text);
    const focal = width * 0.95; // about a 56° horizontal field of view
    const to = codeCorners(options.code.pose, size, focal);
    const toImage = homography([[0, 0], [size, 0], [size, size], [0, size]], to);
    const toCode = invert3(toImage);
    // The phone's outline in the image bounds the pixels to visit.
    const outline: Point[] = [
      [-SCREEN.left - BEZEL, -SCREEN.top - BEZEL],
      [size + SCREEN.right + BEZEL, -SCREEN.top - BEZEL],
      [size + SCREEN.right + BEZEL, size + SCREEN.bottom + BEZEL],
      [-SCREEN.left - BEZEL, size + SCREEN.bottom + BEZEL],
    ].map(([u, v]) => {
      const w = toImage[6]! * u! + toImage[7]! * v! + toImage[8]!;
      return [(toImage[0]! * u! + toImage[1]! * v! + toImage[2]!) / w, (toImage[3]! * u! + toImage[4]! * v! + toImage[5]!) / w] as Point;
    });
    const xs = outline.map((p) => p[0]);
    const ys = outline.map((p) => p[1]);
    const x0 = Math.max(0, Math.floor(Math.min(...xs)));
    const x1 = Math.min(width - 1, Math.ceil(Math.max(...xs)));
    const y0 = Math.max(0, Math.floor(Math.min(...ys)));
    const y1 = Math.min(height - 1, Math.ceil(Math.max(...ys)));
    const [a, b, c, d, e, f, g, h, i] = toCode as [number, number, number, number, number, number, number, number, number];
    const moduleGrey = look.inverted ? look.light : look.dark;
    const screenGrey = look.inverted ? look.dark : look.light;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        let acc = 0;
        let phone = 0;
        for (let sy = 0; sy < SUPERSAMPLE; sy++) {
          for (let sx = 0; sx < SUPERSAMPLE; sx++) {
            const px = x + (sx + 0.5) / SUPERSAMPLE;
            const py = y + (sy + 0.5) / SUPERSAMPLE;
            const w = g * px + h * py + i;
            const u = (a * px + b * py + c) / w;
            const v = (d * px + e * py + f) / w;
            if (u < -SCREEN.left - BEZEL || u >= size + SCREEN.right + BEZEL || v < -SCREEN.top - BEZEL || v >= size + SCREEN.bottom + BEZEL) continue;
            phone++;
            if (u < -SCREEN.left || u >= size + SCREEN.right || v < -SCREEN.top || v >= size + SCREEN.bottom) acc += BEZEL_GREY;
            else if (u >= 0 && u < size && v >= 0 && v < size && modules[Math.floor(v) * size + Math.floor(u)] === 1) acc += moduleGrey;
            else acc += screenGrey;
          }
        }
        if (phone === 0) continue;
        const n = SUPERSAMPLE * SUPERSAMPLE;
        const k = y * width + x;
        image[k] = (acc + image[k]! * (n - phone)) / n;
      }
    }
    if (look.glare !== undefined) {
      const { u, v, radiusModules, amplitude } = look.glare;
      const w = toImage[6]! * u + toImage[7]! * v + toImage[8]!;
      const gx = (toImage[0]! * u + toImage[1]! * v + toImage[2]!) / w;
      const gy = (toImage[3]! * u + toImage[4]! * v + toImage[5]!) / w;
      const radius = radiusModules * options.code.pose.modulePx;
      const reach = radius * 3;
      for (let y = Math.max(0, Math.floor(gy - reach)); y < Math.min(height, Math.ceil(gy + reach)); y++) {
        for (let x = Math.max(0, Math.floor(gx - reach)); x < Math.min(width, Math.ceil(gx + reach)); x++) {
          const r2 = (x - gx) ** 2 + (y - gy) ** 2;
          image[y * width + x]! += amplitude * Math.exp(-r2 / (2 * radius * radius));
        }
      }
    }
  }
  image = gaussianBlur(image, width, height, look.blurSigma);
  const data = new Uint8Array(width * height);
  const sigma = look.noiseSigma;
  // An xorshift stream seeded from the frame's own generator picks the deviates.
  let state = (Math.floor(random() * 0xffffffff) | 1) >>> 0;
  for (let k = 0; k < data.length; k++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const value = image[k]! + NORMALS[(state >>> 0) & 0xffff]! * sigma;
    data[k] = value < 0 ? 0 : value > 255 ? 255 : Math.round(value);
  }
  return { width, height, data };
}

/** A phone held up facing the camera near the middle of the frame, a little turned, at arm's length. */
export function heldPose(width: number, height: number, random: () => number): Pose {
  // 5.4 px per module at 640x480 (a 33-module code with its quiet zone is about 200 px, as in
  // test/support/qrVideo.ts); the same phone at the same distance in a wider frame scales with its height.
  const modulePx = 5.4 * (height / 480) * (0.9 + random() * 0.2);
  return {
    cx: width * (0.5 + (random() - 0.5) * 0.3),
    cy: height * (0.5 + (random() - 0.5) * 0.25),
    modulePx,
    rollDeg: (random() - 0.5) * 16,
    yawDeg: (random() - 0.5) * 10,
    pitchDeg: (random() - 0.5) * 10,
  };
}
