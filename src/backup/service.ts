// Backups, restore tests, retention and restore (DESIGN §1.10, issue 12). A backup is the
// database's own dump (pg_dump, or PGlite's data directory image: documents and sealed values
// are in the database), encrypted as it is written (backup/files.ts). A restore test proves a
// backup restores: into a scratch database, migrated, row counts against the manifest, the
// audit chain, a sample of sealed values opened, every document's checksum.
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { desc, eq, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import { standbyLag } from '../failover/service.ts';
import { rowsOf, type Database } from '../db/client.ts';
import { backupChecks, backupRuns } from '../db/schema.ts';
import { baseBackup, createScratchDatabase, DumpToolError, dumpDatabase, extractBaseBackup, emptyPostgresDatabase, isPostgresDatabaseInUse, restoreDump, tableCounts, type RestoreTarget } from '../db/dump.ts';
import { recordAudit, verifyAuditChain, type Actor } from '../audit/service.ts';
import { enqueueMail } from '../mail/service.ts';
import { currentRing } from '../keys/records.ts';
import { openIdentity, applicationIdentity } from '../clients/service.ts';
import { verifyDocuments } from '../documents/service.ts';
import { SealingError } from '../security/sealing.ts';
import { backupKey, BackupDamagedError } from '../security/backup-sealing.ts';
import { backupId, backupsToPrune } from '../security/backups.ts';
import { getSiteSettings } from '../settings/service.ts';
import { lockDataDir, DataDirLockedError } from '../db/lock.ts';
import {
  decryptedFile,
  HAVEN_VERSION,
  listBackupDirs,
  makeBackupDir,
  openBackup,
  removeUnfinishedBackups,
  SCHEMA_VERSION,
  writeEncryptedFile,
  writeManifest,
  type BackupListing,
  type BackupManifest,
} from './files.ts';

/** Advisory locks: one backup at a time, and one restore test (or prune) at a time, across instances. */
export const BACKUP_LOCK = 7_210_103;
export const RESTORE_TEST_LOCK = 7_210_104;

/** A backup operation that cannot go on, with the one line to show. */
export class BackupError extends Error {}

export interface Who {
  actor: Actor | null;
  ip: string | null;
}

type Step = (line: string) => void;

const FILE_NAMES = { 'pg_dump-custom': 'database.dump.enc', 'pglite-datadir-tgz': 'database.tar.gz.enc', 'pg_basebackup-tgz': 'base.tar.gz.enc' } as const;

/** How often a scheduled backup on a server also takes a base backup (pg_basebackup). */
export const BASE_BACKUP_INTERVAL_DAYS = 7;

/** Whether the next scheduled backup should take a base backup too: none in the last week. */
function isBaseBackupDue(app: App): boolean {
  if (app.database.kind !== 'postgres') return false;
  const since = app.clock.now().getTime() - (BASE_BACKUP_INTERVAL_DAYS - 0.5) * 24 * 60 * 60 * 1000;
  return !listBackupDirs(app.config.backupDir).some((b) => new Date(b.manifest.startedAt).getTime() >= since && b.manifest.files.some((f) => f.contents === 'pg_basebackup-tgz'));
}

/** How many sealed client records a restore test opens. */
export const SEALED_SAMPLE = 50;

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 500);
}

const megabytes = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

/**
 * Sends a step to the caller and records it on the run's row (at most about once a second, so
 * a fast stream of byte counts costs no more than a few updates): every instance's Admin >
 * Backups can follow a run, wherever it runs.
 */
function stepRecorder(app: App, update: (step: string) => Promise<unknown>, onStep: Step): (line: string, force?: boolean) => Promise<void> {
  let lastWrite = 0;
  return async (line, force = true) => {
    onStep(line);
    const now = Date.now();
    if (!force && now - lastWrite < 1000) return;
    lastWrite = now;
    await update(line).catch((error: unknown) => app.log.warn({ err: error }, 'could not record a backup step'));
  };
}

/** Active users who may administer backups: a failed backup or restore test is mailed to them. */
async function backupAdministrators(app: App): Promise<string[]> {
  const rows = await rowsOf<{ email: string }>(
    app.db,
    sql`SELECT u.email FROM users u JOIN roles r ON r.id = u.role_id
        WHERE u.login_active AND ('admin_backups' = ANY(r.internal_permissions) OR 'admin_backups' = ANY(r.external_permissions))`,
  );
  return [...new Set(rows.map((r) => r.email))];
}

async function mailAdministrators(app: App, subject: string, lines: string[]): Promise<void> {
  for (const to of await backupAdministrators(app)) {
    await enqueueMail(app, { to, subject, text: [...lines, '', `Admin > Backups: ${app.config.baseUrl}/admin/backups`].join('\n') }).catch((error: unknown) =>
      app.log.error({ err: error }, 'could not queue a backup warning'),
    );
  }
}

export interface BackupOutcome {
  id: string;
  manifest: BackupManifest;
}

/**
 * Takes a backup: the database dumped consistently, encrypted into the backup directory, the
 * manifest written last. One at a time across instances (BACKUP_LOCK). A failure is recorded,
 * audited, mailed to the administrators, its files removed, and thrown as a BackupError.
 */
export async function runBackup(app: App, trigger: 'scheduled' | 'manual', who: Who, onStep: Step = () => {}, options: { base?: boolean } = {}): Promise<BackupOutcome> {
  const withBase = options.base ?? (trigger === 'scheduled' && isBaseBackupDue(app));
  if (withBase && app.database.kind !== 'postgres') throw new BackupError('a base backup is taken only on a PostgreSQL server: the embedded backup is already an image of the whole data directory');
  const locked = await app.database.withAdvisoryLock(BACKUP_LOCK, async () => {
    const root = app.config.backupDir;
    const startedAt = app.clock.now();
    // Holding the lock, any run still marked running, and any directory without a manifest,
    // belongs to a process that died.
    await app.db
      .update(backupRuns)
      .set({ status: 'interrupted', finishedAt: startedAt, error: 'The process taking it stopped before it finished.' })
      .where(eq(backupRuns.status, 'running'));
    removeUnfinishedBackups(root);
    const id = backupId(startedAt, randomBytes(2).toString('hex'));
    await app.db.insert(backupRuns).values({ id, trigger, startedAt, status: 'running', step: 'Starting' });
    const step = stepRecorder(app, (line) => app.db.update(backupRuns).set({ step: line }).where(eq(backupRuns.id, id)), onStep);
    let dir: string | undefined;
    try {
      dir = makeBackupDir(root, id);
      const master = currentRing(app.keys).current;
      const key = backupKey(master.key, id);
      await step(`Backup ${id}: dumping the database`);
      const fileName = FILE_NAMES[app.database.kind === 'postgres' ? 'pg_dump-custom' : 'pglite-datadir-tgz'];
      let written = { bytes: 0, sha256: '' };
      const dumped = await dumpDatabase(
        app.database,
        async (source) => {
          written = await writeEncryptedFile(dir!, fileName, key, source, (bytes) => void step(`Backup ${id}: dumping and encrypting, ${megabytes(bytes)} written`, false));
        },
        app.config.pgBinDir,
      );
      const files: BackupManifest['files'] = [{ name: fileName, contents: dumped.format, ...written }];
      if (withBase) {
        await step(`Backup ${id}: taking a base backup (pg_basebackup, checked by pg_verifybackup)`);
        const baseName = FILE_NAMES['pg_basebackup-tgz'];
        let base = { bytes: 0, sha256: '' };
        await baseBackup(
          app.database,
          join(dir, 'base.partial'),
          async (source) => {
            base = await writeEncryptedFile(dir!, baseName, key, source, (bytes) => void step(`Backup ${id}: base backup, ${megabytes(bytes)} written`, false));
          },
          app.config.pgBinDir,
        );
        files.push({ name: baseName, contents: 'pg_basebackup-tgz', ...base });
      }
      await step(`Backup ${id}: writing the manifest`);
      const manifest: BackupManifest = {
        format: 'haven-backup-1',
        id,
        trigger,
        database: app.database.kind,
        startedAt: startedAt.toISOString(),
        finishedAt: app.clock.now().toISOString(),
        havenVersion: HAVEN_VERSION,
        schemaVersion: SCHEMA_VERSION,
        masterKeyId: master.id,
        tables: dumped.tables,
        files,
      };
      await writeManifest(dir, manifest, key);
      const rows = Object.values(dumped.tables).reduce((n, c) => n + c, 0);
      const bytes = files.reduce((n, f) => n + f.bytes, 0);
      await app.db.update(backupRuns).set({ status: 'ok', finishedAt: app.clock.now(), bytes, step: `Finished: ${rows} rows, ${megabytes(bytes)}${withBase ? ', with a base backup' : ''}` }).where(eq(backupRuns.id, id));
      await recordAudit(app, { action: 'backup.created', actor: who.actor, ip: who.ip, target: id, details: { trigger, bytes, rows, base: withBase } });
      onStep(`Backup ${id} finished: ${Object.keys(dumped.tables).length} tables, ${rows} rows, ${megabytes(bytes)} encrypted${withBase ? ', with a base backup' : ''}`);
      return { id, manifest };
    } catch (error) {
      const reason = oneLine(error);
      if (dir) rmSync(dir, { recursive: true, force: true });
      await app.db.update(backupRuns).set({ status: 'failed', finishedAt: app.clock.now(), error: reason, step: 'Failed' }).where(eq(backupRuns.id, id));
      await recordAudit(app, { action: 'backup.failed', actor: who.actor, ip: who.ip, target: id, details: { reason } });
      await mailAdministrators(app, 'Haven backup failed', [`The ${trigger} backup ${id} failed: ${reason}`, '', 'Nothing was lost, but no new backup exists until this is fixed.']);
      throw new BackupError(`backup ${id} failed: ${reason}`);
    }
  });
  if (!locked.acquired) throw new BackupError('a backup is already running');
  return locked.value;
}

/** The finished backups, newest first, each with its latest restore test. */
export async function listBackups(app: App): Promise<(BackupListing & { check: typeof backupChecks.$inferSelect | null })[]> {
  const listings = listBackupDirs(app.config.backupDir);
  const checks = await latestChecks(app);
  return listings.map((l) => ({ ...l, check: checks.get(l.id) ?? null }));
}

async function latestChecks(app: App): Promise<Map<string, typeof backupChecks.$inferSelect>> {
  const rows = await rowsOf<{ id: number }>(app.db, sql`SELECT DISTINCT ON (backup_id) id FROM backup_checks WHERE status <> 'running' ORDER BY backup_id, started_at DESC, id DESC`);
  if (!rows.length) return new Map();
  const checks = await app.db.select().from(backupChecks).where(sql`${backupChecks.id} IN (${sql.join(rows.map((r) => sql`${Number(r.id)}`), sql`, `)})`);
  return new Map(checks.map((c) => [c.backupId, c]));
}

export interface CheckOutcome {
  backupId: string;
  passed: boolean;
  /** One line: what failed. */
  reason: string | null;
  durationMs: number;
  /** How long the restore itself took (the time to get a working database back). */
  restoreMs: number | null;
  details: Record<string, unknown>;
}

/** An App over a restored database, for the checks that read through services. */
function appOver(app: App, database: Database): App {
  return { ...app, database, db: database.db, mail: { wake: () => {} } };
}

async function scratchTarget(app: App, manifest: BackupManifest): Promise<{ target: RestoreTarget; drop(): Promise<void> }> {
  if (manifest.database === 'pglite') return { target: { pgliteMemory: true }, drop: async () => {} };
  if (app.database.source.kind !== 'postgres') throw new BackupDamagedError('a PostgreSQL backup can be tested only by a Haven that runs on a PostgreSQL server');
  const scratch = await createScratchDatabase(app.database.source.url);
  return { target: { databaseUrl: scratch.url }, drop: scratch.drop };
}

/** Opens a sample of sealed values of the restored database; a value that does not open fails the test. */
async function openSealedSample(app: App): Promise<{ clients: number; applications: number }> {
  const clientRows = await rowsOf<{ id: string; data_key: string; dob_sealed: string | null; ssn_sealed: string | null }>(
    app.db,
    sql`SELECT id, data_key, dob_sealed, ssn_sealed FROM clients WHERE dob_sealed IS NOT NULL OR ssn_sealed IS NOT NULL ORDER BY random() LIMIT ${SEALED_SAMPLE}`,
  );
  for (const c of clientRows) {
    try {
      openIdentity(app, { id: c.id, dataKey: c.data_key, dobSealed: c.dob_sealed, ssnSealed: c.ssn_sealed });
    } catch (error) {
      if (error instanceof SealingError) throw new BackupDamagedError(`a sealed value of client ${c.id} does not open: ${oneLine(error)}`);
      throw error;
    }
  }
  const applications = await rowsOf<{ id: string; data_key: string | null; identity_sealed: string | null }>(
    app.db,
    sql`SELECT id, data_key, identity_sealed FROM intake_applications WHERE identity_sealed IS NOT NULL ORDER BY random() LIMIT ${SEALED_SAMPLE}`,
  );
  for (const a of applications) {
    try {
      applicationIdentity(app, { id: a.id, dataKey: a.data_key, identitySealed: a.identity_sealed });
    } catch (error) {
      if (error instanceof SealingError) throw new BackupDamagedError(`the sealed identity of application ${a.id} does not open: ${oneLine(error)}`);
      throw error;
    }
  }
  return { clients: clientRows.length, applications: applications.length };
}

/**
 * The restore test of one backup (the newest when `id` is not given), holding RESTORE_TEST_LOCK
 * so that retention never removes what a test reads. The result is recorded with its duration;
 * a failure is audited and mailed to the administrators. A passed test is followed by pruning.
 */
export async function verifyBackup(app: App, id: string | undefined, who: Who, onStep: Step = () => {}): Promise<CheckOutcome> {
  const locked = await app.database.withAdvisoryLock(RESTORE_TEST_LOCK, async () => {
    const startedAt = app.clock.now();
    await app.db
      .update(backupChecks)
      .set({ status: 'interrupted', finishedAt: startedAt, reason: 'The process running it stopped before it finished.' })
      .where(eq(backupChecks.status, 'running'));
    const target = id ?? listBackupDirs(app.config.backupDir)[0]?.id;
    if (!target) throw new BackupError(`there is no finished backup in ${app.config.backupDir} to test`);
    const [row] = await app.db.insert(backupChecks).values({ backupId: target, startedAt, status: 'running', step: 'Starting' }).returning({ id: backupChecks.id });
    const checkId = row!.id;
    const step = stepRecorder(app, (line) => app.db.update(backupChecks).set({ step: line }).where(eq(backupChecks.id, checkId)), onStep);
    const t0 = performance.now();
    let restoreMs: number | null = null;
    const details: Record<string, unknown> = {};
    let passed = false;
    let reason: string | null = null;
    try {
      await step(`Restore test of ${target}: checking the manifest and the files' checksums`);
      const backup = await openBackup(app.config.backupDir, target, currentRing(app.keys));
      const file = backup.manifest.files[0]!;
      const scratch = await scratchTarget(app, backup.manifest);
      let restored: Database | undefined;
      try {
        await step(`Restore test of ${target}: restoring into a scratch database`);
        const r0 = performance.now();
        restored = await restoreDump(file.contents, decryptedFile(backup, file), scratch.target, app.config.pgBinDir);
        restoreMs = Math.round(performance.now() - r0);
        await step(`Restore test of ${target}: comparing row counts with the manifest`);
        const counts = await tableCounts(restored);
        for (const [table, expected] of Object.entries(backup.manifest.tables)) {
          const found = counts[table];
          if (found !== expected) throw new BackupDamagedError(`table ${table} restored with ${found ?? 'no'} rows, the manifest says ${expected}`);
        }
        details.rows = Object.values(counts).reduce((n, c) => n + c, 0);
        await step(`Restore test of ${target}: migrating the restored database`);
        await restored.migrate();
        const restoredApp = appOver(app, restored);
        await step(`Restore test of ${target}: verifying the audit chain`);
        const chain = await verifyAuditChain(restoredApp);
        if (chain.problem) throw new BackupDamagedError(`the restored audit log is broken at entry ${chain.problem.seq}: ${chain.problem.problem.replace(/_/g, ' ')}`);
        details.auditEntries = chain.entries;
        await step(`Restore test of ${target}: opening a sample of sealed values`);
        details.sealedSample = await openSealedSample(restoredApp);
        await step(`Restore test of ${target}: checking every document's checksum`);
        const documents = await verifyDocuments(restoredApp);
        details.documents = documents.checked;
        if (documents.problems.length) {
          const first = documents.problems[0]!;
          throw new BackupDamagedError(`${documents.problems.length} restored document(s) missing or damaged, the first on case ${first.caseNumber}: ${first.problem}`);
        }
        passed = true;
      } finally {
        await restored?.close().catch(() => {});
        await scratch.drop().catch((error: unknown) => app.log.warn({ err: error }, 'could not drop the restore test database'));
      }
    } catch (error) {
      if (!(error instanceof BackupDamagedError || error instanceof BackupError) && !(error instanceof DumpToolError)) app.log.error({ err: error }, 'restore test failed');
      reason = oneLine(error);
    }
    const durationMs = Math.round(performance.now() - t0);
    details.restoreMs = restoreMs;
    await app.db
      .update(backupChecks)
      .set({ status: passed ? 'passed' : 'failed', finishedAt: app.clock.now(), durationMs, reason, details, step: passed ? 'Passed' : 'Failed' })
      .where(eq(backupChecks.id, checkId));
    await recordAudit(app, { action: passed ? 'backup.verified' : 'backup.verify_failed', actor: who.actor, ip: who.ip, target, details: { durationMs, ...(reason ? { reason } : {}) } });
    if (passed) {
      onStep(`Restore test of ${target} passed in ${(durationMs / 1000).toFixed(1)} s (restore ${((restoreMs ?? 0) / 1000).toFixed(1)} s)`);
      await pruneHoldingLock(app, who, onStep);
    } else {
      await mailAdministrators(app, 'Haven restore test failed', [`The restore test of backup ${target} failed: ${reason}`, '', 'Until a restore test passes, Haven keeps every older backup.']);
    }
    return { backupId: target, passed, reason, durationMs, restoreMs, details } satisfies CheckOutcome;
  });
  if (!locked.acquired) throw new BackupError('a restore test is already running');
  return locked.value;
}

async function pruneHoldingLock(app: App, who: Who, onStep: Step): Promise<string[]> {
  const settings = await getSiteSettings(app);
  const listings = listBackupDirs(app.config.backupDir);
  const passed = new Set((await rowsOf<{ backup_id: string }>(app.db, sql`SELECT DISTINCT backup_id FROM backup_checks WHERE status = 'passed'`)).map((r) => r.backup_id));
  const remove = backupsToPrune(
    listings.map((l) => ({ id: l.id, createdAt: new Date(l.manifest.startedAt), verified: passed.has(l.id) })),
    app.clock.now(),
    settings.backup_retention_days,
  );
  for (const id of remove) rmSync(join(app.config.backupDir, id), { recursive: true, force: true });
  if (remove.length) {
    await recordAudit(app, { action: 'backup.pruned', actor: who.actor, ip: who.ip, target: null, details: { removed: remove, retentionDays: settings.backup_retention_days } });
    onStep(`Removed ${remove.length} backup(s) older than ${settings.backup_retention_days} days: ${remove.join(', ')}`);
  }
  return remove;
}

/** Applies retention now, unless a restore test is reading (then the next one prunes). */
export async function pruneBackups(app: App, who: Who, onStep: Step = () => {}): Promise<string[] | null> {
  const locked = await app.database.withAdvisoryLock(RESTORE_TEST_LOCK, () => pruneHoldingLock(app, who, onStep));
  return locked.acquired ? locked.value : null;
}

/**
 * `haven backup restore ID --to TARGET`: into a new PostgreSQL database or a new data
 * directory. A target that holds data is refused unless `force`; then a database is emptied,
 * and a data directory's old database is moved aside (never deleted). The database Haven
 * itself runs on is always refused.
 */
export async function restoreBackup(app: App, id: string, to: string, force: boolean, who: Who, onStep: Step = () => {}): Promise<string> {
  const backup = await openBackup(app.config.backupDir, id, currentRing(app.keys));
  const file = backup.manifest.files[0]!;
  let target: RestoreTarget;
  let unlock = () => {};
  let note = '';
  if (/^postgres(ql)?:\/\//.test(to)) {
    if (backup.manifest.database !== 'postgres') throw new BackupError(`backup ${id} is of an embedded database: restore it into a data directory`);
    if (app.database.source.kind === 'postgres' && sameDatabase(app.database.source.url, to)) throw new BackupError('that is the database this Haven runs on: restore into a new database, then point DATABASE_URL at it');
    if (await isPostgresDatabaseInUse(to)) {
      if (!force) throw new BackupError(`${redactUrl(to)} already holds tables: restore into a new, empty database, or give --force to replace what it holds`);
      onStep(`Emptying ${redactUrl(to)} (--force)`);
      await emptyPostgresDatabase(to);
    }
    target = { databaseUrl: to };
  } else if (backup.manifest.database === 'postgres') {
    // A server's backup into a directory: its base backup, as a data directory to start PostgreSQL on.
    const base = backup.manifest.files.find((f) => f.contents === 'pg_basebackup-tgz');
    if (!base) throw new BackupError(`backup ${id} holds no base backup: restore it into a database (--to postgres://…), or pick a backup with one (weekly)`);
    if (!isAbsolute(to)) throw new BackupError('--to needs a postgres:// URL or an absolute directory');
    let note = '';
    if (existsSync(to) && readdirSync(to).length) {
      if (!force) throw new BackupError(`${to} is not empty: give a new directory, or --force to move what it holds aside`);
      const aside = `${to}.replaced-${backupId(app.clock.now(), randomBytes(2).toString('hex'))}`;
      renameSync(to, aside);
      note = ` (what it held is kept in ${aside})`;
    }
    onStep(`Unpacking the base backup of ${id} into ${to}`);
    await extractBaseBackup(decryptedFile(backup, base), to);
    await recordAudit(app, { action: 'backup.restored', actor: who.actor, ip: who.ip, target: id, details: { to, force, base: true } });
    return `unpacked the base backup of ${id} into ${to}${note}: a PostgreSQL data directory with its WAL; start a server of the same major version on it`;
  } else {
    if (!isAbsolute(to)) throw new BackupError('--to needs a postgres:// URL or an absolute directory');
    if (to === app.config.dataDir) throw new BackupError("that is this Haven's own data directory: restore into a new directory, then point HAVEN_DATA_DIR at it");
    try {
      unlock = await lockDataDir(to);
    } catch (error) {
      if (error instanceof DataDirLockedError) throw new BackupError(`${to} is in use by a running Haven: stop it first`);
      throw error;
    }
    const dbDir = join(to, 'db');
    if (existsSync(dbDir) && readdirSync(dbDir).length) {
      if (!force) {
        unlock();
        throw new BackupError(`${to} already holds a database: restore into a new directory, or give --force to move it aside and replace it`);
      }
      const aside = `${dbDir}.replaced-${backupId(app.clock.now(), randomBytes(2).toString('hex'))}`;
      renameSync(dbDir, aside);
      note = ` (the database it held is kept in ${aside})`;
    }
    target = { pgliteDir: dbDir };
  }
  try {
    onStep(`Restoring backup ${id} into ${redactUrl(to)}`);
    const restored = await restoreDump(file.contents, decryptedFile(backup, file), target, app.config.pgBinDir);
    try {
      const counts = await tableCounts(restored);
      for (const [table, expected] of Object.entries(backup.manifest.tables)) {
        if (counts[table] !== expected) throw new BackupDamagedError(`table ${table} restored with ${counts[table] ?? 'no'} rows, the manifest says ${expected}`);
      }
      // DESIGN §1.10: after a restore, every document is checked against the database (on the
      // schema this Haven runs, as its next start would migrate it).
      onStep('Checking every document of the restored database');
      await restored.migrate();
      const documents = await verifyDocuments(appOver(app, restored));
      const first = documents.problems[0];
      if (first) {
        throw new BackupDamagedError(
          `restored, but ${documents.problems.length} of ${documents.checked} documents are missing or damaged (first: case ${first.caseNumber} document ${first.documentId}: ${first.problem}); haven documents verify on the restored site lists them`,
        );
      }
      note += `; ${documents.checked} document${documents.checked === 1 ? '' : 's'} checked, all present and intact`;
    } finally {
      await restored.close();
    }
    if ('pgliteDir' in target && app.keys.path && !existsSync(join(to, 'master.key'))) {
      copyFileSync(app.keys.path, join(to, 'master.key'));
      note += '; the key file was copied beside it';
    }
  } finally {
    unlock();
  }
  await recordAudit(app, { action: 'backup.restored', actor: who.actor, ip: who.ip, target: id, details: { to: redactUrl(to), force } });
  return `restored backup ${id} into ${redactUrl(to)}${note}`;
}

function redactUrl(to: string): string {
  if (!/^postgres(ql)?:\/\//.test(to)) return to;
  const url = new URL(to);
  if (url.password) url.password = '***';
  return url.toString();
}

function sameDatabase(a: string, b: string): boolean {
  const x = new URL(a);
  const y = new URL(b);
  return x.hostname === y.hostname && (x.port || '5432') === (y.port || '5432') && x.pathname === y.pathname;
}

/** The run in progress or the last one, and the last restore test: what Admin > Backups and /readyz show. */
export async function backupStatus(app: App) {
  const [lastRun] = await app.db.select().from(backupRuns).orderBy(desc(backupRuns.startedAt)).limit(1);
  const [lastCheck] = await app.db.select().from(backupChecks).orderBy(desc(backupChecks.startedAt), desc(backupChecks.id)).limit(1);
  const [lastGood] = await app.db.select().from(backupRuns).where(eq(backupRuns.status, 'ok')).orderBy(desc(backupRuns.startedAt)).limit(1);
  return { lastRun: lastRun ?? null, lastCheck: lastCheck ?? null, lastGood: lastGood ?? null };
}

/** The last scheduled backup's start, for the nightly schedule. */
export async function lastScheduledBackupStart(app: App): Promise<Date | null> {
  const [row] = await app.db.select({ at: backupRuns.startedAt }).from(backupRuns).where(eq(backupRuns.trigger, 'scheduled')).orderBy(desc(backupRuns.startedAt)).limit(1);
  return row?.at ?? null;
}

export async function lastRestoreTestStart(app: App): Promise<Date | null> {
  const [row] = await app.db.select({ at: backupChecks.startedAt }).from(backupChecks).orderBy(desc(backupChecks.startedAt)).limit(1);
  return row?.at ?? null;
}

/**
 * What is wrong with backups now, one line each: the last run or the last restore test failed.
 * `withReasons` false (the public /readyz) leaves the reasons out: they name files, tables and
 * key ids, which are for the administrators' page, not for anyone who can reach the server.
 */
export async function backupWarnings(app: App, withReasons = true): Promise<string[]> {
  const { lastRun, lastCheck } = await backupStatus(app);
  const reason = (text: string | null) => (withReasons ? `: ${text ?? ''}` : ' (see Admin > Backups)');
  const warnings: string[] = [];
  if (lastRun?.status === 'failed' || lastRun?.status === 'interrupted') warnings.push(`backup ${lastRun.id} ${lastRun.status}${reason(lastRun.error)}`);
  if (lastCheck?.status === 'failed') warnings.push(`restore test of ${lastCheck.backupId} failed${reason(lastCheck.reason)}`);
  return warnings;
}

/**
 * "Back up now" on Admin > Backups: a backup, then its restore test, in the background. Answers
 * false at once when a backup or restore test is already running (on any instance).
 */
export async function startBackupNow(app: App, who: Who): Promise<boolean> {
  const { running } = await backupPageData(app);
  if (running) return false;
  void (async () => {
    try {
      const { id } = await runBackup(app, 'manual', who);
      await verifyBackup(app, id, who);
    } catch (error) {
      // Recorded on the run's or the test's row, audited and mailed where it failed.
      app.log.warn({ err: error }, 'backup now did not finish');
    }
  })();
  return true;
}

/** Everything Admin > Backups shows. */
export async function backupPageData(app: App) {
  const [runs, checks, backups, settings] = await Promise.all([
    app.db.select().from(backupRuns).orderBy(desc(backupRuns.startedAt)).limit(10),
    app.db.select().from(backupChecks).orderBy(desc(backupChecks.startedAt), desc(backupChecks.id)).limit(10),
    listBackups(app),
    getSiteSettings(app),
  ]);
  const runningRun = runs.find((r) => r.status === 'running');
  const runningCheck = checks.find((c) => c.status === 'running');
  return {
    runs,
    checks,
    backups,
    settings,
    backupDir: app.config.backupDir,
    running: runningRun ? { what: 'Backup', step: runningRun.step, since: runningRun.startedAt } : runningCheck ? { what: 'Restore test', step: runningCheck.step, since: runningCheck.startedAt } : null,
    warnings: await backupWarnings(app),
    failover: { mode: app.failover.mode, replicaConfigured: Boolean(app.config.replicaUrl), standbys: await standbyLag(app).catch(() => null) },
  };
}

export type BackupPageData = Awaited<ReturnType<typeof backupPageData>>;
