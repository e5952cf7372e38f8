import path from 'node:path';
import QRCode from 'qrcode';
import { makePrivateDir, writePrivateFile } from '../secureFiles.ts';

/** Error correction M: a 67-character code then fits QR version 4, easy for a webcam at a door. */
const QR_OPTIONS = { errorCorrectionLevel: 'M' as const, margin: 4 };

export async function qrForTerminal(code: string): Promise<string> {
  return QRCode.toString(code, { ...QR_OPTIONS, type: 'terminal', small: true });
}

/** The QR code as a PNG image, for an email or a download. */
export async function qrPng(code: string): Promise<Buffer> {
  return QRCode.toBuffer(code, { ...QR_OPTIONS, type: 'png', scale: 8 });
}

/**
 * Writes <dir>/<base>.png and <dir>/<base>.svg; returns their paths. The code opens doors, so both
 * files are the owner's alone (0600 from their first byte) and a missing folder is made 0700.
 * Throws what the file system throws.
 */
export async function writeQrFiles(code: string, dir: string, base: string): Promise<{ png: string; svg: string }> {
  await makePrivateDir(dir);
  const png = path.join(dir, `${base}.png`);
  const svg = path.join(dir, `${base}.svg`);
  await writePrivateFile(png, await qrPng(code));
  await writePrivateFile(svg, await QRCode.toString(code, { ...QR_OPTIONS, type: 'svg' }));
  return { png, svg };
}
