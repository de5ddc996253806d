// Admin > Roles (issue 9): readable permissions grouped by area, Internal and External columns,
// "not in use yet" marks, user counts, and a message saying what a save changed. Both databases.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient } from '../helpers/client.ts';
import { timedAnswers } from '../helpers/wait.ts';
import { ALL_PERMISSIONS, isPermission, PERMISSION_AREAS, PERMISSION_INFO } from '../../src/security/permissions.ts';
import { findRoleByName, listRoles, updateRolePermissions } from '../../src/roles/service.ts';
import { accessTable } from '../../src/web/access.ts';

/** The <details> of one role on the page. */
function roleSection(html: string, roleId: string): string {
  const m = new RegExp(`<details[^>]* id="role-${roleId}"[^>]*>([\\s\\S]*?)</details>`).exec(html);
  if (!m) throw new Error(`no section for role ${roleId}`);
  return m[0];
}

/** The row of one permission in a role's table. */
function permissionRow(section: string, roleId: string, permission: string): string {
  const m = new RegExp(`<tr><th scope="row" id="${roleId}-${permission}">[\\s\\S]*?</tr>`).exec(section);
  if (!m) throw new Error(`no row for ${permission}`);
  return m[0];
}

const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();

/** The role=status message of a page. */
const status = (html: string) => /<p role="status">([^<]*)<\/p>/.exec(html)?.[1]?.replace(/&amp;/g, '&');

describe.each(DB_KINDS)('the Roles page (%s)', (kind) => {
  let haven: TestHaven;
  let admin: TestClient;
  let rootId: string;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    rootId = (await haven.createUser('root', 'Site Administrator')).id;
    await haven.createUser('atty', 'Attorney');
    for (const login of ['para1', 'para2', 'para3']) await haven.createUser(login, 'Paralegal');
    admin = haven.client({ ip: '192.0.2.40' });
    const [r] = await timedAnswers(haven.clock, [() => admin.login('root', TEST_PASSWORD)], 60_000);
    expect(r!.response.status).toBe(303);
  });
  afterAll(() => haven?.close());

  test('permissions have readable labels and descriptions, grouped by area, with Internal and External columns', async () => {
    const page = await admin.get('/admin/roles');
    expect(page.status).toBe(200);
    const roles = await listRoles(haven.app);
    const attorney = roles.find((r) => r.name === 'Attorney')!;
    const section = roleSection(page.body, attorney.id);
    expect(section).toContain('<th scope="col">Permission</th><th scope="col">Internal</th><th scope="col">External</th>');
    // The areas, in order, each a row group.
    const areas = [...section.matchAll(/<th scope="rowgroup" colspan="3">([^<]+)<\/th>/g)].map((m) => m[1]);
    expect(areas).toEqual(PERMISSION_AREAS.map((a) => a.label));
    for (const p of ALL_PERMISSIONS) {
      const row = permissionRow(section, attorney.id, p);
      const info = PERMISSION_INFO[p];
      expect(text(row), p).toContain(info.label);
      expect(text(row), p).toContain(info.description.replace(/&/g, '&amp;').replace(/</g, '&lt;'));
      expect(row, p).toContain(`<code>${p}</code>`);
      // Each checkbox keeps its exact accessible name, and is described by the readable row header.
      for (const set of ['internal', 'external'] as const) {
        const box = new RegExp(`<input type="checkbox" name="${set}" value="${p}"( checked)? aria-label="${p} ${set}" aria-describedby="${attorney.id}-${p}"/>`).exec(row);
        expect(box, `${p} ${set}`).not.toBeNull();
        const granted = (set === 'internal' ? attorney.internalPermissions : attorney.externalPermissions).includes(p);
        expect(Boolean(box![1]), `${p} ${set} checked`).toBe(granted);
      }
      // The area of the permission is the row group it sits in.
      const before = section.slice(0, section.indexOf(row));
      const lastArea = [...before.matchAll(/<th scope="rowgroup" colspan="3">([^<]+)<\/th>/g)].at(-1)?.[1];
      expect(lastArea, p).toBe(PERMISSION_AREAS.find((a) => a.id === info.area)!.label);
    }
    // Every role's table has every checkbox, once.
    for (const p of ALL_PERMISSIONS) {
      for (const set of ['internal', 'external']) expect(page.body.split(`aria-label="${p} ${set}"`).length - 1, `${p} ${set}`).toBe(roles.length);
    }
    expect(section).toContain(`<div class="table-scroll" tabindex="0" role="region" aria-label="Permissions of Attorney">`);
    expect(text(page.body)).toMatch(/Internal applies to sessions from a network marked internal; External applies to sessions from every other network/);
    expect(page.body).not.toMatch(/\sstyle="/);
    expect([...page.body.matchAll(/<script(?![^>]*\ssrc=)[^>]*>/g)]).toHaveLength(0);
  });

  test('capabilities not built yet are marked "not in use yet"; a permission a route checks is not', async () => {
    const page = await admin.get('/admin/roles');
    const attorney = (await findRoleByName(haven.app, 'Attorney'))!;
    const section = roleSection(page.body, attorney.id);
    for (const p of ALL_PERMISSIONS) {
      const row = permissionRow(section, attorney.id, p);
      expect(row.includes('not in use yet'), p).toBe(!PERMISSION_INFO[p].inUse);
    }
    expect(permissionRow(section, attorney.id, 'reports_view')).toContain('<span class="badge badge-wait not-in-use">not in use yet</span>');
    // Whatever a route declares as its access is in use.
    for (const route of accessTable(haven.server)) {
      if (isPermission(route.access)) expect(PERMISSION_INFO[route.access].inUse, `${route.method} ${route.url}`).toBe(true);
    }
  });

  test('each role shows how many users it has, with the right plural', async () => {
    const page = await admin.get('/admin/roles');
    const summary = async (name: string) => text(/<summary>([\s\S]*?)<\/summary>/.exec(roleSection(page.body, (await findRoleByName(haven.app, name))!.id))![1]!);
    expect(await summary('Attorney')).toMatch(/^Attorney \(1 user;/);
    expect(await summary('Paralegal')).toMatch(/^Paralegal \(3 users;/);
    expect(await summary('Read Only')).toMatch(/^Read Only \(0 users;/);
    expect(await summary('Paralegal')).toMatch(/permissions: 5 internal, 0 external\)$/);
  });

  test('after a save the page says what changed; saving nothing changes nothing and says so', async () => {
    const attorney = (await findRoleByName(haven.app, 'Attorney'))!;
    try {
      const internal = [...attorney.internalPermissions.filter((p) => p !== 'intake'), 'audit_view'];
      const saved = await admin.submit('/admin/roles', { internal, external: ['login_external'] }, `/admin/roles/${attorney.id}`);
      expect(saved.status).toBe(303);
      expect(saved.location).toMatch(new RegExp(`^/admin/roles\\?saved=${attorney.id}&entry=\\d+$`));
      const page = await admin.get(saved.location!);
      expect(page.status).toBe(200);
      expect(status(page.body)).toBe('Attorney: added Audit log (internal), Sign in from other networks (external); removed Intake (internal).');
      // The saved role is open; the others are not.
      expect(page.body).toMatch(new RegExp(`<details open id="role-${attorney.id}"`));
      expect(page.body.match(/<details open id="role-/g)).toHaveLength(1);

      const entries = async () => (await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log WHERE action = 'role.permissions_changed'`))[0]!.n;
      const before = await entries();
      const again = await admin.submit('/admin/roles', { internal, external: ['login_external'] }, `/admin/roles/${attorney.id}`);
      expect(again.location).toBe(`/admin/roles?saved=${attorney.id}&unchanged=1`);
      expect(status((await admin.get(again.location!)).body)).toBe('Attorney: nothing changed.');
      expect(await entries()).toBe(before);

      // A crafted link cannot make the page claim a change: the entry must be this role's change by this administrator.
      const [other] = await haven.app.database.rows<{ seq: number }>(sql`SELECT seq FROM audit_log WHERE action = 'login.success' ORDER BY seq DESC LIMIT 1`);
      expect(status((await admin.get(`/admin/roles?saved=${attorney.id}&entry=${other!.seq}`)).body)).toBe('Saved role Attorney.');
      for (const junk of ['entry=abc', 'entry=%00', 'entry=-1', 'created=yes', 'saved=not-a-uuid']) {
        const r = await admin.get(`/admin/roles?saved=${attorney.id}&${junk}`);
        expect(r.status, junk).toBe(200);
      }
    } finally {
      await updateRolePermissions(haven.app, attorney.id, attorney.internalPermissions, attorney.externalPermissions, { id: rootId, login: 'root' }, null);
    }
  });

  test('creating a role says so; the rules on what one may grant still hold, with their messages', async () => {
    const created = await admin.submit('/admin/roles', { name: 'Volunteer Coordinator' });
    expect(created.status).toBe(303);
    const role = (await findRoleByName(haven.app, 'Volunteer Coordinator'))!;
    expect(created.location).toBe(`/admin/roles?saved=${role.id}&created=1`);
    expect(status((await admin.get(created.location!)).body)).toMatch(/^Created role Volunteer Coordinator\./);
    // Self-lockout, refused beside the role, the page still readable.
    const own = (await findRoleByName(haven.app, 'Site Administrator'))!;
    const lockout = await admin.submit('/admin/roles', { internal: own.internalPermissions.filter((p) => p !== 'admin_roles'), external: [] }, `/admin/roles/${own.id}`);
    expect(lockout.status).toBe(400);
    expect(alerts(lockout.body).join(' ')).toContain('You cannot remove admin_roles from your own role.');
    expect(lockout.body).toMatch(new RegExp(`<details open id="role-${own.id}"`));
    expect(lockout.body).toContain('Audit log');
    const duplicate = await admin.submit('/admin/roles', { name: 'volunteer coordinator' });
    expect(duplicate.status).toBe(400);
    expect(duplicate.body).toContain('id="name-error"');
  });
});
