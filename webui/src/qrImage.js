/**
 * A code as a QR on an operator's screen (an access link's code, a badge's enrolment link), drawn
 * as the badge page draws its codes (webui/badge/qrCanvas.js): whole device pixels per module at
 * any pixel ratio, with its quiet zone. `side`: its CSS pixels; `label`: what a screen reader says.
 */
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import { drawQr, qrLayout, qrModules } from '../badge/qrCanvas.js';

export function QrImage({ text, side, label }) {
  const canvas = useRef(null);
  useEffect(() => {
    const matrix = qrModules(text);
    const dpr = window.devicePixelRatio || 1;
    const { scale, backing } = qrLayout(matrix.size, side, dpr);
    drawQr(canvas.current, matrix, { scale, width: backing, height: backing, dpr });
  }, [text, side]);
  return html`<div class="qr"><canvas ref=${canvas} role="img" aria-label=${label} data-code=${text}></canvas></div>`;
}
