// Admin > Backups over HTTP (issue 12): only `admin_backups` sees it or starts a backup; the post
// needs its CSRF token; a second "Back up now" while one runs is refused with 409.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { startTestHaven, type TestHaven } from '../helpers/app.ts';
import { auditRows, signIn } from '../cases/attack-kit.ts';
import { listBackupDirs } from '../../src/backup/files.ts';

describe('Admin > Backups', () => {
  let haven: TestHaven;
  const backupDir = mkdtempSync(join(tmpdir(), 'haven-backups-page-'));

  beforeAll(async () => {
    haven = await startTestHaven('postgres', { config: { backupDir } });
    await haven.createUser('root', 'Site Administrator');
    await haven.createUser('ivy', 'Intake Worker');
  });
  afterAll(async () => {
    await haven?.close();
    rmSync(backupDir, { recursive: true, force: true });
  });

  test('without the permission it is 403; without the CSRF token the post is refused', async () => {
    const ivy = await signIn(haven, 'ivy');
    expect((await ivy.get('/admin/backups')).status).toBe(403);
    expect((await ivy.post('/admin/backups', {})).status).toBe(403);
    const root = await signIn(haven, 'root');
    await root.get('/admin/backups');
    expect((await root.post('/admin/backups', { _csrf: 'forged' })).status).toBe(403);
    expect(listBackupDirs(backupDir)).toHaveLength(0);
  });

  test('a press while another instance runs a backup is refused, and the page shows that run', async () => {
    await haven.app.database.rows(sql`INSERT INTO backup_runs (id, trigger, started_at, status, step) VALUES ('20260105-085900-0000', 'scheduled', ${haven.clock.now().toISOString()}, 'running', 'dumping the database')`);
    try {
      const root = await signIn(haven, 'root');
      const page = await root.get('/admin/backups');
      expect(page.body).toMatch(/id="backup-progress"[^>]*>Backup under way since [^<]*: dumping the database/);
      const again = await root.post('/admin/backups', {});
      expect(again.status).toBe(409);
      expect(again.body).toContain('under way already');
    } finally {
      await haven.app.database.rows(sql`DELETE FROM backup_runs`);
    }
  });

  test('"Back up now" backs up and tests the backup', async () => {
    const root = await signIn(haven, 'root');
    await root.get('/admin/backups');
    expect((await root.post('/admin/backups', {})).status).toBe(303);
    let page = await root.get('/admin/backups');
    for (let i = 0; i < 300 && !/Verified/.test(page.body); i++) {
      await new Promise((r) => setTimeout(r, 50));
      page = await root.get('/admin/backups');
    }
    expect(page.body).toMatch(/The restore test of backup \S+ passed/);
    expect(listBackupDirs(backupDir)).toHaveLength(1);
    expect(await auditRows(haven, 'backup.created')).toHaveLength(1);
    expect(await auditRows(haven, 'backup.verified')).toHaveLength(1);
  });
});
