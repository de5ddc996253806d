// Backups (issue 12), attacked: a backup taken while writes go on restores to exactly its
// snapshot; damage of every kind (a flipped byte, a cut-off or missing file, a changed manifest,
// the wrong key) fails the restore test with its reason, mails the administrators and shows on
// /readyz; restore refuses a database that holds data; retention keeps what it must.
import { randomBytes } from 'node:crypto';
import { execFile as execFileCallback } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, type TestHaven } from '../helpers/app.ts';
import { createDatabase } from '../helpers/postgres.ts';
import { APPLICANT } from '../cases/helpers.ts';
import { auditRows, intakeCase, signIn } from '../cases/attack-kit.ts';
import { runBackup, verifyBackup, restoreBackup, listBackups } from '../../src/backup/service.ts';
import { decryptedFile, openBackup } from '../../src/backup/files.ts';
import { storeDocument } from '../../src/documents/service.ts';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { tableCounts } from '../../src/db/dump.ts';
import { currentRing, keysInMemory } from '../../src/keys/records.ts';
import { newKeyRing } from '../../src/keys/service.ts';
import { openIdentity } from '../../src/clients/service.ts';
import { runCommand } from '../../src/cli/commands.ts';

const execFile = promisify(execFileCallback);
const SYSTEM = { actor: null, ip: null };

async function tableRows(database: Database, table: string): Promise<string[]> {
  const rows = await database.rows<{ r: string }>(sql.raw(`SELECT to_jsonb(t)::text AS r FROM public."${table}" t ORDER BY 1`));
  return rows.map((r) => r.r);
}

describe.each(DB_KINDS)('backups (%s)', (kind) => {
  let haven: TestHaven;
  let backupDir: string;
  let caseId: string;
  let caseNumber: string;
  const documentBytes = randomBytes(300_000);

  beforeAll(async () => {
    backupDir = mkdtempSync(join(tmpdir(), 'haven-backups-'));
    haven = await startTestHaven(kind, { config: { backupDir } });
    await haven.createUser('admin', 'Site Administrator');
    await haven.createUser('ivy', 'Intake Worker');
    const created = await intakeCase(await signIn(haven, 'ivy'), { ...APPLICANT, first_name: 'Rosalind', last_name: 'Backupson' });
    caseId = created.id;
    caseNumber = created.number;
    await storeDocument(haven.app, { caseId, caseNumber, name: 'lease.pdf', source: 'upload', bytes: (async function* () { yield documentBytes; })(), maxBytes: 10_000_000, who: SYSTEM });
  });
  afterAll(async () => {
    await haven?.close();
    rmSync(backupDir, { recursive: true, force: true });
  });

  test('a backup holds the database encrypted, passes its restore test, and restores row for row', async () => {
    const { id, manifest } = await runBackup(haven.app, 'manual', SYSTEM);
    expect(manifest.tables.clients).toBe(1);
    expect(manifest.tables.document_chunks).toBeGreaterThan(0);
    expect(manifest.masterKeyId).toBe(currentRing(haven.app.keys).current.id);
    // Encrypted on disk: neither the document's bytes nor the client's name are in the file.
    const stored = readFileSync(join(backupDir, id, manifest.files[0]!.name));
    expect(stored.includes(documentBytes.subarray(1000, 1064))).toBe(false);
    expect(stored.includes(Buffer.from('Backupson'))).toBe(false);

    const check = await verifyBackup(haven.app, id, SYSTEM);
    expect(check.reason).toBeNull();
    expect(check.passed).toBe(true);
    expect(check.details).toMatchObject({ documents: 1, sealedSample: { clients: 1 } });
    expect(check.restoreMs).toBeGreaterThanOrEqual(0);
    expect((await auditRows(haven, 'backup.verified')).map((r) => r.target)).toContain(id);
    expect((await listBackups(haven.app))[0]).toMatchObject({ id, check: { status: 'passed' } });

    // Restore into a new database or directory, and read it back: every table as it was.
    const target = kind === 'postgres' ? await createDatabase(inject('pgClusterUrl')) : mkdtempSync(join(tmpdir(), 'haven-restore-'));
    expect(await restoreBackup(haven.app, id, target, false, SYSTEM)).toMatch(/^restored backup .*; 1 document checked, all present and intact/);
    const restored = await openDatabase(kind === 'postgres' ? { databaseUrl: target } : { pgliteDir: join(target, 'db') });
    try {
      for (const table of ['clients', 'cases', 'documents', 'document_chunks', 'users']) {
        expect(await tableRows(restored, table), table).toEqual(await tableRows(haven.app.database, table));
      }
      // The audit log went on after the backup (its own entries): the backup holds its start, entry for entry.
      const audit = await tableRows(restored, 'audit_log');
      expect(audit).toHaveLength(manifest.tables.audit_log!);
      expect(await tableRows(haven.app.database, 'audit_log')).toEqual(expect.arrayContaining(audit));
      const [client] = await restored.rows<{ id: string; data_key: string; dob_sealed: string; ssn_sealed: string }>(sql`SELECT id, data_key, dob_sealed, ssn_sealed FROM clients`);
      expect(openIdentity(haven.app, { id: client!.id, dataKey: client!.data_key, dobSealed: client!.dob_sealed, ssnSealed: client!.ssn_sealed })).toEqual({ dateOfBirth: APPLICANT.date_of_birth, ssn: '123456789' });
    } finally {
      await restored.close();
      if (kind === 'pglite') rmSync(target, { recursive: true, force: true });
    }
  });

  test('restore refuses the live database and a target that holds data, unless --force', async () => {
    const { id } = await runBackup(haven.app, 'manual', SYSTEM);
    if (kind === 'postgres') {
      const live = haven.app.database.source.kind === 'postgres' ? haven.app.database.source.url : '';
      await expect(restoreBackup(haven.app, id, live, true, SYSTEM)).rejects.toThrow(/the database this Haven runs on/);
      const used = await createDatabase(inject('pgClusterUrl'));
      const other = await openDatabase({ databaseUrl: used });
      await other.rows(sql`CREATE TABLE precious (n int)`);
      await other.close();
      await expect(restoreBackup(haven.app, id, used, false, SYSTEM)).rejects.toThrow(/already holds tables.*--force/);
      expect(await restoreBackup(haven.app, id, used, true, SYSTEM)).toMatch(/^restored/);
      await expect(restoreBackup(haven.app, id, join(tmpdir(), 'x'), false, SYSTEM)).rejects.toThrow(/holds no base backup/);
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'haven-restore-'));
      try {
        expect(await restoreBackup(haven.app, id, dir, false, SYSTEM)).toMatch(/^restored/);
        await expect(restoreBackup(haven.app, id, dir, false, SYSTEM)).rejects.toThrow(/already holds a database.*--force/);
        expect(await restoreBackup(haven.app, id, dir, true, SYSTEM)).toMatch(/kept in .*db\.replaced-/);
        expect(readdirSync(dir).filter((n) => n.startsWith('db.replaced-'))).toHaveLength(1);
        await expect(restoreBackup(haven.app, id, 'postgres://x@127.0.0.1/db', false, SYSTEM)).rejects.toThrow(/data directory/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  const damages: [string, (dir: string, file: string) => void, RegExp][] = [
    ['a flipped byte', (dir, file) => {
      const bytes = readFileSync(join(dir, file));
      bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
      writeFileSync(join(dir, file), bytes);
    }, /does not match its SHA-256 in the manifest: it is damaged/],
    ['a truncated file', (dir, file) => truncateSync(join(dir, file), 1000), /is 1000 bytes, the manifest says \d+: it was cut short/],
    ['a missing file', (dir, file) => unlinkSync(join(dir, file)), /database\.[a-z.]+\.enc of backup \S+ is missing/],
    ['a changed manifest', (dir) => {
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      manifest.tables.clients = 0;
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    }, /manifest\.json of backup \S+ fails its MAC/],
    ['a missing manifest', (dir) => unlinkSync(join(dir, 'manifest.json')), /has no manifest\.json/],
  ];

  test.each(damages)('%s fails the restore test with its reason, mails the administrators and shows on /readyz', async (_name, damage, reason) => {
    haven.clock.advance(60_000);
    const { id, manifest } = await runBackup(haven.app, 'manual', SYSTEM);
    damage(join(backupDir, id), manifest.files[0]!.name);
    const result = await runCommand(haven.app, { argv: ['backup', 'verify', id] });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(reason);
    const mail = await haven.app.database.rows<{ to_address: string; text_body: string }>(sql`SELECT to_address, text_body FROM mail_outbox WHERE subject = 'Haven restore test failed' AND strpos(text_body, ${id}) > 0`);
    expect(mail.map((m) => m.to_address)).toEqual(['admin@example.org']);
    expect(mail[0]!.text_body).toMatch(reason);
    const ready = await haven.client().get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatch(new RegExp(`restore test of ${id} failed`));
    // /readyz is public: it says that the test failed, not why (the reason names files and keys).
    expect(ready.body).not.toMatch(reason);
  });

  test('the wrong key file fails with a reason that says so', async () => {
    const { id } = await runBackup(haven.app, 'manual', SYSTEM);
    const stranger = { ...haven.app, keys: keysInMemory(newKeyRing(haven.clock.now())) };
    const check = await verifyBackup(stranger, id, SYSTEM);
    expect(check.passed).toBe(false);
    expect(check.reason).toMatch(/encrypted under master key \S+, which the key file does not hold/);
    // Its bytes do not open under another key either, even past the manifest.
    const opened = await openBackup(backupDir, id, currentRing(haven.app.keys));
    const forged = { ...opened, key: randomBytes(32) };
    await expect(async () => {
      for await (const _ of decryptedFile(forged, opened.manifest.files[0]!)) void _;
    }).rejects.toThrow(/fails its authentication/);
  });

  test('an id that is not a backup id is refused before any file is touched', async () => {
    const result = await runCommand(haven.app, { argv: ['backup', 'verify', '../../etc'] });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is not a backup id/);
  });

  test('a restore checks every document against the database, and reports one damaged before the backup', async () => {
    const flip = sql`UPDATE document_chunks SET data = set_byte(data, 40, get_byte(data, 40) # 1) WHERE seq = 0 AND document_id = (SELECT id FROM documents ORDER BY id LIMIT 1)`;
    await haven.app.database.rows(flip);
    try {
      const { id } = await runBackup(haven.app, 'manual', SYSTEM);
      const target = kind === 'postgres' ? await createDatabase(inject('pgClusterUrl')) : mkdtempSync(join(tmpdir(), 'haven-restore-'));
      await expect(restoreBackup(haven.app, id, target, false, SYSTEM)).rejects.toThrow(/^restored, but 1 of 1 documents are missing or damaged \(first: case \d{2}-\d{6} document [0-9a-f-]{36}: /);
    } finally {
      await haven.app.database.rows(flip);
    }
  });
});

describe('a PostgreSQL backup taken while writes go on', () => {
  let haven: TestHaven;
  let backupDir: string;

  beforeAll(async () => {
    backupDir = mkdtempSync(join(tmpdir(), 'haven-backups-'));
    haven = await startTestHaven('postgres', { config: { backupDir } });
    await haven.createUser('ivy', 'Intake Worker');
    await intakeCase(await signIn(haven, 'ivy'), { ...APPLICANT, first_name: 'Ada', last_name: 'Snapshot' });
  });
  afterAll(async () => {
    await haven?.close();
    rmSync(backupDir, { recursive: true, force: true });
  });

  test('restores to exactly its snapshot: the same pg_dump as the archive, matching counts, no broken index', async () => {
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await haven.app.database.rows(sql`INSERT INTO job_runs (job, started_at, outcome) VALUES ('test.write', now(), 'ok')`);
        written++;
      }
    })();
    let backup;
    try {
      while (written < 20) await new Promise((r) => setTimeout(r, 10));
      backup = await runBackup(haven.app, 'manual', SYSTEM);
    } finally {
      writing = false;
      await writer;
    }
    const before = written;
    expect(before).toBeGreaterThan(20);
    // The snapshot is a moment inside the run: not all rows written during it, and none lost before it.
    const snapshotRows = backup.manifest.tables.job_runs!;
    expect(snapshotRows).toBeGreaterThanOrEqual(20);
    expect(snapshotRows).toBeLessThanOrEqual((await tableCounts(haven.app.database)).job_runs!);

    const target = await createDatabase(inject('pgClusterUrl'));
    await restoreBackup(haven.app, backup.id, target, false, SYSTEM);
    const restored = await openDatabase({ databaseUrl: target });
    try {
      expect(await tableCounts(restored)).toEqual(backup.manifest.tables);
    } finally {
      await restored.close();
    }
    // pg_dump of the restored database equals the archive's own script, statement for statement.
    const bin = '/usr/lib/postgresql/15/bin';
    const opened = await openBackup(backupDir, backup.id, currentRing(haven.app.keys));
    const archive = join(backupDir, 'archive.dump');
    const parts: Buffer[] = [];
    for await (const part of decryptedFile(opened, opened.manifest.files[0]!)) parts.push(part as Buffer);
    writeFileSync(archive, Buffer.concat(parts));
    const flags = ['--no-owner', '--no-privileges'];
    const clean = (text: string) => text.split('\n').filter((l) => !/^\\(un)?restrict /.test(l) && !l.startsWith('-- Dumped')).join('\n');
    const fromArchive = (await execFile(join(bin, 'pg_restore'), [...flags, '-f', '-', archive], { maxBuffer: 256 * 1024 * 1024 })).stdout;
    const fromRestored = (await execFile(join(bin, 'pg_dump'), [...flags, `--dbname=${target}`], { maxBuffer: 256 * 1024 * 1024 })).stdout;
    expect(clean(fromRestored)).toEqual(clean(fromArchive));
    expect(fromRestored).toContain('Snapshot');
    // amcheck over every B-tree index of the restored database.
    const check = await openDatabase({ databaseUrl: target });
    try {
      await check.rows(sql`CREATE EXTENSION IF NOT EXISTS amcheck`);
      const indexes = await check.rows<{ name: string }>(
        sql`SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.amname = 'btree' AND n.nspname = 'public'`,
      );
      expect(indexes.length).toBeGreaterThan(20);
      await check.rows(sql`SELECT bt_index_check(c.oid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.amname = 'btree' AND n.nspname = 'public'`);
    } finally {
      await check.close();
    }
  });
});

describe('a PostgreSQL backup with a base backup', () => {
  let haven: TestHaven;
  let backupDir: string;

  beforeAll(async () => {
    backupDir = mkdtempSync(join(tmpdir(), 'haven-backups-'));
    haven = await startTestHaven('postgres', { config: { backupDir } });
    await haven.createUser('ivy', 'Intake Worker');
    await intakeCase(await signIn(haven, 'ivy'), { ...APPLICANT, first_name: 'Basil', last_name: 'Basebackup' });
  });
  afterAll(async () => {
    await haven?.close();
    rmSync(backupDir, { recursive: true, force: true });
  });

  test('is checked by pg_verifybackup, passes the restore test, and unpacks into a data directory PostgreSQL starts on', async () => {
    const result = await runCommand(haven.app, { argv: ['backup', 'run', '--base'] });
    expect(result.code, result.stderr).toBe(0);
    const id = result.stdout.trim().split('\n').pop()!;
    const [listed] = await listBackups(haven.app);
    expect(listed!.manifest.files.map((f) => f.contents)).toEqual(['pg_dump-custom', 'pg_basebackup-tgz']);
    expect((await verifyBackup(haven.app, id, SYSTEM)).passed).toBe(true);

    const parent = mkdtempSync(join(tmpdir(), 'haven-base-'));
    const dir = join(parent, 'data');
    try {
      expect(await restoreBackup(haven.app, id, dir, false, SYSTEM)).toMatch(/^unpacked the base backup/);
      expect(readdirSync(dir)).toEqual(expect.arrayContaining(['PG_VERSION', 'backup_manifest', 'base', 'pg_wal']));
      await expect(restoreBackup(haven.app, id, dir, false, SYSTEM)).rejects.toThrow(/not empty.*--force/);
      // Start PostgreSQL on it (as the postgres user, on its own port) and read the client back.
      const port = 20000 + Math.floor(Math.random() * 20000);
      writeFileSync(join(dir, 'postgresql.conf'), `${readFileSync(join(dir, 'postgresql.conf'), 'utf8')}\nport = ${port}\nunix_socket_directories = '${parent}'\n`);
      await execFile('chown', ['-R', 'postgres:postgres', parent]);
      const pgCtl = (...args: string[]) => execFile('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', '-D', dir, ...args], { cwd: parent });
      await pgCtl('-w', '-l', join(parent, 'log'), 'start');
      try {
        const url = new URL(haven.app.database.source.kind === 'postgres' ? haven.app.database.source.url : '');
        url.port = String(port);
        const copy = await openDatabase({ databaseUrl: url.toString() });
        try {
          expect(await copy.rows(sql`SELECT last_name FROM clients`)).toEqual([{ last_name: 'Basebackup' }]);
        } finally {
          await copy.close();
        }
      } finally {
        await pgCtl('-m', 'immediate', 'stop');
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
