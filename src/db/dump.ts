// Dumping and restoring whole databases for backups (DESIGN §1.10), with PostgreSQL's own tools
// and PGlite's own dump: pg_dump / pg_restore in the custom format on a server, PGlite's data
// directory image in embedded mode. Nothing here invents a format. The only file besides
// client.ts that knows connection details.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import * as tar from 'tar';
import { delimiter, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from './client.ts';

/** What a dump is: it decides how it is restored. */
export type DumpFormat = 'pg_dump-custom' | 'pglite-datadir-tgz' | 'pg_basebackup-tgz';

/** Receives the dump's bytes as a stream and resolves once it has written them all. */
export type DumpSink = (source: Readable) => Promise<void>;

export class DumpToolError extends Error {}

/**
 * A PostgreSQL client program (`pg_dump`, `pg_restore`, …) of the server's major version or
 * newer: from HAVEN_PG_BIN_DIR, else Debian's /usr/lib/postgresql/<major>/bin, else PATH.
 */
export function pgProgram(name: string, binDir: string | undefined, serverMajor: number): string {
  const candidates: string[] = [];
  if (binDir) candidates.push(join(binDir, name));
  else {
    const debian = '/usr/lib/postgresql';
    const majors = existsSync(debian)
      ? readdirSync(debian)
          .map(Number)
          .filter((m) => Number.isInteger(m) && m >= serverMajor)
          .sort((a, b) => a - b)
      : [];
    for (const major of majors) candidates.push(join(debian, String(major), 'bin', name));
    for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) candidates.push(join(dir, name));
  }
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new DumpToolError(
      `${name} (PostgreSQL ${serverMajor} or newer) was not found${binDir ? ` in HAVEN_PG_BIN_DIR (${binDir})` : ''}: install the PostgreSQL client programs (Debian: postgresql-client-${serverMajor}) or set HAVEN_PG_BIN_DIR.`,
    );
  }
  return found;
}

/** The URL without its password, and the password apart: a password in argv is visible to every local user. */
function libpqConnection(url: string): { url: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { url: parsed.toString(), env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}), PGCONNECT_TIMEOUT: '10' } };
}

/** Runs a program, feeding `stdin` or reading its standard output into `stdout`; fails with its first error line. */
async function runProgram(program: string, args: string[], env: NodeJS.ProcessEnv, io: { stdin?: Readable; stdout?: DumpSink } = {}): Promise<string> {
  const child = spawn(program, args, { env, stdio: [io.stdin ? 'pipe' : 'ignore', io.stdout ? 'pipe' : 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    if (stderr.length < 8192) stderr += text;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const name = program.split('/').pop();
  try {
    await Promise.all([
      io.stdin ? pipeline(io.stdin, child.stdin!) : undefined,
      io.stdout ? io.stdout(child.stdout!) : undefined,
      exited.then((code) => {
        if (code !== 0) {
          const line = stderr.split('\n').find((l) => /error|fatal/i.test(l)) ?? stderr.split('\n')[0] ?? '';
          throw new DumpToolError(`${name} failed (exit ${code}): ${line.replace(/^\S+: /, '').trim() || 'no message'}`);
        }
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    await exited.catch(() => {});
    throw error;
  }
  return stderr;
}

async function serverMajor(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  const major = Math.floor(Number(rows[0]?.v) / 10000);
  if (!Number.isInteger(major) || major < 10) throw new DumpToolError(`could not read the server's version (${rows[0]?.v})`);
  return major;
}

/** The major version of the server at `databaseUrl`, on a connection of its own. */
async function serverMajorAt(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await serverMajor(client);
  } finally {
    await client.end();
  }
}

/** Row counts of every table in the public schema, in one statement (the caller's snapshot). */
const COUNT_TABLES = `
  SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1`;

async function countTables(query: (text: string) => Promise<{ rows: Record<string, unknown>[] }>): Promise<Record<string, number>> {
  const names = (await query(COUNT_TABLES)).rows.map((r) => String(r.name));
  if (!names.length) return {};
  const counts = await query(names.map((n) => `SELECT ${pg.escapeLiteral(n)} AS name, count(*)::bigint AS n FROM public.${pg.escapeIdentifier(n)}`).join(' UNION ALL '));
  return Object.fromEntries(counts.rows.map((r) => [String(r.name), Number(r.n)]));
}

/** Row counts of every public table of a database, now. */
export async function tableCounts(database: Database): Promise<Record<string, number>> {
  return countTables(async (text) => ({ rows: (await database.rows(sql.raw(text))) as Record<string, unknown>[] }));
}

export interface DumpResult {
  format: DumpFormat;
  /** Row counts of every public table, in the snapshot that was dumped. */
  tables: Record<string, number>;
}

/**
 * Dumps the whole database into `sink`, consistently: on a server, pg_dump reads the snapshot
 * of a transaction that counted the rows first (pg_export_snapshot); PGlite dumps its data
 * directory inside a transaction that holds every other query off.
 */
export async function dumpDatabase(database: Database, sink: DumpSink, binDir?: string): Promise<DumpResult> {
  const source = database.source;
  if (source.kind === 'pglite') {
    const { client } = source;
    // A checkpoint first, so the image needs little WAL replay when it is loaded.
    await client.exec('CHECKPOINT');
    const { image, tables } = await client.transaction(async (tx) => {
      await tx.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const tables = await countTables((text) => tx.query<Record<string, unknown>>(text));
      // Inside the transaction: PGlite runs no other query until it ends, so the image holds
      // exactly what was counted.
      return { image: await client.dumpDataDir('gzip'), tables };
    });
    await sink(Readable.fromWeb(image.stream() as never));
    return { format: 'pglite-datadir-tgz', tables };
  }
  const client = new pg.Client({ connectionString: source.url });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await client.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot');
    const tables = await countTables((text) => client.query(text));
    const { url, env } = libpqConnection(source.url);
    await runProgram(pgProgram('pg_dump', binDir, await serverMajor(client)), ['--format=custom', `--snapshot=${rows[0]!.snapshot}`, '--no-password', `--dbname=${url}`], env, { stdout: sink });
    await client.query('COMMIT');
    return { format: 'pg_dump-custom', tables };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Where a restore goes: a PostgreSQL database, a PGlite data directory, or PGlite in memory (restore tests). */
export type RestoreTarget = { databaseUrl: string } | { pgliteDir: string } | { pgliteMemory: true };

/** Restores a dump of `format` read from `source` into `target`, and opens it (not migrated). */
export async function restoreDump(format: DumpFormat, source: Readable, target: RestoreTarget, binDir?: string): Promise<Database> {
  if (format === 'pg_basebackup-tgz') throw new DumpToolError('a base backup is restored as a data directory (extractBaseBackup), not into a database');
  if (format === 'pglite-datadir-tgz') {
    if ('databaseUrl' in target) throw new DumpToolError('an embedded-database backup restores into a data directory, not into a PostgreSQL server (use haven export and import for that)');
    const parts: Buffer[] = [];
    for await (const part of source) parts.push(part as Buffer);
    const load = new Blob(parts as Uint8Array<ArrayBuffer>[]);
    return openDatabase('pgliteDir' in target ? { pgliteDir: target.pgliteDir, load } : { pgliteMemory: true, load });
  }
  if (!('databaseUrl' in target)) throw new DumpToolError('a PostgreSQL backup restores into a PostgreSQL database: give --to a postgres:// URL');
  const major = await serverMajorAt(target.databaseUrl);
  const { url, env } = libpqConnection(target.databaseUrl);
  await runProgram(pgProgram('pg_restore', binDir, major), ['--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', '--no-password', `--dbname=${url}`], env, { stdin: source });
  return openDatabase({ databaseUrl: target.databaseUrl });
}

/** Whether a PostgreSQL database holds anything of its own (a table, view or sequence outside the system schemas). */
export async function isPostgresDatabaseInUse(databaseUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')`,
    );
    return Number(rows[0]!.n) > 0;
  } finally {
    await client.end();
  }
}

/** Empties a PostgreSQL database for `restore --force`: its schemas dropped, a bare public schema made again. */
export async function emptyPostgresDatabase(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      `SELECT nspname AS name FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'`,
    );
    await client.query('BEGIN');
    for (const { name } of rows) await client.query(`DROP SCHEMA ${pg.escapeIdentifier(name)} CASCADE`);
    await client.query('CREATE SCHEMA public');
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

/**
 * A throwaway database on the same server as `databaseUrl`, for a restore test; `drop()`
 * removes it (and ends anything still connected to it).
 */
export async function createScratchDatabase(databaseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `haven_restore_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (error) {
    throw new DumpToolError(`could not create a scratch database for the restore test (${(error as Error).message}): Haven's database user needs CREATEDB`);
  } finally {
    await client.end();
  }
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * A physical base backup of the server (the weekly snapshot of DESIGN §1.10): pg_basebackup
 * into `workDir` with its WAL and a SHA-256 backup manifest, checked by pg_verifybackup, then
 * handed to `sink` as a gzipped tar of that directory. Needs a user with REPLICATION and a
 * `replication` line in pg_hba.conf. `workDir` is removed afterwards.
 */
export async function baseBackup(database: Database, workDir: string, sink: DumpSink, binDir?: string): Promise<void> {
  if (database.source.kind !== 'postgres') throw new DumpToolError('a base backup needs a PostgreSQL server');
  const major = await serverMajorAt(database.source.url);
  const { url, env } = libpqConnection(database.source.url);
  try {
    await runProgram(
      pgProgram('pg_basebackup', binDir, major),
      [`--pgdata=${workDir}`, '--format=plain', '--wal-method=stream', '--checkpoint=fast', '--manifest-checksums=SHA256', '--no-password', `--dbname=${url}`],
      env,
    );
    await runProgram(pgProgram('pg_verifybackup', binDir, major), ['--quiet', workDir], env);
    await sink(Readable.from(tar.c({ gzip: true, cwd: workDir, portable: true }, ['.'])));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Unpacks a base backup's tar (gzipped) into `dir`: a PostgreSQL data directory, ready to start. */
export async function extractBaseBackup(source: Readable, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await pipeline(source, tar.x({ cwd: dir }));
}
