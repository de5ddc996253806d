// Dates of birth and SSNs are sealed at rest (DESIGN §1.5 beyond, issue 11): the raw database
// files hold neither, a sealed value moved to another row or column does not open, search and
// the conflict check still find a date of birth, a key file that is not the database's is
// refused, and clients stored in clear before this release are sealed on upgrade.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, freshDatabase, startTestHaven, type TestHaven } from '../helpers/app.ts';
import type { TestClient } from '../helpers/client.ts';
import { APPLICANT } from '../cases/helpers.ts';
import { auditRows, intake, intakeCase, openedApplications, openedClients, signIn, textOf } from '../cases/attack-kit.ts';
import { openApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { checkKeysAgainstDatabase, keysInMemory } from '../../src/keys/records.ts';
import { newKeyRing, newMasterKey, KeyFileError } from '../../src/keys/service.ts';
import { SealingError } from '../../src/security/sealing.ts';
import { ManualClock } from '../../src/clock.ts';

/** Every regular file under `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((path) => {
      try {
        return statSync(path).isFile();
      } catch {
        return false; // removed while listing (a WAL segment recycled)
      }
    });
}

/** The files under `dirs` whose bytes contain `needle` (UTF-8). */
function filesContaining(dirs: string[], needle: string): string[] {
  const bytes = Buffer.from(needle, 'utf8');
  return dirs.flatMap(filesUnder).filter((path) => {
    try {
      return readFileSync(path).includes(bytes);
    } catch {
      return false;
    }
  });
}

const CONFIG = loadConfig({ HAVEN_DATA_DIR: '/nonexistent-haven-test' });

describe.each(DB_KINDS)('nothing sensitive on disk (%s)', (kind) => {
  test('the raw database files hold no SSN or date of birth in clear, though they hold the names', async () => {
    const fresh = await freshDatabase(kind);
    const haven = await startTestHaven(kind, { database: fresh.database });
    try {
      await haven.createUser('ivy', 'Intake Worker');
      await haven.createUser('sup', 'Supervisor');
      const ivy = await signIn(haven, 'ivy');
      // Values found nowhere else in the test run, so a hit can only be these.
      const ssn = '619-27-4853';
      const dob = '1937-11-28';
      const created = await intakeCase(ivy, { ...APPLICANT, first_name: 'Ottoline', last_name: 'Quarrendon', date_of_birth: dob, ssn });
      // An application left at its conflict stage holds its identity too.
      const pending = await intake(ivy, { ...APPLICANT, first_name: 'Perpetua', last_name: 'Wolstenholme', date_of_birth: '1939-02-17', ssn: '618-35-2947' }, { stopAt: 'conflicts' });
      expect(pending.outcome).toBe('stopped');
      // Haven itself opens them.
      const sup = await signIn(haven, 'sup');
      expect(textOf((await sup.get(`/cases/${created.id}`)).body, 'client-ssn')).toBe('619-27-4853');
      // A document: its text and its name are sealed too (several chunks, so the scan sees more than one).
      const text = `Affidavit of Ottoline Quarrendon: the heating failed on 4 January. ${'Witnessed and sworn. '.repeat(20_000)}`;
      expect((await sup.upload(`/cases/${created.id}/documents`, 'Quarrendon-affidavit-xq7.txt', Buffer.from(text))).status).toBe(303);
      const listed = await sup.get(`/cases/${created.id}`);
      expect(listed.body).toContain('Quarrendon-affidavit-xq7.txt');
      expect((await openedApplications(haven)).find((a) => a.id === pending.applicationId)!.identity).toMatchObject({ ssn: '618352947', dateOfBirth: '1939-02-17' });

      let dirs: string[];
      if (kind === 'postgres') {
        await haven.app.database.rows(sql`CHECKPOINT`);
        const [where] = await haven.app.database.rows<{ data: string; oid: number }>(
          sql`SELECT current_setting('data_directory') AS data, (SELECT oid FROM pg_database WHERE datname = current_database()) AS oid`,
        );
        dirs = [join(where!.data, 'base', String(where!.oid)), join(where!.data, 'pg_wal')];
      } else {
        // PGlite writes everything out when it closes.
        await haven.app.database.close();
        dirs = [fresh.dir!];
      }
      // The scan reads the right bytes: the names, which are not sealed, are there.
      expect(filesContaining(dirs, 'Quarrendon').length).toBeGreaterThan(0);
      for (const needle of [ssn, ssn.replace(/-/g, ''), dob, '618352947', '618-35-2947', '1939-02-17', 'the heating failed on 4 January', 'Witnessed and sworn', 'affidavit-xq7']) {
        expect(filesContaining(dirs, needle), needle).toEqual([]);
      }
    } finally {
      await haven.close().catch(() => undefined);
      fresh.cleanup();
    }
  });
});

describe.each(DB_KINDS)('sealed identity (%s)', (kind) => {
  let haven: TestHaven;
  let ivy: TestClient;
  let sup: TestClient;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('ivy', 'Intake Worker');
    await haven.createUser('sup', 'Supervisor');
    [ivy, sup] = await Promise.all([signIn(haven, 'ivy'), signIn(haven, 'sup')]);
  });
  afterAll(() => haven?.close());

  test('a sealed value moved to another row, or to another column, does not open', async () => {
    const a = await intakeCase(ivy, { ...APPLICANT, first_name: 'Annabel', last_name: 'Movedfrom', date_of_birth: '1961-04-05', ssn: '612-34-5670' });
    const b = await intakeCase(ivy, { ...APPLICANT, first_name: 'Bartholomew', last_name: 'Movedto', date_of_birth: '1962-05-06', ssn: '613-45-6781' });
    const clientOf = async (caseId: string) => (await haven.app.database.rows<{ id: string }>(sql`SELECT client_id AS id FROM cases WHERE id = ${caseId}`))[0]!.id;
    const [from, to] = [await clientOf(a.id), await clientOf(b.id)];
    // The attacker copies A's sealed SSN onto B, then A's whole sealing (data key too).
    await haven.app.database.rows(sql`UPDATE clients SET ssn_sealed = (SELECT ssn_sealed FROM clients WHERE id = ${from}) WHERE id = ${to}`);
    await expect(openedClients(haven)).rejects.toThrow(SealingError);
    await haven.app.database.rows(
      sql`UPDATE clients SET (data_key, dob_sealed, ssn_sealed) = (SELECT data_key, dob_sealed, ssn_sealed FROM clients WHERE id = ${from}) WHERE id = ${to}`,
    );
    await expect(openedClients(haven)).rejects.toThrow(SealingError);
    // The case page of B does not show A's number: it says the values could not be opened.
    const page = await sup.get(`/cases/${b.id}`);
    expect(page.status).toBe(200);
    expect(page.body).not.toContain('612-34-5670');
    expect(page.body).not.toContain('1961-04-05');
    expect(textOf(page.body, 'client-ssn')).toMatch(/could not be opened/i);
    // A's own date of birth, put in its SSN column, does not open either.
    await haven.app.database.rows(sql`UPDATE clients SET ssn_sealed = dob_sealed WHERE id = ${from}`);
    expect(textOf((await sup.get(`/cases/${a.id}`)).body, 'client-ssn')).toMatch(/could not be opened/i);
  });

  test('search by date of birth and the conflict check compare keyed hashes, and still find the date', async () => {
    const created = await intakeCase(ivy, { ...APPLICANT, first_name: 'Cressida', last_name: 'Hashworth', date_of_birth: '1958-09-14', ssn: '' });
    const found = await ivy.get(`/cases?q=${encodeURIComponent('1958-09-14')}`);
    expect(found.body).toContain(`/cases/${created.id}`);
    expect((await ivy.get(`/cases?q=${encodeURIComponent('1958-09-15')}`)).body).not.toContain(`/cases/${created.id}`);
    // The hash is keyed: the plain SHA-256 of the date is not what is stored.
    const [row] = await haven.app.database.rows<{ dob_hash: string }>(sql`SELECT dob_hash FROM clients WHERE last_name = 'Hashworth'`);
    const { createHash } = await import('node:crypto');
    for (const plain of ['1958-09-14', 'dob\n1958-09-14']) {
      for (const encoding of ['hex', 'base64url', 'base64'] as const) expect(row!.dob_hash).not.toBe(createHash('sha256').update(plain).digest(encoding));
    }
    // Someone else with the same date of birth and a different name: flagged for the date.
    const other = await intake(ivy, { ...APPLICANT, first_name: 'Zenobia', last_name: 'Unrelated', date_of_birth: '1958-09-14', ssn: '', phone: '(413) 555-0188', email: 'z@example.org' }, { stopAt: 'conflicts' });
    expect(other.outcome).toBe('stopped');
    expect(other.page.body).toMatch(/Cressida Hashworth[\s\S]*Same date of birth/);
  });

  test('a key file that is not this database\'s is refused at start, and so is one older than its last rotation', async () => {
    // What openApp runs before anything else touches the data.
    const clock = new ManualClock();
    const open = (keys: ReturnType<typeof keysInMemory>) => checkKeysAgainstDatabase({ ...haven.app, keys });
    await expect(open(keysInMemory(newKeyRing(clock.now())))).rejects.toThrow(/not this database's key file/);
    // The same search key, without the current master key: a key file restored from before a rotation.
    const ring = haven.app.keys.ring;
    const older = newMasterKey(clock.now());
    await expect(open(keysInMemory({ ...ring, current: older, masters: new Map([[older.id, older.key]]), retiring: [] }))).rejects.toThrow(KeyFileError);
    await expect(open(keysInMemory({ ...ring, current: older, masters: new Map([[older.id, older.key]]), retiring: [] }))).rejects.toThrow(/does not hold master key/);
    // A key a rotation retired, come back as the current one.
    await haven.app.database.rows(sql`INSERT INTO sealing_keys (id, kind, added_at) VALUES (${older.id}, 'retired', now())`);
    const withOlder = new Map(ring.masters);
    withOlder.set(older.id, older.key);
    await expect(open(keysInMemory({ ...ring, current: older, masters: withOlder, retiring: [ring.current] }))).rejects.toThrow(/older than this database's last key rotation/);
    await haven.app.database.rows(sql`DELETE FROM sealing_keys WHERE id = ${older.id}`);
    // The right ring passes.
    await open(haven.app.keys);
  });

  test('clients stored in clear before this release are sealed on upgrade, audited, and the clear columns dropped', async () => {
    // A database as the previous release left it: SQL-migrated, the data migration not yet run.
    const fresh = await freshDatabase(kind);
    try {
      const db = fresh.database;
      await db.migrate();
      await db.rows(sql`INSERT INTO clients (id, first_name, last_name, date_of_birth, ssn, search_name, name_keys, created_at, updated_at)
                        VALUES ('00000000-0000-4000-8000-000000000001', 'Old', 'Clearstored', '1944-03-02', '617283940', 'old clearstored', '{}', now(), now())`);
      const keys = keysInMemory(newKeyRing(new Date()));
      const upgraded = await openApp(CONFIG, { clock: new ManualClock(), database: db, log: pino({ level: 'silent' }), keys });
      const columns = (await db.rows<{ name: string }>(sql`SELECT column_name AS name FROM information_schema.columns WHERE table_name IN ('clients', 'intake_applications')`)).map((c) => c.name);
      expect(columns).not.toContain('ssn');
      expect(columns).not.toContain('date_of_birth');
      expect(columns).not.toContain('identity');
      const [row] = await db.rows<{ id: string; data_key: string; dob_sealed: string; ssn_sealed: string; dob_hash: string; ssn_length: number }>(
        sql`SELECT id, data_key, dob_sealed, ssn_sealed, dob_hash, ssn_length FROM clients`,
      );
      expect(row!.ssn_sealed).toMatch(/^s1\./);
      expect(row!.ssn_length).toBe(9);
      const { openIdentity } = await import('../../src/clients/service.ts');
      expect(openIdentity(upgraded, { id: row!.id, dataKey: row!.data_key, dobSealed: row!.dob_sealed, ssnSealed: row!.ssn_sealed })).toEqual({ dateOfBirth: '1944-03-02', ssn: '617283940' });
      const audit = await auditRows({ app: upgraded } as TestHaven, 'keys.identity_sealed');
      expect(audit.map((e) => e.details)).toEqual([{ clients: 1, applications: 0 }]);
    } finally {
      await fresh.database.close();
      fresh.cleanup();
    }
  });
});
