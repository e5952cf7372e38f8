/** Settings, door sets and door modes: the queries behind KyselyStore. */
import type { Kysely } from 'kysely';

import type { Database } from './schema.ts';
import type { DoorMode, DoorSet } from './storeTypes.ts';

export async function getSetting(db: Kysely<Database>, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

export async function setSettingIfAbsent(db: Kysely<Database>, key: string, value: string): Promise<string> {
  await db
    .insertInto('settings')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
  return row.value;
}

export async function putSetting(db: Kysely<Database>, key: string, value: string): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
    .execute();
}

/** `key` is the sorted, comma-joined door ids. */
export async function doorSetScope(db: Kysely<Database>, key: string): Promise<number> {
  // Look first: an INSERT that meets a conflict still uses up an id of the sequence.
  const existing = await db.selectFrom('door_sets').select('id').where('doors', '=', key).executeTakeFirst();
  if (existing !== undefined) return Number(existing.id);
  const inserted = await db
    .insertInto('door_sets')
    .values({ doors: key })
    .onConflict((oc) => oc.column('doors').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted !== undefined) return Number(inserted.id);
  // Another writer made the same set between our read and our insert.
  const row = await db.selectFrom('door_sets').select('id').where('doors', '=', key).executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function listDoorSets(db: Kysely<Database>): Promise<DoorSet[]> {
  const rows = await db.selectFrom('door_sets').select(['id', 'doors']).orderBy('id').execute();
  return rows.map((row) => ({ id: Number(row.id), doors: row.doors.split(',') }));
}

export async function setDoorMode(db: Kysely<Database>, door: string, mode: DoorMode): Promise<void> {
  await db
    .insertInto('door_modes')
    .values({ door, mode })
    .onConflict((oc) => oc.column('door').doUpdateSet((eb) => ({ mode: eb.ref('excluded.mode') })))
    .execute();
}

export async function getDoorModes(db: Kysely<Database>): Promise<Record<string, DoorMode>> {
  const rows = await db.selectFrom('door_modes').select(['door', 'mode']).orderBy('door').execute();
  const modes: Record<string, DoorMode> = {};
  for (const row of rows) modes[row.door] = row.mode as DoorMode;
  return modes;
}
