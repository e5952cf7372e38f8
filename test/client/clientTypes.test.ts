/**
 * The client's types are the method table's: controller/client/methodParams.ts is what
 * clientTypes.ts makes of the current schemas. The compiler checks the uses below (tsc --noEmit).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { PosternClient } from '../../controller/client/client.ts';
import { METHOD_PARAMS_FILE, methodParamsSource } from './clientTypes.ts';
import { fullDocument } from './fullMethodTable.ts';

describe('the client types', () => {
  it('are up to date with the method table (else: npx tsx test/client/clientTypes.ts)', async () => {
    expect(readFileSync(METHOD_PARAMS_FILE, 'utf8')).toBe(methodParamsSource(await fullDocument()));
  });
});

// Never run: only compiled, so that a method name or a parameter type the schemas refuse fails tsc.
export async function typeChecks(client: PosternClient): Promise<void> {
  await client.call('doors.list');
  await client.call('doors.unlock', { door: 'front', seconds: 3 });
  await client.call('audit.query', { afterSeq: 4, order: 'desc' });
  await client.call('subscribe', { topics: ['audit'], after: 12 });
  // @ts-expect-error no such method
  await client.call('doors.open', { door: 'front' });
  // @ts-expect-error door is required
  await client.call('doors.get', {});
  // @ts-expect-error door is required, so params are too
  await client.call('doors.get');
  // @ts-expect-error seconds is a number
  await client.call('doors.unlock', { door: 'front', seconds: '3' });
  // @ts-expect-error not a topic
  await client.call('subscribe', { topics: ['doors'] });
  // @ts-expect-error unknown parameter
  await client.call('doors.lock', { door: 'front', seconds: 3 });
}
