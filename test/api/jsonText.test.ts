import { describe, expect, it } from 'vitest';
import { batchText, JsonText, responseText } from '../../controller/api/jsonText.ts';
import type { JsonRpcResponse } from '../../controller/api/jsonRpc.ts';

const page = { events: [{ seq: 1, door: 'front "main"', holder: 'Zoë\n' }], next: { afterSeq: 1 } };

describe('JsonText: an answer that is already JSON', () => {
  it('goes into a JSON-RPC response as it is, under any id', () => {
    for (const id of [7, 'a "quoted" id', null]) {
      const text = responseText({ jsonrpc: '2.0', id, result: new JsonText(JSON.stringify(page)) });
      expect(text).toBe(JSON.stringify({ jsonrpc: '2.0', id, result: page }));
    }
  });

  it('leaves every other response to JSON.stringify', () => {
    const response: JsonRpcResponse = { jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'bad' } };
    expect(responseText(response)).toBe(JSON.stringify(response));
    expect(responseText({ jsonrpc: '2.0', id: 2, result: page })).toBe(JSON.stringify({ jsonrpc: '2.0', id: 2, result: page }));
  });

  it('makes a batch one array, in order, mixing text answers, objects and errors', () => {
    const responses: JsonRpcResponse[] = [
      { jsonrpc: '2.0', id: 1, result: new JsonText(JSON.stringify(page)) },
      { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'method not found: x' } },
      { jsonrpc: '2.0', id: 3, result: { ok: true } },
    ];
    expect(JSON.parse(batchText(responses))).toEqual([
      { jsonrpc: '2.0', id: 1, result: page },
      { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'method not found: x' } },
      { jsonrpc: '2.0', id: 3, result: { ok: true } },
    ]);
  });

  it('is the value it stands for to any other serializer (socket.io, MQTT)', () => {
    expect(JSON.parse(JSON.stringify({ result: new JsonText(JSON.stringify(page)) }))).toEqual({ result: page });
  });
});
