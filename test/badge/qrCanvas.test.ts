/**
 * The badge's QR layout (webui/badge/qrCanvas.js): a whole number of device pixels per module, the
 * largest that fits with the quiet zone, on a canvas whose CSS size is a whole number of CSS
 * pixels, so that the browser paints it one canvas pixel per device pixel.
 */
import { describe, expect, it } from 'vitest';
import { exactBacking, QUIET_ZONE, qrLayout } from '../../webui/badge/qrCanvas.js';

const wholeCss = (backing: number, dpr: number) => Number.isInteger(Math.round((backing / dpr) * 1e6) / 1e6);

describe('the badge QR layout', () => {
  it('picks backing sizes whose CSS size is whole', () => {
    expect(exactBacking(1025, 1)).toBe(1025);
    expect(exactBacking(1025, 2)).toBe(1026);
    expect(exactBacking(1025, 3)).toBe(1026);
    expect(exactBacking(1025, 2.625)).toBe(1029); // a multiple of 21: a multiple of 8 CSS px
    expect(exactBacking(1000, 2.75)).toBe(1001); // a multiple of 11
    for (const dpr of [1, 1.5, 2, 2.625, 2.75, 3, 3.5, 4]) {
      for (let pixels = 41; pixels < 2000; pixels += 41) {
        const backing = exactBacking(pixels, dpr);
        expect(backing).toBeGreaterThanOrEqual(pixels);
        expect(wholeCss(backing, dpr)).toBe(true);
      }
    }
  });

  it('keeps the size asked for when no whole size is near (a zoom of 110 %)', () => {
    expect(exactBacking(1025, 1.100000023841858)).toBe(1025);
  });

  it('takes the largest whole scale that fits, quiet zone included', () => {
    const total = 33 + 2 * QUIET_ZONE;
    for (const dpr of [1, 1.5, 2, 2.625, 2.75, 3]) {
      for (let side = 60; side <= 500; side += 7.25) {
        const { scale, backing } = qrLayout(33, side, dpr);
        const room = Math.floor(side * dpr + 1e-6);
        expect(Number.isInteger(scale)).toBe(true);
        expect(backing).toBeGreaterThanOrEqual(total * scale);
        if (room >= total) {
          expect(backing).toBeLessThanOrEqual(room);
          expect(exactBacking(total * (scale + 1), dpr)).toBeGreaterThan(room);
        }
      }
    }
    expect(qrLayout(33, 342, 3)).toEqual({ scale: 25, backing: 1026 });
    expect(qrLayout(33, 342, 1)).toEqual({ scale: 8, backing: 328 });
    expect(qrLayout(33, 364, 2)).toEqual({ scale: 17, backing: 698 });
    // Too small a space: one device pixel per module all the same, the frame's overflow hides the rest.
    expect(qrLayout(33, 20, 1)).toEqual({ scale: 1, backing: 41 });
  });
});
