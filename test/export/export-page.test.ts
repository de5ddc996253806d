// Admin > Export (issue 11): a Site Administrator starts a full export from the page, follows
// its progress, and finds it listed; others are refused; the post needs its CSRF token.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DB_KINDS, startTestHaven, type TestHaven } from '../helpers/app.ts';
import { APPLICANT } from '../cases/helpers.ts';
import { auditRows, intakeCase, signIn } from '../cases/attack-kit.ts';
import type { ExportManifest } from '../../src/export/service.ts';

describe.each(DB_KINDS)('Admin > Export (%s)', (kind) => {
  let haven: TestHaven;
  const dataDir = mkdtempSync(join(tmpdir(), 'haven-export-page-'));

  beforeAll(async () => {
    haven = await startTestHaven(kind, { config: { dataDir } });
    await haven.createUser('root', 'Site Administrator');
    await haven.createUser('ivy', 'Intake Worker');
    await intakeCase(await signIn(haven, 'ivy'), { ...APPLICANT, first_name: 'Exporta', last_name: 'Pagewise' });
  });
  afterAll(async () => {
    await haven?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the administrator starts an export, the page follows it to the end, and lists the finished folder', async () => {
    const root = await signIn(haven, 'root');
    const page = await root.get('/admin/export');
    expect(page.status).toBe(200);
    expect(page.body).toContain('None yet.');
    expect(page.body).toContain(join(dataDir, 'exports'));
    const started = await root.post('/admin/export', {});
    expect(started.status).toBe(303);
    let followed = await root.get('/admin/export');
    for (let i = 0; i < 200 && !followed.body.includes('Export finished'); i++) {
      // While it runs, the page reloads itself every 2 seconds.
      if (!followed.body.includes('Export finished')) expect(followed.body).toMatch(/<meta http-equiv="refresh" content="2"\/?>|Export finished/);
      await new Promise((r) => setTimeout(r, 50));
      followed = await root.get('/admin/export');
    }
    expect(followed.body).toMatch(/<ol id="export-progress"[^>]*>.*<li>clients: 1 row<\/li>/s);
    expect(followed.body).not.toContain('http-equiv="refresh"');
    const folder = /<code>([^<]+export-[^<]+)<\/code>/.exec(followed.body)![1]!;
    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as ExportManifest;
    expect(manifest.tables.find((t) => t.table === 'clients')!.rows).toBe(1);
    const clients = readFileSync(join(folder, 'clients.csv'), 'utf8');
    expect(clients).toContain('Pagewise');
    expect(clients).toContain(APPLICANT.date_of_birth);
    expect((await auditRows(haven, 'export.run')).map((e) => e.target)).toEqual([folder]);
  });

  test('without the permission it is 403; without the CSRF token the post is refused', async () => {
    const ivy = await signIn(haven, 'ivy');
    expect((await ivy.get('/admin/export')).status).toBe(403);
    expect((await ivy.post('/admin/export', {})).status).toBe(403);
    const root = await signIn(haven, 'root');
    await root.get('/admin/export');
    expect((await root.post('/admin/export', { _csrf: 'forged' })).status).toBe(403);
  });
});
