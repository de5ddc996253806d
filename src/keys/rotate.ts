// `haven keys rotate` (issue 11): a new master key, every data key re-wrapped under it, online,
// in batches, resumable; then the old key is retired. Values are never re-sealed: only the data
// keys that wrap them change, so a rotation of 100,000 records moves 100,000 short strings.
//
// The order makes every crash safe to resume by running the command again:
//   1. the key file gets the new key as current, the old one kept to unwrap (a running Haven
//      reads the file again before it seals anything, so new records get the new key);
//   2. the database records the new key as current;
//   3. batches re-wrap every data key not wrapped by the current key (each batch commits);
//   4. with writers paused for an instant (SHARE lock), any stragglers are re-wrapped and the
//      old key is recorded as retired (a trigger then refuses data keys wrapped by it);
//   5. the key file drops the old key.
import { sql, type SQL } from 'drizzle-orm';
import type { App } from '../context.ts';
import { rowsOf, textArray, type Db, type Tx } from '../db/client.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { unwrapDataKey, wrapDataKey, wrappingKeyId } from '../security/sealing.ts';
import { currentRing, fileStampOf, recordCurrentMasterKey, type Keys } from './records.ts';
import { newMasterKey, replaceKeyFile, type KeyRing } from './service.ts';

/** Every table whose rows carry a wrapped data key in `data_key`. */
export const SEALED_TABLES = ['clients', 'intake_applications', 'documents', 'sso_providers'] as const;

export interface RotationResult {
  key: string;
  resumed: boolean;
  rewrapped: number;
  retired: string[];
}

/** Writes the ring to the key file (or, for keys held in memory, keeps it there). */
function saveRing(keys: Keys, ring: Pick<KeyRing, 'current' | 'retiring' | 'searchKey'>): void {
  if (keys.path) {
    keys.ring = replaceKeyFile(keys.path, ring);
    keys.stamp = fileStampOf(keys.path);
  } else {
    keys.ring = { ...ring, masters: new Map([...ring.retiring, ring.current].map((m) => [m.id, m.key])) };
  }
}

/** Re-wraps the given rows' data keys under the ring's current key; returns how many changed. */
async function rewrap(db: Db | Tx, ring: KeyRing, table: string, rows: { id: string; data_key: string }[]): Promise<number> {
  const ids: string[] = [];
  const wrapped: string[] = [];
  for (const row of rows) {
    if (wrappingKeyId(row.data_key) === ring.current.id) continue;
    const place = { table, column: 'data_key', row: row.id };
    ids.push(row.id);
    wrapped.push(wrapDataKey(ring.current, unwrapDataKey(ring.masters, row.data_key, place), place));
  }
  if (ids.length) {
    await db.execute(sql`UPDATE ${sql.identifier(table)} t SET data_key = u.data_key
                           FROM unnest(${textArray(ids)}::uuid[], ${textArray(wrapped)}) AS u(id, data_key)
                          WHERE t.id = u.id`);
  }
  return ids.length;
}

function notCurrent(ring: KeyRing): SQL {
  return sql`data_key IS NOT NULL AND split_part(data_key, '.', 2) <> ${ring.current.id}`;
}

/**
 * Rotates the master key, or finishes a rotation that stopped. `progress` gets a line after
 * every batch. Safe to run while Haven serves requests, and to kill and run again.
 */
export async function rotateMasterKey(
  app: App,
  who: { actor: Actor | null; ip: string | null },
  progress: (line: string) => void = () => {},
  options: { batch?: number } = {},
): Promise<RotationResult> {
  const batchSize = Math.max(1, Math.min(options.batch ?? 1000, 10_000));
  let ring = currentRing(app.keys);
  const resumed = ring.retiring.length > 0;
  if (resumed) {
    progress(`resuming the rotation to master key ${ring.current.id} (${ring.retiring.map((m) => m.id).join(', ')} still in the key file)`);
    await recordAudit(app, { action: 'keys.rotation_resumed', actor: who.actor, ip: who.ip, details: { key: ring.current.id } });
  } else {
    const next = newMasterKey(app.clock.now());
    saveRing(app.keys, { current: next, retiring: [ring.current], searchKey: ring.searchKey });
    await recordAudit(app, { action: 'keys.rotation_started', actor: who.actor, ip: who.ip, details: { key: next.id, from: ring.current.id } });
    ring = app.keys.ring;
    progress(`new master key ${ring.current.id} written to the key file; the old one stays until every data key is re-wrapped`);
  }
  await recordCurrentMasterKey(app.db, ring.current.id, app.clock.now().toISOString());

  let rewrapped = 0;
  for (const table of SEALED_TABLES) {
    const [count] = await rowsOf<{ n: number }>(app.db, sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)} WHERE ${notCurrent(ring)}`);
    const total = Number(count?.n ?? 0);
    let done = 0;
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      // Keyset pages in id order: one pass, whatever was re-wrapped before a crash.
      const changed = await app.db.transaction(async (tx) => {
        const rows = await rowsOf<{ id: string; data_key: string }>(
          tx,
          sql`SELECT id, data_key FROM ${sql.identifier(table)} WHERE id > ${after}::uuid AND ${notCurrent(ring)} ORDER BY id LIMIT ${batchSize} FOR UPDATE`,
        );
        if (rows.length) after = rows[rows.length - 1]!.id;
        return { seen: rows.length, changed: await rewrap(tx, ring, table, rows) };
      });
      if (!changed.seen) break;
      done += changed.changed;
      progress(`${table}: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} data keys re-wrapped`);
    }
    rewrapped += done;
  }

  // Writers pause for an instant: whatever a process still holding the old key stored during
  // the batches is re-wrapped, and the old key is retired before anyone can use it again.
  const retired = ring.retiring.map((m) => m.id);
  await app.db.transaction(async (tx) => {
    await tx.execute(sql`LOCK TABLE ${sql.join(SEALED_TABLES.map((t) => sql.identifier(t)), sql`, `)} IN SHARE MODE`);
    for (const table of SEALED_TABLES) {
      const rows = await rowsOf<{ id: string; data_key: string }>(tx, sql`SELECT id, data_key FROM ${sql.identifier(table)} WHERE ${notCurrent(ring)}`);
      rewrapped += await rewrap(tx, ring, table, rows);
    }
    for (const id of retired) {
      await tx.execute(sql`INSERT INTO sealing_keys (id, kind, added_at) VALUES (${id}, 'retired', ${app.clock.now().toISOString()}) ON CONFLICT (id) DO UPDATE SET kind = 'retired'`);
    }
  });
  saveRing(app.keys, { current: ring.current, retiring: [], searchKey: ring.searchKey });
  await recordAudit(app, { action: 'keys.rotation_finished', actor: who.actor, ip: who.ip, details: { key: ring.current.id, rewrapped, retired: retired.join(', ') } });
  progress(`done: ${rewrapped.toLocaleString('en-US')} data keys re-wrapped under ${ring.current.id}; retired ${retired.join(', ') || 'nothing'}`);
  return { key: ring.current.id, resumed, rewrapped, retired };
}
