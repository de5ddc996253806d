// Sealing a record's sensitive values (DESIGN §1.5 beyond): each record has its own data key,
// wrapped by the current master key and stored beside the sealed values; search reads keyed
// hashes. Services call sealRecord / openRecord / searchHash with the App; nothing else in
// Haven touches a key.
import { createHmac } from 'node:crypto';
import { statSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import { rowsOf, type Db, type Tx } from '../db/client.ts';
import { newDataKey, openValue, sealValue, unwrapDataKey, wrapDataKey, wrappingKeyId, type SealedPlace } from '../security/sealing.ts';
import { KeyFileError, loadKeyRing, loadOrCreateKeyRing, type KeyRing } from './service.ts';

/**
 * The keys a running Haven holds. `path` is the key file (null when the ring was given in
 * memory, as tests do); the ring is read again whenever the file changes, so a rotation run by
 * another process (`haven keys rotate`) is picked up before the next value is sealed.
 */
export interface Keys {
  path: string | null;
  ring: KeyRing;
  stamp: string;
}

export function fileStampOf(path: string): string {
  const s = statSync(path);
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}

/** Loads (or, at a site's first start, creates) the key file. */
export function loadKeys(path: string, now: Date): Keys & { created: boolean } {
  const { ring, created } = loadOrCreateKeyRing(path, now);
  return { path, ring, stamp: fileStampOf(path), created };
}

/** Keys held in memory only (tests and benchmarks that never start a server). */
export function keysInMemory(ring: KeyRing): Keys {
  return { path: null, ring, stamp: '' };
}

/** The ring as the key file now holds it: read again only when the file has changed. */
export function currentRing(keys: Keys): KeyRing {
  if (!keys.path) return keys.ring;
  const stamp = fileStampOf(keys.path);
  if (stamp !== keys.stamp) {
    keys.ring = loadKeyRing(keys.path);
    keys.stamp = stamp;
  }
  return keys.ring;
}

/** What a record's values are sealed as: its wrapped data key, and each column's sealed text. */
export interface SealedRecord<C extends string> {
  dataKey: string;
  values: Record<C, string | null>;
}

function dataKeyPlace(table: string, row: string): SealedPlace {
  return { table, column: 'data_key', row };
}

/** Seals `values` (null stays null) for row `row` of `table` under a new data key. */
export function sealRecord<C extends string>(app: App, table: string, row: string, values: Record<C, string | null>): SealedRecord<C> {
  const dataKey = newDataKey();
  const sealed = {} as Record<C, string | null>;
  for (const column of Object.keys(values) as C[]) {
    const value = values[column];
    sealed[column] = value === null ? null : sealValue(dataKey, value, { table, column, row });
  }
  return { dataKey: wrapDataKey(currentRing(app.keys).current, dataKey, dataKeyPlace(table, row)), values: sealed };
}

/**
 * A new data key for row `row` of `table`, and its wrapped form to store: for records whose
 * values are sealed as they arrive (a document's chunks), not all at once.
 */
export function newRecordKey(app: App, table: string, row: string): { key: Buffer; wrapped: string } {
  const key = newDataKey();
  return { key, wrapped: wrapDataKey(currentRing(app.keys).current, key, dataKeyPlace(table, row)) };
}

/** Unwraps a record's data key, reading the key file again if another process rotated it. */
export function openDataKey(app: App, table: string, row: string, wrapped: string): Buffer {
  let ring = app.keys.ring;
  if (!ring.masters.has(wrappingKeyId(wrapped))) ring = currentRing(app.keys);
  return unwrapDataKey(ring.masters, wrapped, dataKeyPlace(table, row));
}

/** Opens the sealed values of one record (null stays null); throws SealingError if any is not this row's. */
export function openRecord<C extends string>(app: App, table: string, row: string, dataKey: string, sealed: Record<C, string | null>): Record<C, string | null> {
  const values = {} as Record<C, string | null>;
  // Nothing sealed (a client who gave no date of birth or SSN): nothing to unwrap.
  if (Object.values(sealed).every((v) => v === null)) {
    for (const column of Object.keys(sealed) as C[]) values[column] = null;
    return values;
  }
  const key = openDataKey(app, table, row, dataKey);
  for (const column of Object.keys(sealed) as C[]) {
    const value = sealed[column];
    values[column] = value === null ? null : openValue(key, value, { table, column, row }).toString('utf8');
  }
  return values;
}

/** Seals one more value under a record's existing data key (the key stays as it is wrapped). */
export function sealWithRecordKey(app: App, table: string, row: string, wrappedDataKey: string, column: string, value: string): string {
  return sealValue(openDataKey(app, table, row, wrappedDataKey), value, { table, column, row });
}

/**
 * The keyed hash that makes a sealed value findable by equality (a date of birth): HMAC-SHA-256
 * with the key file's search key, so that the hash of a guessable value cannot be computed
 * without the key. `purpose` keeps the hashes of different kinds of value apart.
 */
export function searchHash(app: App, purpose: 'dob', value: string): string {
  return createHmac('sha256', app.keys.ring.searchKey).update(`${purpose}\n${value}`).digest('base64url');
}

function searchKeyCheck(ring: KeyRing): string {
  return createHmac('sha256', ring.searchKey).update('haven key file check').digest('base64url');
}

/**
 * Checks the key file against what the database knows of it, and records what is new (a new
 * site, or a rotation that stopped between writing the file and telling the database). Haven
 * refuses to start with a key file that is not this database's, or that no longer holds the
 * master key the database's newest data keys are wrapped by: sealing new data under another key
 * would split the site's data between two key files.
 */
export async function checkKeysAgainstDatabase(app: App, db: Db | Tx = app.db): Promise<void> {
  const ring = app.keys.ring;
  const where = app.keys.path ?? 'the key ring';
  const known = await rowsOf<{ id: string; kind: string; check_value: string | null }>(db, sql`SELECT id, kind, check_value FROM sealing_keys`);
  const search = known.find((k) => k.kind === 'search');
  if (search && search.check_value !== searchKeyCheck(ring)) {
    throw new KeyFileError(`${where} is not this database's key file (its search key differs): point HAVEN_MASTER_KEY_FILE at the key file this site was started with.`);
  }
  const current = known.find((k) => k.kind === 'current');
  if (current && !ring.masters.has(current.id)) {
    throw new KeyFileError(`${where} does not hold master key ${current.id}, which this database's data is wrapped by: restore the key file kept after the last rotation.`);
  }
  if (known.some((k) => k.kind === 'retired' && k.id === ring.current.id)) {
    throw new KeyFileError(`${where} is older than this database's last key rotation (its current master key ${ring.current.id} was retired): restore the newer key file.`);
  }
  const now = app.clock.now().toISOString();
  if (!search) await db.execute(sql`INSERT INTO sealing_keys (id, kind, check_value, added_at) VALUES ('search', 'search', ${searchKeyCheck(ring)}, ${now}) ON CONFLICT DO NOTHING`);
  if (current?.id !== ring.current.id) await recordCurrentMasterKey(db, ring.current.id, now);
}

/** Records `id` as the master key new data keys are wrapped by. */
export async function recordCurrentMasterKey(db: Db | Tx, id: string, now: string): Promise<void> {
  await db.execute(sql`DELETE FROM sealing_keys WHERE kind = 'current'`);
  await db.execute(sql`INSERT INTO sealing_keys (id, kind, added_at) VALUES (${id}, 'current', ${now}) ON CONFLICT (id) DO UPDATE SET kind = 'current'`);
}
