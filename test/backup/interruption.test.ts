// A backup killed with SIGKILL half-way (issue 12): `backup list` never shows it, the next
// backup removes its files, records it as interrupted, and succeeds. The real CLI, on a
// PostgreSQL server with a few megabytes of documents, so that the kill lands mid-dump.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { makeHavenDataDir, PROJECT_ROOT, runHaven, type HavenDataDir } from '../helpers/cli.ts';
import { createDatabase } from '../helpers/postgres.ts';
import { openDatabase } from '../../src/db/client.ts';
import { isBackupId } from '../../src/security/backups.ts';

describe('a backup killed half-way', () => {
  let data: HavenDataDir;
  let url: string;

  beforeAll(async () => {
    data = await makeHavenDataDir();
    url = await createDatabase(inject('pgClusterUrl'));
    Object.assign(data.env, { DATABASE_URL: url, HAVEN_BACKUP_DIR: join(data.dir, 'backups') });
    // Migrate through the CLI, then give the dump something to chew on: 24 MB of incompressible bytes.
    expect((await runHaven(['migrate'], { env: data.env })).code).toBe(0);
    const db = await openDatabase({ databaseUrl: url });
    await db.rows(sql`CREATE TABLE public.ballast (b bytea)`);
    for (let i = 0; i < 24; i++) await db.rows(sql`INSERT INTO public.ballast VALUES (${randomBytes(1_000_000)})`);
    await db.close();
  });
  afterAll(() => data?.cleanup());

  test('leaves no backup that looks finished, and the next one succeeds', async () => {
    const backups = join(data.dir, 'backups');
    const child = spawn(process.execPath, ['bin/haven.mjs', 'backup', 'run'], { cwd: PROJECT_ROOT, env: data.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (t: string) => (output += t));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Killed once it reports bytes written: the encrypted file exists, the manifest does not yet.
    const deadline = Date.now() + 30_000;
    while (!/MB written/.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(output).toMatch(/dumping and encrypting/);
    child.kill('SIGKILL');
    await exited;
    const leftovers = readdirSync(backups).filter(isBackupId);
    expect(leftovers).toHaveLength(1);
    expect(existsSync(join(backups, leftovers[0]!, 'manifest.json'))).toBe(false);

    const list = await runHaven(['backup', 'list'], { env: data.env });
    expect(list).toMatchObject({ code: 0, stdout: '' });

    const next = await runHaven(['backup', 'run'], { env: data.env, timeoutMs: 120_000 });
    expect(next.code, next.stderr).toBe(0);
    const id = next.stdout.trim().split('\n').pop()!;
    expect(isBackupId(id)).toBe(true);
    expect(readdirSync(backups).filter(isBackupId)).toEqual([id]);
    const listed = await runHaven(['backup', 'list'], { env: data.env });
    expect(listed.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0])).toEqual([id]);
    const db = await openDatabase({ databaseUrl: url });
    try {
      expect(await db.rows(sql`SELECT id, status FROM backup_runs ORDER BY started_at, id`)).toEqual([
        { id: leftovers[0], status: 'interrupted' },
        { id, status: 'ok' },
      ]);
    } finally {
      await db.close();
    }
  });
});
