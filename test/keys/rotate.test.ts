// `haven keys rotate` (issue 11): it runs while requests are served, is killed half-way, is run
// again, and then everything still opens and the old master key is no longer needed. A process
// that still holds the retired key cannot store data under it.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, freshDatabase, startTestHaven, type TestHaven } from '../helpers/app.ts';
import { makeHavenDataDir, PROJECT_ROOT, runHaven } from '../helpers/cli.ts';
import type { TestClient } from '../helpers/client.ts';
import { APPLICANT } from '../cases/helpers.ts';
import { auditRows, intakeCase, openedClients, signIn, textOf } from '../cases/attack-kit.ts';
import { clients } from '../../src/db/schema.ts';
import { clientSearchColumns, insertClient, sealedIdentityColumns } from '../../src/clients/service.ts';
import { keysInMemory, loadKeys } from '../../src/keys/records.ts';
import { loadKeyRing } from '../../src/keys/service.ts';
import { rotateMasterKey } from '../../src/keys/rotate.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { wrappingKeyId } from '../../src/security/sealing.ts';

/** `n` clients without cases, each with a sealed date of birth and SSN derived from its number. */
async function seedClients(haven: TestHaven, n: number): Promise<void> {
  for (let start = 0; start < n; start += 500) {
    const rows = Array.from({ length: Math.min(500, n - start) }, (_, k) => {
      const i = start + k;
      const id = randomUUID();
      const name = { firstName: 'Bulk', lastName: `Rotation${i}`, aliases: [] as string[] };
      const identity = { dateOfBirth: `19${String(10 + (i % 80)).padStart(2, '0')}-01-0${1 + (i % 9)}`, ssn: `6${String(i).padStart(8, '0')}` };
      return { id, ...name, ...clientSearchColumns(name), ...sealedIdentityColumns(haven.app, id, identity), createdAt: new Date(), updatedAt: new Date() };
    });
    await haven.app.db.insert(clients).values(rows);
  }
}

/** How many data keys each master key wraps, over both sealed tables. */
async function wrapsByKey(haven: TestHaven): Promise<Record<string, number>> {
  const rows = await haven.app.database.rows<{ data_key: string }>(
    sql`SELECT data_key FROM clients UNION ALL SELECT data_key FROM intake_applications WHERE data_key IS NOT NULL UNION ALL SELECT data_key FROM documents`,
  );
  const counts: Record<string, number> = {};
  for (const r of rows) counts[wrappingKeyId(r.data_key)] = (counts[wrappingKeyId(r.data_key)] ?? 0) + 1;
  return counts;
}

const DOCUMENT = Buffer.concat([Buffer.from('rotation document '), Buffer.alloc(300_000, 5)]);

/** Every client opens with these keys alone, and their values are the ones seeded; so does the document. */
async function expectAllOpen(haven: TestHaven, sup: TestClient, caseId: string): Promise<void> {
  const page = await sup.get(`/cases/${caseId}`);
  const id = /\/documents\/([0-9a-f-]{36})"/.exec(page.body)![1]!;
  expect((await sup.download(`/cases/${caseId}/documents/${id}`)).bytes.equals(DOCUMENT)).toBe(true);
  for (const client of await openedClients(haven)) {
    const m = /^Rotation(\d+)$/.exec(client.lastName);
    if (m) expect(client.ssn).toBe(`6${m[1]!.padStart(8, '0')}`);
  }
}

describe.each(DB_KINDS)('keys rotate (%s)', (kind) => {
  let haven: TestHaven;
  let fresh: Awaited<ReturnType<typeof freshDatabase>>;
  let keyDir: string;
  let keyPath: string;
  let sup: TestClient;
  const pages: { id: string; ssn: string }[] = [];

  beforeAll(async () => {
    keyDir = mkdtempSync(join(tmpdir(), 'haven-keys-'));
    keyPath = join(keyDir, 'master.key');
    fresh = await freshDatabase(kind);
    haven = await startTestHaven(kind, { database: fresh.database, keys: loadKeys(keyPath, new Date()) });
    await haven.createUser('ivy', 'Intake Worker');
    await haven.createUser('sup', 'Supervisor');
    const ivy = await signIn(haven, 'ivy');
    sup = await signIn(haven, 'sup');
    for (const [i, ssn] of ['611-23-4501', '611-23-4502', '611-23-4503'].entries()) {
      const created = await intakeCase(ivy, { ...APPLICANT, first_name: `Page${i}`, last_name: 'Servedduring', ssn });
      pages.push({ id: created.id, ssn }); // a Supervisor (ssn_view_full) sees the whole number
    }
    // A document too: its data key is re-wrapped like the clients'.
    await sup.get(`/cases/${pages[0]!.id}`);
    expect((await sup.upload(`/cases/${pages[0]!.id}/documents`, 'rotated.bin', DOCUMENT)).status).toBe(303);
    await seedClients(haven, kind === 'postgres' ? 4000 : 1500);
  }, 120_000);
  afterAll(async () => {
    await haven?.close();
    fresh?.cleanup();
    rmSync(keyDir, { recursive: true, force: true });
  });

  test('a rotation that stops half-way is finished by running it again; nothing is lost', async () => {
    const before = loadKeyRing(keyPath);
    // The first run stops after two batches, as a crash would.
    let batches = 0;
    const crash = new Error('simulated crash');
    await expect(
      rotateMasterKey(haven.app, { actor: null, ip: null }, (line) => {
        if (/^clients: .* re-wrapped$/.test(line) && ++batches === 2) throw crash;
      }, { batch: 100 }),
    ).rejects.toBe(crash);
    const half = loadKeyRing(keyPath);
    expect(half.retiring.map((m) => m.id)).toEqual([before.current.id]);
    const split = await wrapsByKey(haven);
    expect(split[half.current.id]).toBe(200);
    expect(split[before.current.id]).toBeGreaterThan(0);
    // Meanwhile every page still opens (the data keys are under either key).
    for (const page of pages) expect(textOf((await sup.get(`/cases/${page.id}`)).body, 'client-ssn')).toBe(page.ssn);

    const run = await runCommand(haven.app, { argv: ['keys', 'rotate', '--batch', '250'] });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^resuming the rotation to master key /m);
    expect(run.stdout).toMatch(/^clients: [\d,]+ of [\d,]+ data keys re-wrapped$/m);
    expect(run.stdout).toMatch(/^done: /m);
    const after = loadKeyRing(keyPath);
    expect(after.current.id).toBe(half.current.id);
    expect([...after.masters.keys()]).toEqual([after.current.id]);
    expect(await wrapsByKey(haven)).toEqual({ [after.current.id]: expect.any(Number) });
    // The old key is not needed: the key file alone opens everything.
    haven.app.keys = keysInMemory(after);
    await expectAllOpen(haven, sup, pages[0]!.id);
    haven.app.keys = loadKeys(keyPath, new Date());
    expect((await auditRows(haven, 'keys.rotation_started')).length).toBe(1);
    expect((await auditRows(haven, 'keys.rotation_resumed')).length).toBe(1);
    expect((await auditRows(haven, 'keys.rotation_finished'))[0]!.details).toMatchObject({ key: after.current.id, retired: before.current.id });
  });

  test('a bad --batch is one line and exit code 2, and changes nothing', async () => {
    const before = loadKeyRing(keyPath);
    for (const batch of ['0', '-5', '2.5', 'many', '10001', '\u0000']) {
      const run = await runCommand(haven.app, { argv: ['keys', 'rotate', '--batch', batch] });
      expect(run.code, batch).toBe(2);
      expect(run.stderr.trim().split('\n'), batch).toHaveLength(1);
    }
    expect(loadKeyRing(keyPath).current.id).toBe(before.current.id);
  });

  test('a process still holding a retired key cannot store data under it', async () => {
    const retired = (await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM sealing_keys WHERE kind = 'retired'`)).map((r) => r.id);
    expect(retired.length).toBeGreaterThan(0);
    const old = loadKeyRing(keyPath);
    const stale = { ...haven.app, keys: keysInMemory({ ...old, current: { id: retired[0]!, key: Buffer.alloc(32, 7), createdAt: '' } }) };
    const identity = { firstName: 'Stale', lastName: 'Processkey', dateOfBirth: '1950-01-01', ssn: '610000001', phone: null, email: null, language: null, aliases: [] };
    const failure = await haven.app.db.transaction((tx) => insertClient(stale, tx, identity, { householdSize: null, annualIncome: null })).then(
      () => null,
      (error: Error) => error,
    );
    expect(String((failure?.cause as Error | undefined)?.message ?? failure?.message)).toMatch(/wrapped by master key "[0-9a-f]+", which a rotation has retired/);
    expect(await haven.app.database.rows(sql`SELECT 1 FROM clients WHERE last_name = 'Processkey'`)).toEqual([]);
    // With the current key it is stored.
    await haven.app.db.transaction((tx) => insertClient(haven.app, tx, identity, { householdSize: null, annualIncome: null }));
    expect((await openedClients(haven)).find((c) => c.lastName === 'Processkey')).toMatchObject({ ssn: '610000001' });
  });

  test.runIf(kind === 'postgres')('`haven keys rotate` killed half-way while pages are served, then run again: every page opens throughout', async () => {
    const data = await makeHavenDataDir();
    let serving = true;
    try {
      const env = { ...data.env, DATABASE_URL: fresh.url!, HAVEN_MASTER_KEY_FILE: keyPath };
      const first = loadKeyRing(keyPath);
      // Requests all along, from the test's own Haven, which reads the key file when it changes.
      const seen: { status: number; ssn: string | null; expected: string }[] = [];
      const server = (async () => {
        for (let i = 0; serving; i++) {
          const page = pages[i % pages.length]!;
          const response = await sup.get(`/cases/${page.id}`);
          seen.push({ status: response.status, ssn: textOf(response.body, 'client-ssn'), expected: page.ssn });
        }
      })();
      // The first process is killed once it has re-wrapped its first batch.
      const killed = await new Promise<{ stdout: string; signal: NodeJS.Signals | null }>((resolve, reject) => {
        const child = spawn(process.execPath, ['bin/haven.mjs', 'keys', 'rotate', '--batch', '20'], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk;
          if (/clients: .* re-wrapped/.test(stdout)) child.kill('SIGKILL');
        });
        child.once('error', reject);
        child.once('exit', (_code, signal) => resolve({ stdout, signal }));
      });
      expect(killed.signal, killed.stdout).toBe('SIGKILL');
      const half = loadKeyRing(keyPath);
      expect(half.retiring.map((m) => m.id)).toEqual([first.current.id]);
      const split = await wrapsByKey(haven);
      expect(split[first.current.id], JSON.stringify(split)).toBeGreaterThan(0);
      expect(split[half.current.id], JSON.stringify(split)).toBeGreaterThan(0);

      const again = await runHaven(['keys', 'rotate', '--batch', '500'], { env, timeoutMs: 120_000 });
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/^resuming the rotation/m);
      serving = false;
      await server;
      expect(seen.length).toBeGreaterThan(3);
      for (const s of seen) expect(s).toEqual({ status: 200, ssn: s.expected, expected: s.expected });

      const after = loadKeyRing(keyPath);
      expect([...after.masters.keys()]).toEqual([half.current.id]);
      expect(Object.keys(await wrapsByKey(haven))).toEqual([after.current.id]);
      haven.app.keys = keysInMemory(after);
      await expectAllOpen(haven, sup, pages[0]!.id);
      haven.app.keys = loadKeys(keyPath, new Date());
    } finally {
      serving = false;
      data.cleanup();
    }
  }, 180_000);
});
