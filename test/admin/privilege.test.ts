// Administrators can be held to MFA, and `admin_users` / `admin_roles` cannot be used to climb
// (issue 8, defects 2 and 7). Both databases.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, freshDatabase, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient } from '../helpers/client.ts';
import { timedAnswers } from '../helpers/wait.ts';
import { createRole, findRoleByName, listRoles, updateRolePermissions } from '../../src/roles/service.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { enrolApp } from '../helpers/mfa.ts';
import { applyDataMigrations } from '../../src/data-migrations.ts';
import { verifyAuditChain } from '../../src/audit/service.ts';

describe.each(DB_KINDS)('administrators held to MFA; no climbing through admin_users or admin_roles (%s)', (kind) => {
  let haven: TestHaven;
  let root: { id: string };
  let managerRoleId: string;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    root = await haven.createUser('root', 'Site Administrator');
    await haven.createUser('rootie', 'Site Administrator');
    await haven.createUser('para', 'Paralegal');
    // A user manager: can administer users, and holds what a Paralegal holds, nothing more.
    const paralegal = (await findRoleByName(haven.app, 'Paralegal'))!;
    const created = await createRole(haven.app, 'User Manager', { id: root.id, login: 'root' }, null);
    managerRoleId = (created as { id: string }).id;
    await updateRolePermissions(haven.app, managerRoleId, [...paralegal.internalPermissions, 'admin_users', 'admin_roles'], [], { id: root.id, login: 'root' }, null);
    await haven.createUser('manny', 'User Manager');
  });
  afterAll(() => haven?.close());

  async function signedIn(login: string, ip: string): Promise<TestClient> {
    const browser = haven.client({ ip });
    const [r] = await timedAnswers(haven.clock, [() => browser.login(login, TEST_PASSWORD)], 60_000);
    expect(r!.response.status).toBe(303);
    return browser;
  }
  const userId = async (login: string) => (await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login = ${login}`))[0]!.id;
  const roleId = async (name: string) => (await findRoleByName(haven.app, name))!.id;

  test('the seeded Site Administrator has no API Access, so requiring MFA of it works: an administrator without MFA is sent to enrolment', async () => {
    const admin = (await findRoleByName(haven.app, 'Site Administrator'))!;
    expect(admin.internalPermissions).not.toContain('api_access');
    expect(admin.externalPermissions).not.toContain('api_access');
    const set = await runCommand(haven.app, { argv: ['settings', 'set', 'mfa_required_roles', 'Site Administrator'] });
    expect(set).toMatchObject({ code: 0, stderr: '' });
    try {
      const browser = haven.client({ ip: '192.0.2.5' });
      const [r] = await timedAnswers(haven.clock, [() => browser.login('rootie', TEST_PASSWORD)], 60_000);
      expect(r!.response.location).toBe('/mfa/enrol');
      expect((await browser.get('/admin/users')).location).toBe('/mfa/enrol');
      await enrolApp(haven, browser);
      expect((await browser.get('/admin/users')).status).toBe(200);
      // And the administrator cannot turn it off again.
      await browser.get('/preferences');
      expect((await browser.post('/preferences/mfa/disable', {})).status).toBe(403);
    } finally {
      await runCommand(haven.app, { argv: ['settings', 'set', 'mfa_required_roles', ''] });
    }
  });

  test('listing a role with API Access in mfa_required_roles is saved with a warning naming it, on the page and in the CLI', async () => {
    const cli = await runCommand(haven.app, { argv: ['settings', 'set', 'mfa_required_roles', 'API Client, Paralegal'] });
    try {
      expect(cli.code).toBe(0);
      expect(cli.stdout).toBe('mfa_required_roles=API Client,Paralegal\n');
      expect(cli.stderr).toMatch(/^haven: warning: The role "API Client" has API Access, so its users are not required to use MFA/);
      expect(cli.stderr).not.toMatch(/Paralegal/);
      const admin = await signedIn('root', '192.0.2.6');
      const page = await admin.get('/admin/site-settings');
      expect(page.body).toContain('id="settings-warnings"');
      expect(page.body).toContain('The role &quot;API Client&quot; has API Access');
    } finally {
      await runCommand(haven.app, { argv: ['settings', 'set', 'mfa_required_roles', ''] });
    }
    const admin = await signedIn('root', '192.0.2.7');
    expect((await admin.get('/admin/site-settings')).body).not.toContain('id="settings-warnings"');
  });

  test('admin_users is not enough to create a Site Administrator, or give anyone a role with more than one\'s own', async () => {
    const manny = await signedIn('manny', '192.0.2.10');
    await manny.get('/admin/users/new');
    const before = (await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM users`))[0]!.n;
    const r = await manny.post('/admin/users', { login: 'sneaky', fullName: 'Sneaky', email: 'sneaky@example.org', roleId: await roleId('Site Administrator'), password: 'quartz8-meadow-x' });
    expect(r.status).toBe(400);
    expect(alerts(r.body).join()).toMatch(/Your role lacks some of the permissions of this role/);
    expect((await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM users`))[0]!.n).toBe(before);
    // Nor promote an existing account (their own is refused separately).
    const paraId = await userId('para');
    await manny.get(`/admin/users/${paraId}`);
    const promote = await manny.post(`/admin/users/${paraId}`, { fullName: 'User para', email: 'para@example.org', roleId: await roleId('Site Administrator'), loginActive: 'yes' });
    expect(promote.status).toBe(400);
    expect((await haven.app.database.rows<{ role: string }>(sql`SELECT r.name AS role FROM users u JOIN roles r ON r.id = u.role_id WHERE u.login = 'para'`))[0]!.role).toBe('Paralegal');
    // A Paralegal's account is within the manager's reach.
    const fine = await manny.post(`/admin/users/${paraId}`, { fullName: 'Para Legal', email: 'para@example.org', roleId: await roleId('Paralegal'), loginActive: 'yes' });
    expect(fine.status).toBe(303);
  });

  test("admin_users cannot reset an administrator's password, deactivate them, or turn off their MFA", async () => {
    const manny = await signedIn('manny', '192.0.2.11');
    const rootId = await userId('root');
    const page = await manny.get(`/admin/users/${rootId}`);
    expect(page.status).toBe(403);
    const [before] = await haven.app.database.rows<{ password_hash: string; login_active: boolean }>(sql`SELECT password_hash, login_active FROM users WHERE login = 'root'`);
    await manny.get('/admin/users');
    const reset = await manny.post(`/admin/users/${rootId}`, { fullName: 'Root', email: 'root@example.org', roleId: await roleId('Site Administrator'), loginActive: 'no', password: 'quartz8-meadow-y' });
    expect(reset.status).toBe(403);
    const [after] = await haven.app.database.rows<{ password_hash: string; login_active: boolean }>(sql`SELECT password_hash, login_active FROM users WHERE login = 'root'`);
    expect(after).toEqual(before);
    expect((await manny.get(`/admin/users/${rootId}/security`)).status).toBe(403);
    const disable = await manny.post(`/admin/users/${rootId}/security`, { action: 'disable' });
    expect(disable.status).toBe(403);
    const require = await manny.post(`/admin/users/${rootId}/security`, { action: 'require_enrolment' });
    expect(require.status).toBe(403);
    expect((await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log WHERE action LIKE 'mfa.%' AND target = 'root'`))[0]!.n).toBe(0);
  });

  test('admin_roles cannot grant a permission one lacks, to one\'s own role or any other, nor change a stronger role', async () => {
    const manny = await signedIn('manny', '192.0.2.12');
    const own = (await listRoles(haven.app)).find((r) => r.id === managerRoleId)!;
    await manny.get('/admin/roles');
    const grab = await manny.post(`/admin/roles/${managerRoleId}`, { internal: [...own.internalPermissions, 'admin_site_settings'], external: [] });
    expect(grab.status).toBe(400);
    expect(alerts(grab.body).join()).toMatch(/cannot grant a permission your own role lacks: admin_site_settings/);
    const paralegal = (await findRoleByName(haven.app, 'Paralegal'))!;
    const lift = await manny.post(`/admin/roles/${paralegal.id}`, { internal: [...paralegal.internalPermissions, 'audit_view'], external: [] });
    expect(lift.status).toBe(400);
    const admin = (await findRoleByName(haven.app, 'Site Administrator'))!;
    const weaken = await manny.post(`/admin/roles/${admin.id}`, { internal: ['login_internal'], external: [] });
    expect(weaken.status).toBe(400);
    expect(alerts(weaken.body).join()).toMatch(/This role has permissions your role lacks/);
    expect((await findRoleByName(haven.app, 'Site Administrator'))!.internalPermissions).toEqual(admin.internalPermissions);
    expect((await listRoles(haven.app)).find((r) => r.id === managerRoleId)!.internalPermissions).toEqual(own.internalPermissions);
  });

  test('a role that loses its Login permission ends its sessions at their next request', async () => {
    const para = await signedIn('para', '192.0.2.13');
    expect((await para.get('/')).status).toBe(200);
    const paralegal = (await findRoleByName(haven.app, 'Paralegal'))!;
    await updateRolePermissions(haven.app, paralegal.id, paralegal.internalPermissions.filter((p) => p !== 'login_internal'), paralegal.externalPermissions, { id: root.id, login: 'root' }, null);
    try {
      const next = await para.get('/');
      expect(next.status).toBe(303);
      expect(next.location).toMatch(/^\/login/);
      expect((await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.login = 'para'`))[0]!.n).toBe(0);
    } finally {
      await updateRolePermissions(haven.app, paralegal.id, paralegal.internalPermissions, paralegal.externalPermissions, { id: root.id, login: 'root' }, null);
    }
  });
});

describe.each(DB_KINDS)('upgrading a site whose Site Administrator holds API Access (%s)', (kind) => {
  test('the data migration removes it once, with an audit entry, and leaves a later deliberate grant alone', async () => {
    const fresh = await freshDatabase(kind);
    const haven = await startTestHaven(kind, { database: fresh.database });
    try {
      // As an older Haven seeded it, and as if this migration had never run.
      await haven.app.database.rows(sql`UPDATE roles SET internal_permissions = array_append(internal_permissions, 'api_access') WHERE name = 'Site Administrator'`);
      await haven.app.database.rows(sql`DELETE FROM data_migrations`);
      await applyDataMigrations(haven.app);
      const admin = (await findRoleByName(haven.app, 'Site Administrator'))!;
      expect(admin.internalPermissions).not.toContain('api_access');
      const [entry] = await haven.app.database.rows<{ target: string; details: { reason: string; before: { internal: string[] } } }>(
        sql`SELECT target, details FROM audit_log WHERE action = 'role.permissions_changed' ORDER BY seq DESC LIMIT 1`,
      );
      expect(entry!.target).toBe('Site Administrator');
      expect(entry!.details.before.internal).toContain('api_access');
      expect(entry!.details.reason).toMatch(/exempt from required MFA/);
      expect((await verifyAuditChain(haven.app)).problem).toBeNull();
      // Once only: an administrator who grants it back deliberately keeps it.
      await haven.app.database.rows(sql`UPDATE roles SET internal_permissions = array_append(internal_permissions, 'api_access') WHERE name = 'Site Administrator'`);
      await applyDataMigrations(haven.app);
      expect((await findRoleByName(haven.app, 'Site Administrator'))!.internalPermissions).toContain('api_access');
    } finally {
      await haven.close();
    }
  });
});
