/**
 * A decode worker thread: takes frames from the decoder pool and answers with their QR texts and
 * the time the decode took. Decoding here keeps the controller's event loop free however slow a
 * frame is.
 */
import { parentPort } from 'node:worker_threads';
import { decodeGrayFrame, decodeImageFile, prepareQrReader } from './qrReader.ts';
import type { DecodeRequest, DecodeResponse } from './decodeProtocol.ts';

const port = parentPort;
if (port === null) throw new Error('decodeWorker.ts runs as a worker thread');

port.on('message', (request: DecodeRequest) => {
  const started = performance.now();
  const data = new Uint8Array(request.data);
  const decoding = request.kind === 'gray' ? decodeGrayFrame({ width: request.width, height: request.height, data }) : decodeImageFile(data);
  decoding.then(
    (texts) => port.postMessage({ id: request.id, texts, decodeMs: performance.now() - started } satisfies DecodeResponse),
    (error: unknown) => port.postMessage({ id: request.id, texts: [], decodeMs: performance.now() - started, error: (error as Error).message ?? String(error) } satisfies DecodeResponse),
  );
});

prepareQrReader().then(
  () => port.postMessage({ ready: true }),
  (error: unknown) => port.postMessage({ ready: false, error: (error as Error).message }),
);
