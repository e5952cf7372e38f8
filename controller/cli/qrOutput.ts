import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import QRCode from 'qrcode';

/** Error correction M: a 67-character code then fits QR version 4, easy for a webcam at a door. */
const QR_OPTIONS = { errorCorrectionLevel: 'M' as const, margin: 4 };

export async function qrForTerminal(code: string): Promise<string> {
  return QRCode.toString(code, { ...QR_OPTIONS, type: 'terminal', small: true });
}

/** The QR code as a PNG image, for an email or a download. */
export async function qrPng(code: string): Promise<Buffer> {
  return QRCode.toBuffer(code, { ...QR_OPTIONS, type: 'png', scale: 8 });
}

/** Writes <dir>/<base>.png and <dir>/<base>.svg; returns their paths. */
export async function writeQrFiles(code: string, dir: string, base: string): Promise<{ png: string; svg: string }> {
  await mkdir(dir, { recursive: true });
  const png = path.join(dir, `${base}.png`);
  const svg = path.join(dir, `${base}.svg`);
  await QRCode.toFile(png, code, { ...QR_OPTIONS, type: 'png', scale: 8 });
  await writeFile(svg, await QRCode.toString(code, { ...QR_OPTIONS, type: 'svg' }));
  return { png, svg };
}
