/**
 * The distorted image set of the decode benchmark: for each kind, images at a few strengths,
 * cycled, each with its own pose, scene and code text. Everything comes from seeds, so every run
 * decodes the same pixels.
 */
import { heldPose, renderScene, rng, type GrayFrame, type Look, type Pose } from './qrScene.ts';

export const DISTORTION_KINDS = ['clean', 'rotation', 'perspective', 'blur', 'noise', 'low-contrast', 'glare', 'inverted'] as const;
export type DistortionKind = (typeof DISTORTION_KINDS)[number];

export interface DistortedImage {
  kind: DistortionKind;
  /** The strength, in words: "35°", "sigma 2", ... */
  level: string;
  text: string;
  frame: GrayFrame;
}

interface Variant {
  level: string;
  pose?: (pose: Pose, random: () => number) => Pose;
  look?: (random: () => number) => Partial<Look>;
}

const sign = (random: () => number) => (random() < 0.5 ? -1 : 1);

/** The strengths of each kind, cycled over its images. */
const VARIANTS: Record<DistortionKind, Variant[]> = {
  clean: [{ level: 'none' }],
  // Turned in the image plane; the held pose's own small turn is replaced.
  rotation: [15, 30, 35, 40, 45, 135].map((deg) => ({
    level: `${deg}°`,
    pose: (p, r) => ({ ...p, rollDeg: sign(r) * deg + (r() - 0.5) * 4 }),
  })),
  // Tilted away from the camera about the vertical or the horizontal axis: a keystone.
  perspective: [20, 30, 40, 50, 60].map((deg) => ({
    level: `${deg}° tilt`,
    pose: (p, r) => (r() < 0.5 ? { ...p, yawDeg: sign(r) * deg } : { ...p, pitchDeg: sign(r) * deg }),
  })),
  blur: [1, 1.5, 2, 2.5, 3].map((sigma) => ({ level: `sigma ${sigma} px`, look: () => ({ blurSigma: sigma }) })),
  noise: [4, 6, 10, 20, 40].map((sigma) => ({ level: `sigma ${sigma}`, look: () => ({ noiseSigma: sigma }) })),
  // Dark modules only `difference` grey levels below the screen: a dim screen, a washed-out image.
  'low-contrast': [50, 40, 30, 25, 20].map((difference) => ({
    level: `${difference} levels`,
    look: (r) => {
      const light = 70 + r() * 120;
      return { light, dark: light - difference };
    },
  })),
  // A bright reflection on the screen, clipped at white, somewhere on the code.
  glare: [0.1, 0.15, 0.2, 0.25, 0.35].map((fraction) => ({
    level: `radius ${Math.round(fraction * 100)} % of code`,
    look: (r) => ({ glare: { u: 33 * (0.2 + r() * 0.6), v: 33 * (0.2 + r() * 0.6), radiusModules: 33 * fraction, amplitude: 230 } }),
  })),
  // A phone in dark mode: light modules on a near-black screen (the bezel is as dark), from a
  // bright white code to a dimmed grey one; otherwise held as the clean images are.
  inverted: [
    [230, 20],
    [215, 35],
    [190, 30],
    [160, 40],
    [130, 45],
  ].map(([light, dark]) => ({ level: `${light} on ${dark}`, look: () => ({ inverted: true, light, dark }) })),
};

export function levelsOf(kind: DistortionKind): string[] {
  return VARIANTS[kind].map((v) => v.level);
}

/** `perKind` images of each kind, at `width`x`height`, with texts from `textOf(n)`. */
export function distortedImages(width: number, height: number, perKind: number, textOf: (n: number) => string, seed = 1): DistortedImage[] {
  const images: DistortedImage[] = [];
  let n = 0;
  DISTORTION_KINDS.forEach((kind, k) => {
    const variants = VARIANTS[kind];
    for (let i = 0; i < perKind; i++) {
      const variant = variants[i % variants.length]!;
      const imageSeed = seed * 1_000_003 + k * 10_007 + i;
      const random = rng(imageSeed ^ 0x5bd1e995);
      const held = heldPose(width, height, random);
      const pose = variant.pose?.(held, random) ?? held;
      const look = variant.look?.(random) ?? {};
      const text = textOf(n++);
      images.push({ kind, level: variant.level, text, frame: renderScene({ width, height, seed: imageSeed, code: { text, pose }, look }) });
    }
  });
  return images;
}
