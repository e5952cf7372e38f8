/**
 * Holders by name: the site's links and rotating credentials as people see them. A list's search,
 * the names an audit event's subjects belong to, and the subjects whose name holds a text (the
 * audit trail's "holder" filter). Written once for both dialects.
 */
import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';

import type { Database } from './schema.ts';

/** The LIKE pattern for "contains `text`", with LIKE's own wildcards taken literally. */
function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * A list's `search`: the name contains the text in any letter case, or the id is the text; for
 * links, also the email address contains it.
 */
export function searchCondition(search: string, withEmail: boolean): Expression<SqlBool> {
  const pattern = containsPattern(search);
  const byName = sql<SqlBool>`lower(name) like ${pattern} escape '\\'`;
  const byEmail = withEmail ? sql<SqlBool>` or lower(email) like ${pattern} escape '\\'` : sql``;
  const byId = /^\d{1,20}$/.test(search) ? sql<SqlBool>` or id = ${search}` : sql``;
  return sql<SqlBool>`(${byName}${byEmail}${byId})`;
}

/** The names of those of `ids` that are the site's links or credentials, by id. */
export async function holderNames(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  if (ids.length === 0) return names;
  const unique = [...new Set(ids)];
  const rows = await db
    .selectFrom('links')
    .select(['id', 'name'])
    .where('id', 'in', unique)
    .unionAll(db.selectFrom('credentials').select(['id', 'name']).where('id', 'in', unique))
    .execute();
  for (const row of rows) names.set(row.id, row.name);
  return names;
}

/** Ids of the site's links and credentials whose name contains `text`, at most `limit`. */
export async function holderSubjects(db: Kysely<Database>, text: string, limit: number): Promise<string[]> {
  const pattern = containsPattern(text);
  const rows = await db
    .selectFrom('links')
    .select('id')
    .where(sql<SqlBool>`lower(name) like ${pattern} escape '\\'`)
    .unionAll(db.selectFrom('credentials').select('id').where(sql<SqlBool>`lower(name) like ${pattern} escape '\\'`))
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}
