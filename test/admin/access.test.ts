import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { accessTable } from '../../src/web/access.ts';
import { buildServer } from '../../src/server.ts';
import { isPermission } from '../../src/security/permissions.ts';
import { listRoles } from '../../src/roles/service.ts';
import { getSiteSettings } from '../../src/settings/service.ts';
import { alerts } from '../helpers/client.ts';

const SAMPLE_UUID = '00000000-0000-4000-8000-000000000000';
const concrete = (url: string) => url.replace(/:id\b/g, SAMPLE_UUID).replace(/:token\b/g, 'x').replace(/:name\b/g, 'x');

describe.each(DB_KINDS)('deny by default (%s)', (kind) => {
  let haven: TestHaven;
  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('root', 'Site Administrator');
    for (const role of ['Supervisor', 'Attorney', 'Paralegal', 'Intake Worker', 'Pro Bono Restricted Access', 'Read Only', 'API Client']) {
      await haven.createUser(role.toLowerCase().replace(/ /g, '-'), role);
    }
  });
  afterAll(() => haven?.close());

  test('every route declares its access, and every permission route is refused to roles without it', async () => {
    const table = accessTable(haven.server);
    expect(table.length).toBeGreaterThan(15);
    const guarded = table.filter((r) => isPermission(r.access) && r.method !== 'HEAD');
    expect(guarded.map((r) => r.url)).toEqual(expect.arrayContaining(['/admin/users', '/admin/roles', '/admin/site-settings', '/admin/audit']));
    const roles = await listRoles(haven.app);
    for (const role of roles.filter((r) => r.name !== 'Site Administrator')) {
      const browser = haven.client();
      await browser.login(role.name.toLowerCase().replace(/ /g, '-'), TEST_PASSWORD);
      await browser.get('/');
      for (const route of guarded) {
        if (role.internalPermissions.includes(route.access)) continue;
        const r = route.method === 'GET' ? await browser.get(concrete(route.url)) : await browser.post(concrete(route.url), {});
        expect(r.status, `${role.name} ${route.method} ${route.url}`).toBe(403);
      }
    }
  });

  test('a non-administrator cannot change settings or roles by posting directly', async () => {
    const browser = haven.client();
    await browser.login('paralegal', TEST_PASSWORD);
    await browser.get('/');
    expect((await browser.post('/admin/site-settings', { session_timeout_minutes: '1440' })).status).toBe(403);
    expect((await getSiteSettings(haven.app)).session_timeout_minutes).toBe(90);
    const paralegal = (await listRoles(haven.app)).find((r) => r.name === 'Paralegal')!;
    expect((await browser.post(`/admin/roles/${paralegal.id}`, { internal: ['login_internal', 'admin_users'] })).status).toBe(403);
    expect((await listRoles(haven.app)).find((r) => r.name === 'Paralegal')!.internalPermissions).not.toContain('admin_users');
  });

  test('an administrator granting a permission takes effect on the next request; removing it too', async () => {
    const admin = haven.client();
    await admin.login('root', TEST_PASSWORD);
    const readOnly = (await listRoles(haven.app)).find((r) => r.name === 'Read Only')!;
    const user = haven.client();
    await user.login('read-only', TEST_PASSWORD);
    expect((await user.get('/admin/audit')).status).toBe(403);
    await admin.submit('/admin/roles', { internal: [...readOnly.internalPermissions, 'audit_view'], external: [] }, `/admin/roles/${readOnly.id}`);
    expect((await user.get('/admin/audit')).status).toBe(200);
    await admin.submit('/admin/roles', { internal: readOnly.internalPermissions, external: [] }, `/admin/roles/${readOnly.id}`);
    expect((await user.get('/admin/audit')).status).toBe(403);
  });

  test('an administrator cannot lock themselves out', async () => {
    const admin = haven.client();
    await admin.login('root', TEST_PASSWORD);
    const adminRole = (await listRoles(haven.app)).find((r) => r.name === 'Site Administrator')!;
    const r = await admin.submit('/admin/roles', { internal: ['login_internal'], external: [] }, `/admin/roles/${adminRole.id}`);
    expect(r.status).toBe(400);
    expect(alerts(r.body).join(' ')).toContain('admin_roles');
    const self = await haven.app.db.query.users.findFirst({ where: (u, { eq }) => eq(u.login, 'root') });
    const d = await admin.submit(`/admin/users/${self!.id}`, { fullName: 'Root', email: 'root@example.org', roleId: self!.roleId, loginActive: 'no' });
    expect(d.status).toBe(400);
    expect(alerts(d.body).join(' ')).toContain('cannot deactivate your own account');
  });

  test('the server refuses to start if a route does not declare who may call it', async () => {
    await expect(
      buildServer(haven.app, {
        extraRoutes: async (server) => {
          server.get('/forgotten', async () => 'oops');
        },
      }),
    ).rejects.toThrow(/does not declare who may call it/);
  });

  test('a forged X-Forwarded-For is not believed without HAVEN_TRUST_PROXY', async () => {
    const browser = haven.client({ ip: '198.51.100.200' });
    await browser.get('/login');
    await browser.post('/login', { login: 'root', password: TEST_PASSWORD }, { 'x-forwarded-for': '10.9.9.9' });
    const rows = await haven.app.database.rows<{ ip: string }>((await import('drizzle-orm')).sql`SELECT ip FROM audit_log WHERE action = 'login.success' ORDER BY seq DESC LIMIT 1`);
    expect(rows[0]!.ip).toBe('198.51.100.200');
  });
});
