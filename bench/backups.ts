// Backups, measured (issue 12), each next to a baseline of the same run:
//   (a) `runBackup` (dump + compress + encrypt + hash + manifest) against the tool alone: on
//       PostgreSQL a plain `pg_dump --format=custom` of the same database to a file, on PGlite
//       its `dumpDataDir` into memory: throughput ratio (baseline time / Haven time);
//   (b) the restore test (`verifyBackup`: checks, restore into a scratch database, counts,
//       migrate, audit chain, sealed sample, documents) against a plain `pg_restore` of the same
//       archive into an empty database (PostgreSQL): its duration, and the restore's own time.
// The database is the case benchmark's seed (bench/cases-seed.ts): BENCH_BACKUP_CASES clients with
// a case, notes, assignments and adverse parties each (default 1,000,000 on PostgreSQL, 20,000
// on PGlite, whose seed is slower), plus 20 MB of documents' chunks.
//
//   node --import tsx bench/backups.ts          (also run by `npm run bench`)
//   BENCH_DB=pglite|postgres, BENCH_BACKUP_CASES
// A report: the exit code is 0 whatever the numbers.
import { execFile as execFileCallback } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import pino from 'pino';
import type { PGlite } from '@electric-sql/pglite';
import { openApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase, type Database } from '../src/db/client.ts';
import { keysInMemory } from '../src/keys/records.ts';
import { newKeyRing } from '../src/keys/service.ts';
import { runBackup, verifyBackup } from '../src/backup/service.ts';
import { startPgCluster, createDatabase } from '../test/helpers/postgres.ts';
import { seedCases, type SeedSession } from './cases-seed.ts';

const execFile = promisify(execFileCallback);
type DbKind = 'pglite' | 'postgres';
const KINDS: DbKind[] = process.env.BENCH_DB ? [process.env.BENCH_DB as DbKind] : ['pglite', 'postgres'];
const SIZE = (kind: DbKind) => Number(process.env.BENCH_BACKUP_CASES ?? (kind === 'postgres' ? 1_000_000 : 20_000));
const BIN = '/usr/lib/postgresql/15/bin';
const SYSTEM = { actor: null, ip: null };
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function session(database: Database, url?: string): { session: SeedSession; close(): Promise<void> } | Promise<{ session: SeedSession; close(): Promise<void> }> {
  if (database.source.kind === 'pglite') {
    const client: PGlite = database.source.client;
    return { session: { exec: async (t) => void (await client.exec(t)), rows: async <T>(t: string) => (await client.query<T>(t)).rows }, close: async () => {} };
  }
  const client = new pg.Client({ connectionString: url });
  return client.connect().then(() => ({
    session: { exec: async (t: string) => void (await client.query(t)), rows: async <T>(t: string) => (await client.query(t)).rows as T[] },
    close: () => client.end(),
  }));
}

export async function runBackupBench(): Promise<void> {
  console.log('\nBackups: Haven against the bare tool on the same database (ratio = baseline time / Haven time)');
  const cluster = KINDS.includes('postgres') ? await startPgCluster() : undefined;
  const rows: string[][] = [['db', 'measure', 'Haven', 'baseline (same run)', 'ratio']];
  try {
    for (const kind of KINDS) {
      const work = mkdtempSync(join(tmpdir(), `haven-bench-backups-${kind}-`));
      try {
        const url = kind === 'postgres' ? await createDatabase(cluster!.url) : undefined;
        const database = await openDatabase(url ? { databaseUrl: url } : { pgliteDir: join(work, 'db') });
        const config = { ...loadConfig({ HAVEN_DATA_DIR: work, ...(url ? { DATABASE_URL: url } : {}) }), backupDir: join(work, 'backups') };
        const app = await openApp(config, { database, keys: keysInMemory(newKeyRing(new Date())), log: pino({ level: 'warn' }) });
        const staff = await database.rows<{ id: string }>(
          sql`INSERT INTO users (login, full_name, email, role_id, created_at, updated_at) SELECT 'bench-staff-' || g, 'Staff ' || g, 'staff' || g || '@example.org', r.id, now(), now() FROM roles r, generate_series(1, 5) g WHERE r.name = 'Paralegal' RETURNING id`,
        );
        const s = await session(database, url);
        const t0 = performance.now();
        const seed = await seedCases(s.session, { size: SIZE(kind), chunk: 50_000, budgetSeconds: kind === 'postgres' ? 900 : 300, staffIds: staff.map((u) => u.id) });
        await s.close();
        console.log(`  ${kind}: seeded ${seed.clients.toLocaleString('en-US')} cases in ${seconds(performance.now() - t0)}`);
        const label = `${kind}, ${seed.clients.toLocaleString('en-US')} cases`;

        const b0 = performance.now();
        const backup = await runBackup(app, 'manual', SYSTEM);
        const backupMs = performance.now() - b0;
        const bytes = backup.manifest.files[0]!.bytes;
        let baselineMs: number;
        if (kind === 'postgres') {
          const file = join(work, 'plain.dump');
          const p0 = performance.now();
          await execFile(join(BIN, 'pg_dump'), ['--format=custom', '-f', file, `--dbname=${url}`]);
          baselineMs = performance.now() - p0;
          rows.push([label, 'backup (pg_dump + encrypt + manifest)', `${seconds(backupMs)}, ${(bytes / 1e6 / (backupMs / 1000)).toFixed(1)} MB/s`, `pg_dump -Fc to a file: ${seconds(baselineMs)}`, (baselineMs / backupMs).toFixed(2)]);
          const check = await verifyBackup(app, backup.id, SYSTEM);
          const empty = await createDatabase(cluster!.url);
          const r0 = performance.now();
          await execFile(join(BIN, 'pg_restore'), ['--no-owner', '--exit-on-error', '--single-transaction', `--dbname=${empty}`, file]);
          const restoreBaseline = performance.now() - r0;
          rows.push([label, `restore test (${check.passed ? 'passed' : `FAILED: ${check.reason}`})`, `${seconds(check.durationMs)} (restore ${seconds(check.restoreMs ?? 0)})`, `pg_restore alone: ${seconds(restoreBaseline)}`, (restoreBaseline / check.durationMs).toFixed(2)]);
        } else {
          const client = (database.source as { client: PGlite }).client;
          const p0 = performance.now();
          const image = await client.dumpDataDir('gzip');
          baselineMs = performance.now() - p0;
          rows.push([label, 'backup (image + encrypt + manifest)', `${seconds(backupMs)}, ${(bytes / 1e6 / (backupMs / 1000)).toFixed(1)} MB/s`, `dumpDataDir alone: ${seconds(baselineMs)} (${(image.size / 1e6).toFixed(1)} MB)`, (baselineMs / backupMs).toFixed(2)]);
          const check = await verifyBackup(app, backup.id, SYSTEM);
          rows.push([label, `restore test (${check.passed ? 'passed' : `FAILED: ${check.reason}`})`, `${seconds(check.durationMs)} (restore ${seconds(check.restoreMs ?? 0)})`, '', '']);
        }
        await database.close();
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
  } finally {
    await cluster?.stop();
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(`  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href || fileURLToPath(import.meta.url) === process.argv[1]) {
  runBackupBench().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(0);
    },
  );
}
