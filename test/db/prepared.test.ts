// `Database.prepared`, the named statement behind the session lookup on every request. On PGlite
// it is SQL PREPARE/EXECUTE with parameters quoted as literals, so the attack here is SQL
// injection through a parameter: whatever goes in must come back byte for byte, and run nothing.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, freshDatabase } from '../helpers/app.ts';
import { compiledStatement, type Database } from '../../src/db/client.ts';

const HOSTILE = [
  "'",
  "''",
  '\\',
  "\\'",
  "'; DROP TABLE users; --",
  "x'); DELETE FROM roles; SELECT ('",
  "E'\\x41'",
  '$1',
  '$$; DROP TABLE users; $$',
  'line one\nline two\r\n\ttab',
  '/* comment */ -- trailing',
  'ünïcödé ✓ 𝄞 — “quotes”',
  ' '.repeat(3),
  '',
];

describe.each(DB_KINDS)('prepared statements (%s)', (kind) => {
  let database: Database;
  let cleanup: () => void;

  beforeAll(async () => {
    const fresh = await freshDatabase(kind);
    database = fresh.database;
    cleanup = fresh.cleanup;
    await database.migrate();
    await database.rows(sql`CREATE TABLE prepared_probe (id int PRIMARY KEY, label text NOT NULL, at timestamptz, flag boolean)`);
    await database.rows(sql`INSERT INTO prepared_probe VALUES (1, 'one', '2026-11-30T12:00:00Z', true), (2, 'it''s', NULL, false)`);
  });
  afterAll(async () => {
    await database?.close();
    cleanup?.();
  });

  test.each(HOSTILE)('a hostile text parameter comes back unchanged and runs nothing: %j', async (value) => {
    const rows = await database.prepared<{ echoed: string; length: number }>('haven_test_echo', 'SELECT $1::text AS echoed, length($1::text) AS length', [value]);
    expect(rows).toEqual([{ echoed: value, length: [...value].length }]);
    const [counted] = await database.rows<{ users: number }>(sql`SELECT count(*)::int AS users FROM information_schema.tables WHERE table_name IN ('users', 'roles')`);
    expect(counted?.users).toBe(2);
  });

  test('a hostile parameter in a WHERE clause matches only what it equals', async () => {
    const find = (label: string) => database.prepared<{ id: number }>('haven_test_find', 'SELECT id FROM prepared_probe WHERE label = $1 ORDER BY id', [label]);
    expect(await find("it's")).toEqual([{ id: 2 }]);
    expect(await find("' OR '1'='1")).toEqual([]);
    expect(await find("one' OR 'x'='x")).toEqual([]);
  });

  test('numbers, booleans, dates and null are passed with their types, and rows come back typed', async () => {
    const rows = await database.prepared<{ id: number; label: string; at: Date | null; flag: boolean }>(
      'haven_test_typed',
      'SELECT id, label, at, flag FROM prepared_probe WHERE id >= $1 AND (flag = $2 OR $3::timestamptz IS NULL OR at = $3) ORDER BY id',
      [1, true, new Date('2026-11-30T12:00:00Z')],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).toBe(1);
    expect(new Date(rows[0]!.at!).toISOString()).toBe('2026-11-30T12:00:00.000Z');
    expect(rows[0]!.flag).toBe(true);
    expect(rows[0]!.label).toBe('one');
    const withNull = await database.prepared<{ isNull: boolean }>('haven_test_null', 'SELECT $1::text IS NULL AS "isNull"', [null]);
    expect(withNull).toEqual([{ isNull: true }]);
  });

  test('many first uses at once prepare once, and a DEALLOCATE is survived', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => database.prepared<{ n: number }>('haven_test_parallel', 'SELECT $1::int AS n', [i])));
    expect(results.map((r) => r[0]!.n)).toEqual([...Array(10).keys()]);
    if (kind === 'pglite') {
      await database.rows(sql`DEALLOCATE ALL`);
      const again = await Promise.all(Array.from({ length: 5 }, (_, i) => database.prepared<{ n: number }>('haven_test_parallel', 'SELECT $1::int AS n', [40 + i])));
      expect(again.map((r) => r[0]!.n)).toEqual([40, 41, 42, 43, 44]);
    }
  });

  // compiledStatement: a statement built once per shape, run many times with only its values.
  test('each shape is built once; each call gets its own values, hostile ones included', async () => {
    let builds = 0;
    const echo = compiledStatement<{ count: number }>('haven_test_compiled', (shape) => {
      builds++;
      const items = Array.from({ length: shape.count }, (_, i) => sql`${sql.placeholder(`v${i}`)}::text`);
      return sql`SELECT ARRAY[${sql.join(items, sql`, `)}]::text[] AS items`;
    });
    for (const values of [['a', 'b'], HOSTILE.slice(0, 2), ["'; DROP TABLE users; --", '$1']]) {
      const [row] = await echo<{ items: string[] }>(database, { count: 2 }, { v0: values[0], v1: values[1] });
      expect(row!.items).toEqual(values);
    }
    const [three] = await echo<{ items: string[] }>(database, { count: 3 }, { v0: 'x', v1: 'y', v2: 'z' });
    expect(three!.items).toEqual(['x', 'y', 'z']);
    expect(builds).toBe(2);
  });

  test('a value bound while building is refused, since it would be frozen into every later call', async () => {
    const frozen = compiledStatement<{ user: string }>('haven_test_frozen', (shape) => sql`SELECT ${shape.user}::text AS who`);
    await expect(frozen(database, { user: 'alice' }, {})).rejects.toThrow(/bound while building/);
  });

  test('a missing value is an error, never a NULL', async () => {
    const needs = compiledStatement<null>('haven_test_needs', () => sql`SELECT ${sql.placeholder('who')}::text AS who`);
    await expect(needs(database, null, {})).rejects.toThrow(/no value for the placeholder who/);
    const [row] = await needs<{ who: string | null }>(database, null, { who: null });
    expect(row!.who).toBeNull();
  });
});

// node-postgres sends parameters out of band; only PGlite's literals need these fences.
describe('prepared statements (pglite): the literal fences', () => {
  let database: Database;
  let cleanup: () => void;

  beforeAll(async () => {
    const fresh = await freshDatabase('pglite');
    database = fresh.database;
    cleanup = fresh.cleanup;
    await database.migrate();
  });
  afterAll(async () => {
    await database?.close();
    cleanup?.();
  });

  test('parameters of other types and bad statement names are refused before anything runs', async () => {
    await expect(database.prepared('haven_test_echo', 'SELECT $1::text AS echoed, length($1::text) AS length', [{ toString: () => "'" }])).rejects.toThrow(TypeError);
    await expect(database.prepared('haven_test_echo', 'SELECT $1::text AS echoed, length($1::text) AS length', [Symbol('x')])).rejects.toThrow(TypeError);
    await expect(database.prepared('bad; DROP TABLE users', 'SELECT 1', [])).rejects.toThrow(/not a statement name/);
    const [counted] = await database.rows<{ users: number }>(sql`SELECT count(*)::int AS users FROM information_schema.tables WHERE table_name = 'users'`);
    expect(counted?.users).toBe(1);
  });
});
