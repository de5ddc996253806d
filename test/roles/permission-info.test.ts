// The permission catalogue's metadata (src/security/permissions.ts) and the words for a change of
// a role's permissions (src/roles/changes.ts). Pure; no database.
import { describe, expect, test } from 'vitest';
import { ALL_PERMISSIONS, PERMISSION_AREAS, PERMISSION_INFO, type Permission } from '../../src/security/permissions.ts';
import { describePermissionChanges, permissionChanges, permissionLabel } from '../../src/roles/changes.ts';

describe('permission metadata', () => {
  test('every permission of the catalogue has a label, a one-line description, an area and an in-use mark; nothing else has', () => {
    expect(Object.keys(PERMISSION_INFO).sort()).toEqual([...ALL_PERMISSIONS].sort());
    const areas = PERMISSION_AREAS.map((a) => a.id as string);
    for (const p of ALL_PERMISSIONS) {
      const info = PERMISSION_INFO[p];
      expect(info.label.trim(), p).not.toBe('');
      expect(info.label, p).not.toContain('_');
      expect(info.description.trim().length, p).toBeGreaterThan(10);
      expect(info.description, p).not.toMatch(/[\r\n]/);
      expect(info.description.length, p).toBeLessThanOrEqual(140);
      expect(areas, p).toContain(info.area);
      expect(typeof info.inUse, p).toBe('boolean');
    }
  });

  test('labels are unique, and every area has a permission', () => {
    const labels = ALL_PERMISSIONS.map((p) => PERMISSION_INFO[p].label.toLowerCase());
    expect(new Set(labels).size).toBe(labels.length);
    for (const area of PERMISSION_AREAS) expect(ALL_PERMISSIONS.some((p) => PERMISSION_INFO[p].area === area.id), area.id).toBe(true);
  });

  test('the areas are the ones the Roles page promises, in order', () => {
    expect(PERMISSION_AREAS.map((a) => a.label)).toEqual(['Sign-in', 'Cases and intake', 'Reports', 'Administration', 'API', 'Audit']);
  });

  test('capabilities not built yet are marked not in use; the built ones are in use', () => {
    const notInUse = ALL_PERMISSIONS.filter((p) => !PERMISSION_INFO[p].inUse).sort();
    expect(notInUse).toEqual(
      (['reports_view'] as Permission[]).sort(),
    );
    for (const p of ['cases_view_all', 'cases_view_assigned', 'cases_edit', 'cases_create', 'cases_reopen', 'intake', 'intake_override_income', 'ssn_view_full', 'login_internal', 'admin_users', 'admin_roles', 'admin_site_settings', 'audit_view', 'mail_queue_view', 'api_access', 'admin_backups', 'admin_locations', 'login_external'] as Permission[]) {
      expect(PERMISSION_INFO[p].inUse, p).toBe(true);
    }
  });

  test('permissionLabel reads the catalogue, and shows an unknown name as it is', () => {
    expect(permissionLabel('audit_view')).toBe('Audit log');
    expect(permissionLabel('retired_permission')).toBe('retired_permission');
    expect(permissionLabel('__proto__')).toBe('__proto__');
  });
});

describe('what a change of permissions did', () => {
  const none = { internal: [], external: [] };

  test('added and removed, per set, in catalogue order', () => {
    const before = { internal: ['login_internal', 'intake', 'cases_edit'], external: ['cases_edit'] };
    const after = { internal: ['audit_view', 'login_internal', 'cases_edit'], external: ['login_external'] };
    expect(permissionChanges(before, after)).toEqual([
      { kind: 'added', permission: 'audit_view', set: 'internal' },
      { kind: 'added', permission: 'login_external', set: 'external' },
      { kind: 'removed', permission: 'intake', set: 'internal' },
      { kind: 'removed', permission: 'cases_edit', set: 'external' },
    ]);
    expect(describePermissionChanges(permissionChanges(before, after))).toBe(
      'added Audit log (internal), Sign in from other networks (external); removed Intake (internal), Edit cases (external)',
    );
  });

  test('only additions, only removals, nothing', () => {
    expect(describePermissionChanges(permissionChanges(none, { internal: ['audit_view'], external: [] }))).toBe('added Audit log (internal)');
    expect(describePermissionChanges(permissionChanges({ internal: [], external: ['api_access'] }, none))).toBe('removed API access (external)');
    expect(describePermissionChanges(permissionChanges({ internal: ['intake'], external: [] }, { internal: ['intake'], external: [] }))).toBe('no permissions changed');
  });

  test('duplicates count once; names the catalogue does not know are kept, last', () => {
    const changes = permissionChanges(none, { internal: ['old_thing', 'audit_view', 'audit_view'], external: [] });
    expect(changes.map((c) => c.permission)).toEqual(['audit_view', 'old_thing']);
    expect(describePermissionChanges(changes)).toBe('added Audit log (internal), old_thing (internal)');
  });
});
