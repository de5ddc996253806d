import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { is, Placeholder, sql, type SQL } from 'drizzle-orm';
import pg from 'pg';
import * as schema from './schema.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/**
 * An open transaction. A function that must run inside its caller's transaction (so that its
 * writes commit or roll back with the caller's, the audit entry above all) takes a `Tx`: the
 * bare database is not one, so forgetting the transaction is a type error.
 */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** Runs raw SQL and returns its rows (one round trip). */
  rows<T = Record<string, unknown>>(query: SQL): Promise<T[]>;
  /**
   * A named prepared statement, for the per-request hot path: PostgreSQL plans it once per
   * connection instead of on every request.
   */
  prepared<T = Record<string, unknown>>(name: string, text: string, params: unknown[]): Promise<T[]>;
  /**
   * Runs `fn` while holding the session-level advisory lock `key` on a connection of its own,
   * or answers `{ acquired: false }` at once if another holder has it (jobs: one instance runs
   * each). No transaction is held meanwhile, so `fn` may do network I/O; never call it inside one.
   */
  withAdvisoryLock<T>(key: number, fn: () => Promise<T>): Promise<{ acquired: true; value: T } | { acquired: false }>;
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** What the database is, for db/dump.ts alone (backups): the server's URL, or the PGlite handle. */
  source: { kind: 'postgres'; url: string } | { kind: 'pglite'; client: PGlite };
}

type AdvisoryLockResult<T> = { acquired: true; value: T } | { acquired: false };

const migrationsFolder = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** `load`: a PGlite data directory image (PGlite's own dump) to start from: a restored backup. */
export type DatabaseTarget = { databaseUrl: string } | { pgliteDir: string; load?: Blob } | { pgliteMemory: true; load?: Blob };

/** The only place that knows how to connect: PGlite when there is no DATABASE_URL, node-postgres otherwise. */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if ('databaseUrl' in target) {
    // A server that stopped answering fails a request within seconds instead of holding it.
    const pool = new pg.Pool({ connectionString: target.databaseUrl, max: 10, connectionTimeoutMillis: 5_000 });
    pool.on('error', () => {
      // An idle client lost its connection; the pool replaces it on next use.
    });
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    return {
      db,
      kind: 'postgres',
      rows: async (query) => ((await db.execute(query)) as unknown as { rows: never[] }).rows,
      prepared: async (name, text, values) => (await pool.query({ name, text, values })).rows,
      withAdvisoryLock: async <T>(key: number, fn: () => Promise<T>): Promise<AdvisoryLockResult<T>> => {
        const client = await pool.connect();
        // A connection whose unlock failed may still hold the lock: it is closed, which frees it.
        let discard: Error | undefined;
        try {
          const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [key]);
          if (!rows[0]?.locked) return { acquired: false };
          try {
            return { acquired: true, value: await fn() };
          } finally {
            await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch((error: Error) => {
              discard = error;
            });
          }
        } finally {
          client.release(discard);
        }
      },
      migrate: () => migratePg(db as never, { migrationsFolder }),
      close: () => pool.end(),
      source: { kind: 'postgres', url: target.databaseUrl },
    };
  }
  let client: PGlite;
  if ('pgliteDir' in target) {
    mkdirSync(target.pgliteDir, { recursive: true, mode: 0o700 });
    client = await PGlite.create(target.pgliteDir, { extensions: { pg_trgm }, loadDataDir: target.load });
  } else {
    client = await PGlite.create({ extensions: { pg_trgm }, loadDataDir: target.load });
  }
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  const heldLocks = new Set<number>();
  return {
    db,
    kind: 'pglite',
    rows: async (query) => ((await db.execute(query)) as unknown as { rows: never[] }).rows,
    prepared: pglitePrepared(client),
    // One connection, so one session: PostgreSQL's advisory locks are re-entrant within a session,
    // and only the in-process set tells two holders in this process apart. The data-directory
    // lock already keeps other processes out.
    withAdvisoryLock: async <T>(key: number, fn: () => Promise<T>): Promise<AdvisoryLockResult<T>> => {
      if (heldLocks.has(key)) return { acquired: false };
      heldLocks.add(key);
      try {
        return { acquired: true, value: await fn() };
      } finally {
        heldLocks.delete(key);
      }
    },
    migrate: () => migratePglite(db as never, { migrationsFolder }),
    close: () => client.close(),
    source: { kind: 'pglite', client },
  };
}

// PGlite's query() parses and plans its text on every call, and it has no way to name a
// statement in the extended protocol. So a named statement is made with SQL: PREPARE once, then
// EXECUTE with each parameter as a quoted literal (pg's escapeLiteral, a port of libpq's
// PQescapeLiteral). The session lookup on every request went from about 525 to 112 µs.
const STATEMENT_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (value instanceof Date) return pg.escapeLiteral(value.toISOString());
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return pg.escapeLiteral(String(value));
  }
  throw new TypeError(`a prepared statement parameter must be a string, number, boolean, Date or null, not ${typeof value}`);
}

function pglitePrepared(client: PGlite): Database['prepared'] {
  const prepared = new Map<string, Promise<unknown>>();
  const prepare = (name: string, text: string) => {
    let done = prepared.get(name);
    if (!done) {
      done = client.exec(`PREPARE ${name} AS ${text}`);
      prepared.set(name, done);
      done.catch(() => prepared.delete(name));
    }
    return done;
  };
  return async <T>(name: string, text: string, params: unknown[]): Promise<T[]> => {
    if (!STATEMENT_NAME.test(name)) throw new Error(`not a statement name: ${name}`);
    const statement = params.length ? `EXECUTE ${name}(${params.map(sqlLiteral).join(', ')})` : `EXECUTE ${name}`;
    const used = prepare(name, text);
    await used;
    try {
      return ((await client.exec(statement))[0]?.rows ?? []) as T[];
    } catch (error) {
      // Someone ran DEALLOCATE: prepare it again, once (callers that failed together share it).
      if ((error as { code?: string }).code !== '26000') throw error;
      if (prepared.get(name) === used) prepared.delete(name);
      await prepare(name, text);
      return ((await client.exec(statement))[0]?.rows ?? []) as T[];
    }
  };
}

export { sql };

/** Rows of a raw query, on either driver, in or out of a transaction. */
export async function rowsOf<T>(db: Db | Tx, query: SQL): Promise<T[]> {
  return ((await db.execute(query)) as unknown as { rows: T[] }).rows;
}

/** A text[] literal of bound parameters (an empty list is an empty array). */
export function textArray(values: readonly string[]): SQL {
  if (!values.length) return sql`ARRAY[]::text[]`;
  return sql`ARRAY[${sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  )}]::text[]`;
}

const dialect = new PgDialect();

/**
 * A statement whose text depends only on a small shape (which view permission a viewer has, how
 * many offices limit them), built once per shape with drizzle's named placeholders
 * (`sql.placeholder(name)`) and run as a named prepared statement: a call only fills in the
 * values, by name. The hot path then skips drizzle's SQL building and the text's digest, about
 * 0.08 ms of a case page. `build` is given the shape alone, so the text cannot depend on anything
 * else; and every parameter must be a placeholder (a value bound while building would be frozen
 * into every later call), which is checked when a shape is first built.
 */
export function compiledStatement<S>(prefix: string, build: (shape: S) => SQL, keyOf: (shape: S) => string = (shape) => JSON.stringify(shape)) {
  const byShape = new Map<string, { name: string; text: string; names: string[] }>();
  return async function run<T>(database: Database, shape: S, values: Readonly<Record<string, unknown>>): Promise<T[]> {
    const key = keyOf(shape);
    let compiled = byShape.get(key);
    if (!compiled) {
      const { sql: text, params } = dialect.sqlToQuery(build(shape));
      const names = params.map((p) => {
        if (!is(p, Placeholder)) throw new Error(`${prefix}: a value was bound while building the statement (use sql.placeholder)`);
        return p.name as string;
      });
      compiled = { name: `${prefix}_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`, text, names };
      byShape.set(key, compiled);
    }
    const params = compiled.names.map((name) => {
      if (!Object.hasOwn(values, name)) throw new Error(`${prefix}: no value for the placeholder ${name}`);
      return values[name];
    });
    return database.prepared<T>(compiled.name, compiled.text, params);
  };
}

/** Whether the database answers (/readyz). */
export async function isDatabaseReady(database: Database): Promise<boolean> {
  try {
    await database.rows(sql`SELECT 1`);
    return true;
  } catch {
    return false;
  }
}
