// The full data export (`haven export --to DIR`): every table a site administrator may see, as
// CSV, with a manifest written last; the files re-count to the manifest and hash to it; secrets
// stay out; the export is audited before anything is read; bad targets get one line.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, type TestHaven } from '../helpers/app.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { EXPORTED_TABLES, NOT_EXPORTED, type ExportManifest } from '../../src/export/service.ts';
import { describeEntry } from '../../src/audit/describe.ts';
import { APPLICANT, runIntake } from '../cases/helpers.ts';
import { signIn } from '../cases/attack-kit.ts';

/** Every file under `dir`, the documents' folders included. */
function filesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

const DOCUMENTS: [string, Buffer][] = [
  ['Notice to quit.txt', Buffer.from('Notice to quit, served 3 March.\n')],
  ['scan.bin', Buffer.concat(Array.from({ length: 40 }, (_, i) => createHash('sha256').update(String(i)).digest()).concat(Buffer.alloc(300_000, 7)))],
];

describe.each(DB_KINDS)('haven export --to DIR (%s)', (kind) => {
  let haven: TestHaven;
  const scratch = mkdtempSync(join(tmpdir(), 'haven-export-test-'));
  const dir = join(scratch, 'out');
  let run: Awaited<ReturnType<typeof runCommand>>;
  let manifest: ExportManifest;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('root', 'Site Administrator');
    await haven.createUser('ivy', 'Intake Worker');
    const ivy = await signIn(haven, 'ivy');
    const intake = await runIntake(ivy, { ...APPLICANT, adverse_parties: 'Ronald "Ron" O\'Neil, Jr.\nAcme, Inc.' });
    expect(intake.outcome).toBe('case');
    // Two documents on the case, one of several chunks.
    const root = await signIn(haven, 'root');
    const caseUrl = intake.url.split('?')[0]!;
    for (const [name, bytes] of DOCUMENTS) {
      haven.clock.advance(1000);
      await root.get(caseUrl);
      expect((await root.upload(`${caseUrl}/documents`, name, bytes)).status).toBe(303);
    }
    run = await runCommand(haven.app, { argv: ['export', '--to', dir] });
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ExportManifest;
  }, 60_000);
  afterAll(async () => {
    await haven?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('it succeeds, saying table by table what it wrote', () => {
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^clients: 1 row$/m);
    expect(run.stdout).toMatch(/^exported \d+ tables, \d+ rows, to /m);
  });

  test('every table of the schema has a rule, and every exported table has its file', async () => {
    const tables = (await haven.app.database.rows<{ name: string }>(sql`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)).map((t) => t.name);
    for (const table of tables) expect(table in EXPORTED_TABLES || table in NOT_EXPORTED, table).toBe(true);
    expect(manifest.tables.map((t) => t.table).sort()).toEqual(tables.filter((t) => t in EXPORTED_TABLES).sort());
    expect(readdirSync(dir).sort()).toEqual([...manifest.tables.map((t) => t.file), 'documents', 'manifest.json'].sort());
  });

  test('each file hashes to the manifest, and re-counting its rows gives the manifest and the database', async () => {
    for (const entry of manifest.tables) {
      const bytes = readFileSync(join(dir, entry.file));
      expect(createHash('sha256').update(bytes).digest('hex'), entry.file).toBe(entry.sha256);
      const records = parse(bytes, { bom: false, relax_column_count: false }) as string[][];
      expect(records.length - 1, entry.file).toBe(entry.rows);
      const [row] = await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM ${sql.identifier(entry.table)}`);
      expect(entry.rows, entry.table).toBe(row!.n);
    }
    expect(manifest.tables.find((t) => t.table === 'cases')!.rows).toBe(1);
  });

  test('values come back as they are stored: quotes, commas and line breaks survive', () => {
    const parties = parse(readFileSync(join(dir, 'adverse_parties.csv')), { columns: true }) as Record<string, string>[];
    expect(parties.map((p) => p.full_name).sort()).toEqual(['Acme, Inc.', 'Ronald "Ron" O\'Neil, Jr.']);
    const clients = parse(readFileSync(join(dir, 'clients.csv')), { columns: true }) as Record<string, string>[];
    expect(clients[0]!.last_name).toBe(APPLICANT.last_name);
    expect(clients[0]!.created_at).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?\+00$/);
    expect(clients[0]!.aliases).toBe('[]');
  });

  test('documents are written opened, in a folder per case, each matching its size and SHA-256 in the manifest', () => {
    expect(manifest.documents).toHaveLength(DOCUMENTS.length);
    expect(manifest.damagedDocuments).toEqual([]);
    for (const [name, bytes] of DOCUMENTS) {
      const entry = manifest.documents.find((d) => d.file.endsWith(`-${name}`))!;
      expect(entry.file).toMatch(new RegExp(`^documents/\\d{2}-\\d{6}/[0-9a-f-]{36}-`));
      const written = readFileSync(join(dir, entry.file));
      expect(written.equals(bytes), name).toBe(true);
      expect(entry).toMatchObject({ size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
    const listed = parse(readFileSync(join(dir, 'documents.csv')), { columns: true }) as Record<string, string>[];
    expect(listed.map((d) => d.name).sort()).toEqual(DOCUMENTS.map(([name]) => name).sort());
    for (const sealed of ['data_key', 'name_sealed', 'sha256_sealed']) expect(Object.keys(listed[0]!)).not.toContain(sealed);
    expect(run.stdout).toMatch(/^documents: 2 written, 0 damaged$/m);
  });

  test('dates of birth and SSNs, sealed in the database, are written opened; the sealed columns are not', () => {
    const clients = parse(readFileSync(join(dir, 'clients.csv')), { columns: true }) as Record<string, string>[];
    expect(clients[0]).toMatchObject({ date_of_birth: APPLICANT.date_of_birth, ssn: APPLICANT.ssn.replace(/-/g, '') });
    for (const sealed of ['data_key', 'dob_sealed', 'ssn_sealed', 'dob_hash']) expect(Object.keys(clients[0]!)).not.toContain(sealed);
    const applications = parse(readFileSync(join(dir, 'intake_applications.csv')), { columns: true }) as Record<string, string>[];
    for (const sealed of ['data_key', 'identity_sealed']) expect(Object.keys(applications[0]!)).not.toContain(sealed);
    expect(Object.keys(applications[0]!)).toContain('identity');
  });

  test('no password hash, TOTP secret, session or token is in any file', async () => {
    const users = parse(readFileSync(join(dir, 'users.csv')), { columns: true }) as Record<string, string>[];
    expect(Object.keys(users[0]!)).not.toContain('password_hash');
    expect(Object.keys(users[0]!)).not.toContain('mfa_totp_secret');
    const secrets = await haven.app.database.rows<{ s: string }>(sql`SELECT password_hash AS s FROM users UNION ALL SELECT id FROM sessions`);
    expect(secrets.length).toBeGreaterThan(2);
    const everything = filesIn(dir).map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const { s } of secrets) expect(everything.includes(s)).toBe(false);
  });

  test('only its owner may read it', () => {
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of filesIn(dir)) expect(statSync(f).mode & 0o777, f).toBe(0o600);
    for (const d of readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)).filter((f) => statSync(f).isDirectory())) {
      expect(statSync(d).mode & 0o777, d).toBe(0o700);
    }
  });

  test('it is in the audit log, recorded before anything was read', async () => {
    const entries = await haven.app.database.rows<{ seq: number; action: string; target: string; actor_login: string | null }>(sql`SELECT seq, action, target, actor_login FROM audit_log WHERE action = 'export.run'`);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.target).toBe(dir);
    const exported = parse(readFileSync(join(dir, 'audit_log.csv')), { columns: true }) as Record<string, string>[];
    expect(exported.some((e) => e.action === 'export.run')).toBe(true);
    expect(describeEntry({ ...entries[0]!, actorLogin: null, actorId: null, at: new Date(), ip: null, details: null } as never)).toContain('exported all data');
  });

  test('a directory that is not empty, a file, or a relative path is refused in one line, and nothing is written', async () => {
    const full = join(scratch, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'keep.txt'), 'mine');
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'x');
    for (const [target, code] of [
      [full, 1],
      [file, 1],
      [dir, 1],
      ['relative/dir', 2],
    ] as const) {
      const refused = await runCommand(haven.app, { argv: ['export', '--to', target] });
      expect(refused.code, target).toBe(code);
      expect(refused.stderr.trim().split('\n'), target).toHaveLength(1);
    }
    expect(readdirSync(full)).toEqual(['keep.txt']);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  test('hostile text as the directory (NUL, lone surrogates, line breaks, 100 kB) gets one line and writes nothing', async () => {
    const hostile = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('\u0000', '\ud800', 'a\nb', 'x'.repeat(100_000), '\u202e'));
    const before = await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log WHERE action = 'export.run'`);
    await fc.assert(
      fc.asyncProperty(hostile, async (text) => {
        // Relative: refused as usage. Absolute but with a NUL: no file system takes it.
        for (const [target, code] of [
          [`x${text}`, 2],
          [`${scratch}/fuzz/${text}\u0000`, 1],
        ] as const) {
          const refused = await runCommand(haven.app, { argv: ['export', '--to', target] });
          expect(refused.code).toBe(code);
          expect(refused.stdout).toBe('');
          expect(refused.stderr.endsWith('\n')).toBe(true);
          expect(refused.stderr.slice(0, -1)).not.toMatch(/[\r\n]/);
        }
      }),
      { numRuns: 60 },
    );
    expect(readdirSync(scratch).sort()).toEqual(['a-file', 'full', 'out']);
    const after = await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log WHERE action = 'export.run'`);
    expect(after[0]!.n).toBe(before[0]!.n);
  });
});
