/** Messages between the decoder pool and its worker threads. */
export type DecodeRequest =
  | { id: number; kind: 'gray'; width: number; height: number; data: ArrayBuffer }
  /** An encoded image (JPEG, PNG): zxing-wasm decodes the file itself. */
  | { id: number; kind: 'image'; data: ArrayBuffer };

export interface DecodeResponse {
  id: number;
  texts: string[];
  decodeMs: number;
  /** Why the frame could not be decoded (not an image, wrong size): a bad frame, not a worker fault. */
  error?: string;
}

/** The first message of a worker: its .wasm compiled, or why not. */
export interface WorkerReady {
  ready: boolean;
  error?: string;
}
