/**
 * A method's answer that is already JSON text. A large answer made piece by piece (audit.query's
 * pages of up to 1,000 events) is kept as the text of its pieces instead of as objects: the
 * JSON-RPC connection puts the text into its response as it is (responseText), so the answer is
 * never serialized a second time in one long turn of the event loop (about 2 ms for 1,000 events,
 * while scans wait). Every other serializer (the web UI's socket.io, the MQTT bridge, a cache) sees
 * the value it stands for, through toJSON.
 */
import type { JsonRpcResponse } from './jsonRpc.ts';

export class JsonText {
  /** `text` must be one JSON value: its makers build it from JSON.stringify's output. */
  constructor(readonly text: string) {}

  toJSON(): unknown {
    return JSON.parse(this.text) as unknown;
  }
}

/** A JSON-RPC response as text, with a JsonText result put in as it is. */
export function responseText(response: JsonRpcResponse): string {
  if (!('result' in response) || !(response.result instanceof JsonText)) return JSON.stringify(response);
  return `{"jsonrpc":"2.0","id":${JSON.stringify(response.id)},"result":${response.result.text}}`;
}

/** A batch's responses as one JSON array. */
export function batchText(responses: readonly JsonRpcResponse[]): string {
  return `[${responses.map(responseText).join(',')}]`;
}
