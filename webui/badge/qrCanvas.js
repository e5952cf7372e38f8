/**
 * Draws the badge's QR on a canvas so that a phone's screen shows it sharp and whole: every module
 * is the same whole number of device pixels, and the canvas's CSS size is set here from its
 * backing size, so the QR never outgrows the space it is given (qrcode's toCanvas sets an inline
 * CSS width equal to the backing width, which at a device pixel ratio of 3 made a 390 px wide
 * phone show a QR three times too wide, cut off on both sides).
 */
import QRCode from 'qrcode';

/** Modules of white around the code: what the QR standard asks, and what phone scanners need. */
export const QUIET_ZONE = 4;

/** How far exactBacking looks for a whole CSS size, in device pixels. */
const SEARCH = 64;

/**
 * The smallest backing size from `pixels` up whose CSS size at `dpr` is a whole number of CSS
 * pixels, so that the browser paints the canvas one backing pixel per device pixel: a multiple of
 * 2 at ratio 2, of 3 at ratio 3, of 21 at 2.625. Chromium, asked for 697 device pixels at ratio 2
 * (348.5 CSS px), painted them on 698, one column of modules a pixel wider than the rest. `pixels`
 * itself when no whole size is near (a zoom of 110 %): the page then corrects the backing size from
 * the device pixels the browser reports.
 */
export function exactBacking(pixels, dpr) {
  for (let backing = pixels; backing < pixels + SEARCH; backing++) {
    const css = backing / dpr;
    if (Math.abs(css - Math.round(css)) < 1e-6) return backing;
  }
  return pixels;
}

/**
 * How to draw a code of `modules` modules in a square of `cssSide` CSS pixels at `dpr` device
 * pixels per CSS pixel: `scale`, the largest whole number of device pixels per module with which
 * the code and its quiet zone fit, at least 1; and `backing`, the canvas's side in device pixels.
 */
export function qrLayout(modules, cssSide, dpr) {
  const total = modules + 2 * QUIET_ZONE;
  const room = Math.floor(cssSide * dpr + 1e-6);
  let scale = Math.max(1, Math.floor(room / total));
  let backing = exactBacking(total * scale, dpr);
  while (scale > 1 && backing > room) {
    scale--;
    backing = exactBacking(total * scale, dpr);
  }
  return { scale, backing };
}

/** The modules of `text` as the badge shows it: error correction M, as the kiosk and scanners expect. */
export function qrModules(text) {
  return QRCode.create(text, { errorCorrectionLevel: 'M' }).modules;
}

/**
 * Draws `matrix` (qrModules) on `canvas`: `scale` device pixels per module, in the middle of a
 * white canvas of `width` x `height` backing pixels (square but for the device pixel the browser
 * may add), whose CSS size is the backing size over `dpr` unless `keepCssSize`. The canvas's data
 * attributes say how, for the tests: modules, scale, dpr, and where the first module starts, in
 * backing pixels from the top left corner.
 */
export function drawQr(canvas, matrix, { scale, width, height, dpr, keepCssSize = false }) {
  const modules = matrix.size;
  // Assigning the backing size clears the canvas, even to the same value: the whole code is drawn below.
  canvas.width = width;
  canvas.height = height;
  if (!keepCssSize) {
    canvas.style.width = `${width / dpr}px`;
    canvas.style.height = `${height / dpr}px`;
  }
  const left = Math.floor((width - modules * scale) / 2);
  const top = Math.floor((height - modules * scale) / 2);
  const context = canvas.getContext('2d', { alpha: false });
  context.fillStyle = '#ffffff';
  context.fillRect(0, 0, width, height);
  context.fillStyle = '#000000';
  for (let row = 0; row < modules; row++) {
    for (let col = 0; col < modules; col++) {
      if (matrix.get(row, col)) context.fillRect(left + col * scale, top + row * scale, scale, scale);
    }
  }
  Object.assign(canvas.dataset, { modules: String(modules), scale: String(scale), dpr: String(dpr), left: String(left), top: String(top) });
}
