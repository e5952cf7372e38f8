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
  const answer = (response: Omit<DecodeResponse, 'id' | 'data'>) => port.postMessage({ id: request.id, ...response, data: request.data } satisfies DecodeResponse, [request.data]);
  decoding.then(
    (texts) => answer({ texts, decodeMs: performance.now() - started }),
    (error: unknown) => answer({ texts: [], decodeMs: performance.now() - started, error: (error as Error).message ?? String(error) }),
  );
});

prepareQrReader().then(
  () => port.postMessage({ ready: true }),
  (error: unknown) => port.postMessage({ ready: false, error: (error as Error).message }),
);
