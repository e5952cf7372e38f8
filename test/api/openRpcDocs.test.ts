/**
 * rpc.discover's OpenRPC document, and docs/api.md held to it: every method has its `#### name`
 * section with the right role and parameters, every documented method exists, and every error and
 * close code the document lists is explained. A method, parameter or role changed in the code
 * without the reference fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenRpcDocument } from '../../controller/api/openRpc.ts';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { fullDocument } from '../client/fullMethodTable.ts';

const API_DIR = fileURLToPath(new URL('../../controller/api/', import.meta.url));
const API_MD = readFileSync(fileURLToPath(new URL('../../docs/api.md', import.meta.url)), 'utf8');

interface Section {
  names: string[];
  text: string;
  role: string | undefined;
  /** The parameter table's first column, or undefined when the section has no table. */
  table: string[] | undefined;
}

/** The `#### ...` sections between `## Methods` and the next `## ` heading. */
function methodSections(markdown: string): Section[] {
  const start = markdown.indexOf('\n## Methods\n');
  const end = markdown.indexOf('\n## ', start + 1);
  const body = markdown.slice(start, end);
  return body
    .split(/\n#### /)
    .slice(1)
    .map((chunk) => {
      const [heading, ...rest] = chunk.split('\n');
      // The section ends at the next group heading (### Doors) too.
      const text = rest.join('\n').split(/\n### /)[0]!;
      const names = heading!.split(',').map((n) => n.trim());
      const role = /^Role: (\w+)/m.exec(text)?.[1];
      const tableAt = text.search(/^\| parameter \|/m);
      return { names, text, role, table: tableAt < 0 ? undefined : tableUntilGap(text.slice(tableAt)) };
    });
}

/** The rows of the first table only: it ends at the first line that is not a table row. */
function tableUntilGap(fromTable: string): string[] {
  const rows: string[] = [];
  for (const line of fromTable.split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    rows.push(/^\| `([^`]+)`/.exec(line)?.[1] ?? line);
  }
  return rows;
}

let document: OpenRpcDocument;
const sections = methodSections(API_MD);
const sectionOf = (name: string) => sections.find((s) => s.names.includes(name));

beforeAll(async () => {
  document = await fullDocument();
});

describe('the OpenRPC document', () => {
  it('is OpenRPC 1.3 and describes every method with its parameters and least role, rpc.discover included', () => {
    expect(document.openrpc).toMatch(/^1\.3\./);
    const names = document.methods.map((m) => m.name);
    expect(names).toContain('rpc.discover');
    expect(names).toContain('doors.unlock');
    const unlock = document.methods.find((m) => m.name === 'doors.unlock')!;
    expect(unlock['x-postern-role']).toBe('operator');
    expect(unlock.params).toEqual([
      { name: 'door', required: true, schema: { type: 'string', minLength: 1, maxLength: 64 } },
      { name: 'seconds', required: false, schema: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 5 } },
    ]);
    for (const m of document.methods) expect(m.result.schema, m.name).toEqual({});
    const codes = Object.values(document.components.errors).map((e) => e.code);
    for (const code of [-32700, -32600, -32601, -32602, -32603, -32001, -32002, -32003, -32004, -32005]) expect(codes).toContain(code);
    expect(document['x-postern-close-codes'].map((c) => c.code)).toEqual(expect.arrayContaining([1001, 1002, 1006, 1007, 1008, 1009]));
  });

  it('lists every close code and reason the API closes a connection with', () => {
    const listed = document['x-postern-close-codes'].map((c) => `${c.code} ${c.reason}`);
    const used: string[] = [];
    for (const file of readdirSync(API_DIR).filter((f) => f.endsWith('.ts'))) {
      for (const m of readFileSync(path.join(API_DIR, file), 'utf8').matchAll(/\.close\((\d{4}), '([^']+)'\)/g)) used.push(`${m[1]} ${m[2]}`);
    }
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((u) => !listed.includes(u))).toEqual([]);
  });
});

describe('docs/api.md against the document', () => {
  it('has a section for every method, and no section for a method that does not exist', () => {
    const names = new Set(document.methods.map((m) => m.name));
    expect([...names].filter((n) => sectionOf(n) === undefined), 'methods without a #### section').toEqual([]);
    expect(sections.flatMap((s) => s.names).filter((n) => !names.has(n)), 'sections for unknown methods').toEqual([]);
  });

  it("gives each method's least role", () => {
    const wrong = document.methods
      .map((m) => ({ method: m.name, code: m['x-postern-role'], docs: sectionOf(m.name)?.role }))
      .filter((r) => r.code !== r.docs);
    expect(wrong).toEqual([]);
  });

  it("lists each method's parameters: in its table (both ways), or by name where it has none", () => {
    const wrong: string[] = [];
    for (const m of document.methods) {
      const section = sectionOf(m.name);
      if (section === undefined) continue;
      const params = m.params.map((p) => p.name);
      if (section.table !== undefined) {
        for (const p of params) if (!section.table.includes(p)) wrong.push(`${m.name}: ${p} is not in its table`);
        for (const p of section.table) if (!params.includes(p)) wrong.push(`${m.name}: the table has ${p}, which the method does not take`);
      } else {
        // Named in code, alone or in an object: `name`, `{ webhook, id }`.
        const spans = section.text.split('`').filter((_, i) => i % 2 === 1);
        for (const p of params) if (!spans.some((span) => new RegExp(`\\b${p}\\b`).test(span))) wrong.push(`${m.name}: ${p} is not named`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('names each method in the roles table, in the row of its least role', () => {
    const rows = new Map<string, string[]>();
    const start = API_MD.indexOf('\n## Roles\n');
    const roles = API_MD.slice(start, API_MD.indexOf('\n## ', start + 1));
    for (const line of roles.split('\n').filter((l) => /^\| `\w+` \|/.test(l))) {
      const [, role, , mayCall] = line.split('|').map((c) => c.trim());
      rows.set(role!.replaceAll('`', ''), [...mayCall!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
    }
    const named = (row: string[] | undefined, method: string) => (row ?? []).some((n) => n === method || (n.endsWith('.*') && method.startsWith(n.slice(0, -1))));
    const wrong = document.methods.filter((m) => !named(rows.get(m['x-postern-role']), m.name)).map((m) => `${m.name} (${m['x-postern-role']})`);
    expect(wrong).toEqual([]);
    const names = new Set(document.methods.map((m) => m.name));
    const unknown = [...rows.values()].flat().filter((n) => n.includes('.') && !n.endsWith('.*') && !names.has(n));
    expect(unknown).toEqual([]);
  });

  it('explains every error code and close code', () => {
    const missing: string[] = [];
    for (const e of Object.values(document.components.errors)) {
      if (!API_MD.includes(`\`${e.code}\``)) missing.push(String(e.code));
      if (e.data !== undefined && !API_MD.includes(e.data.code)) missing.push(e.data.code);
    }
    // Close codes in the paragraph that lists them (Limits), where a client looks them up.
    const at = API_MD.indexOf('**Close codes**');
    const closeCodes = API_MD.slice(at, API_MD.indexOf('\n\n', at));
    for (const c of document['x-postern-close-codes']) {
      if (!closeCodes.includes(`\`${c.code}\``)) missing.push(String(c.code));
      if (c.reason !== null && !closeCodes.includes(c.reason)) missing.push(`${c.code} ${c.reason}`);
    }
    expect([...new Set(missing)]).toEqual([]);
  });
});

describe('rpc.discover on a running controller', () => {
  let site: ApiSite;
  beforeAll(async () => {
    site = await startApiSite();
  });
  afterAll(() => site?.stop());

  it("answers a viewer the document of the controller's own methods, itself included", async () => {
    const client = await ApiClient.connect(site.url, site.tokens.viewer);
    try {
      const served = (await client.call('rpc.discover')) as OpenRpcDocument;
      const names = served.methods.map((m) => m.name);
      expect(names).toContain('rpc.discover');
      expect(names).toContain('subscribe');
      // Each one it offers is described as in the full table.
      for (const m of served.methods) expect(m, m.name).toEqual(document.methods.find((d) => d.name === m.name));
      const scanner = await ApiClient.connect(site.url, site.tokens.scanner);
      const refused = await scanner.request('rpc.discover');
      scanner.close();
      expect(refused.error).toMatchObject({ code: -32001, data: { code: 'POSTERN_ERR_FORBIDDEN' } });
    } finally {
      client.close();
    }
  });
});
