/**
 * Writes controller/client/methodParams.ts, the client's types, from the OpenRPC document of the
 * full method table: the parameter types are the zod schemas' input types, by way of their JSON
 * Schema. clientTypes.test.ts fails while the file is out of date; run this to bring it up:
 *
 *   npx tsx test/client/clientTypes.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OpenRpcDocument } from '../../controller/api/openRpc.ts';
import { fullDocument } from './fullMethodTable.ts';

export const METHOD_PARAMS_FILE = fileURLToPath(new URL('../../controller/client/methodParams.ts', import.meta.url));

type JsonSchema = Record<string, unknown>;

/** The TypeScript type of the JSON Schemas zod makes (the subset its toJSONSchema emits). */
function typeOf(schema: JsonSchema): string {
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as JsonSchema[]).map((s) => wrap(typeOf(s))).join(' | ');
  switch (schema.type) {
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return `Array<${typeOf((schema.items ?? {}) as JsonSchema)}>`;
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set((schema.required ?? []) as string[]);
      const fields = Object.entries(properties).map(([name, s]) => `${JSON.stringify(name)}${required.has(name) ? '' : '?'}: ${typeOf(s)}`);
      return fields.length === 0 ? 'Record<string, never>' : `{ ${fields.join('; ')} }`;
    }
    default:
      return 'unknown';
  }
}

const wrap = (type: string) => (type.includes('|') ? `(${type})` : type);

export function methodParamsSource(document: OpenRpcDocument): string {
  const lines = [
    '// The API\'s methods and their parameters, made from the method table\'s zod schemas (their input',
    '// types, by way of rpc.discover\'s JSON Schema) by test/client/clientTypes.ts. Do not edit: run',
    '// `npx tsx test/client/clientTypes.ts` after a method or a parameter changes.',
    '',
    '/** Each method\'s parameters, by name. */',
    'export interface PosternMethodParams {',
  ];
  for (const m of document.methods) {
    const fields = m.params.map((p) => `${JSON.stringify(p.name)}${p.required ? '' : '?'}: ${typeOf(p.schema)}`);
    lines.push(`  ${JSON.stringify(m.name)}: ${fields.length === 0 ? 'Record<string, never>' : `{ ${fields.join('; ')} }`};`);
  }
  lines.push('}', '', 'export type PosternMethod = keyof PosternMethodParams;', '');
  lines.push(
    '/**',
    ' * Each method\'s least role, and whether it takes an idempotency key: what the client needs to',
    ' * know whether a call may be sent again after a dropped connection, when the controller does',
    ' * not answer rpc.discover (a scanner token may not call it).',
    ' */',
    'export const METHOD_INFO: Readonly<Record<string, { role: string; idempotencyKey: boolean }>> = {',
  );
  for (const m of document.methods) {
    lines.push(`  ${JSON.stringify(m.name)}: { role: ${JSON.stringify(m['x-postern-role'])}, idempotencyKey: ${m.params.some((p) => p.name === 'idempotencyKey')} },`);
  }
  lines.push('};', '');
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(METHOD_PARAMS_FILE, methodParamsSource(await fullDocument()));
  console.log(`wrote ${METHOD_PARAMS_FILE}`);
}
