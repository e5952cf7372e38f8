/** Types of qrCanvas.js, for the TypeScript tests that import it. */
export declare const QUIET_ZONE: 4;
export declare function exactBacking(pixels: number, dpr: number): number;
export declare function qrLayout(modules: number, cssSide: number, dpr: number): { scale: number; backing: number };
export declare function qrModules(text: string): { size: number; get(row: number, col: number): number };
export declare function drawQr(
  canvas: unknown,
  matrix: { size: number; get(row: number, col: number): number },
  layout: { scale: number; width: number; height: number; dpr: number; keepCssSize?: boolean },
): void;
