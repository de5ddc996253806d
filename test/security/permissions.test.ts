import { describe, expect, test } from 'vitest';
import {
  ALL_PERMISSIONS,
  hasPermission,
  isPermission,
  loginPermissionFor,
  PERMISSIONS,
  SEEDED_ROLES,
  SITE_ADMINISTRATOR,
  type Permission,
} from '../../src/security/permissions.ts';

// Every permission DESIGN §1.4 names (and §1.6 for the split Login permission).
const DESIGN_PERMISSIONS = [
  'login_internal',
  'login_external',
  'api_access',
  'cases_view_all',
  'cases_view_assigned',
  'cases_edit',
  'cases_create',
  'intake',
  'ssn_view_full',
  'reports_view',
  'mail_queue_view',
  'admin_users',
  'admin_roles',
  'admin_site_settings',
  'admin_locations',
  'admin_backups',
  'audit_view',
];

const DESIGN_ROLES = [
  'Site Administrator',
  'Supervisor',
  'Attorney',
  'Paralegal',
  'Intake Worker',
  'Pro Bono Restricted Access',
  'Read Only',
  'API Client',
];

const role = (name: string) => {
  const r = SEEDED_ROLES.find((x) => x.name === name);
  if (!r) throw new Error(`no seeded role ${name}`);
  return r;
};

describe('catalogue', () => {
  test.each(DESIGN_PERMISSIONS)('contains %s', (p) => {
    expect(isPermission(p)).toBe(true);
    expect(ALL_PERMISSIONS).toContain(p);
  });

  test('ALL_PERMISSIONS is exactly the keys of PERMISSIONS, without duplicates', () => {
    expect([...ALL_PERMISSIONS].sort()).toEqual(Object.keys(PERMISSIONS).sort());
    expect(new Set(ALL_PERMISSIONS).size).toBe(ALL_PERMISSIONS.length);
  });

  test('every permission has a description', () => {
    for (const p of ALL_PERMISSIONS) expect(PERMISSIONS[p].trim().length).toBeGreaterThan(0);
  });

  test('names are lower snake case', () => {
    for (const p of ALL_PERMISSIONS) expect(p).toMatch(/^[a-z]+(?:_[a-z0-9]+)*$/);
  });

  test('isPermission refuses unknown, differently-cased and prototype names', () => {
    for (const bad of ['', 'login', 'Login_internal', 'CASES_VIEW_ALL', ' cases_view_all', 'cases_view_all ', 'admin', '__proto__', 'constructor', 'toString', 'hasOwnProperty'])
      expect(isPermission(bad)).toBe(false);
  });
});

describe('seeded roles', () => {
  test('are exactly the 8 roles named in DESIGN §1.4', () => {
    expect(SEEDED_ROLES.map((r) => r.name).sort()).toEqual([...DESIGN_ROLES].sort());
    expect(SEEDED_ROLES).toHaveLength(8);
  });

  test('SITE_ADMINISTRATOR names the Site Administrator role', () => {
    expect(SITE_ADMINISTRATOR).toBe('Site Administrator');
  });

  test('every seeded permission is in the catalogue, listed once', () => {
    for (const r of SEEDED_ROLES) {
      for (const set of [r.internal, r.external]) {
        for (const p of set) expect(isPermission(p), `${r.name}: ${p}`).toBe(true);
        expect(new Set(set).size, r.name).toBe(set.length);
      }
    }
  });

  test('every seeded role can log in on a new site (where every session is internal)', () => {
    for (const r of SEEDED_ROLES) expect(r.internal, r.name).toContain('login_internal');
  });

  test('the Site Administrator holds every permission internally but API Access (which would exempt it from required MFA)', () => {
    expect([...role(SITE_ADMINISTRATOR).internal].sort()).toEqual(ALL_PERMISSIONS.filter((p) => p !== 'api_access').sort());
    expect(role(SITE_ADMINISTRATOR).external).not.toContain('api_access');
  });

  test('Pro Bono Restricted Access sees only assigned cases, internally and externally', () => {
    const pb = role('Pro Bono Restricted Access');
    for (const set of [pb.internal, pb.external]) {
      expect(set).toContain('cases_view_assigned');
      expect(set).not.toContain('cases_view_all');
      expect(set).not.toContain('ssn_view_full');
      expect(set.some((p) => p.startsWith('admin_'))).toBe(false);
    }
  });

  test('only Pro Bono Restricted Access and API Client have external permissions', () => {
    const withExternal = SEEDED_ROLES.filter((r) => r.external.length > 0).map((r) => r.name).sort();
    expect(withExternal).toEqual(['API Client', 'Pro Bono Restricted Access']);
  });

  test('external sets are nearly empty: no administration, no full SSNs, no view-all', () => {
    const risky: Permission[] = ['cases_view_all', 'ssn_view_full', 'audit_view', 'mail_queue_view', 'reports_view'];
    for (const r of SEEDED_ROLES) {
      expect(r.external.length, r.name).toBeLessThanOrEqual(3);
      for (const p of r.external) {
        expect(p.startsWith('admin_'), `${r.name}: ${p}`).toBe(false);
        expect(risky, `${r.name}: ${p}`).not.toContain(p);
      }
    }
  });

  test('no seeded internal set holds login_external (that belongs to external sets)', () => {
    for (const r of SEEDED_ROLES.filter((x) => x.name !== SITE_ADMINISTRATOR)) expect(r.internal, r.name).not.toContain('login_external');
  });

  test('only the Site Administrator holds administration permissions', () => {
    for (const r of SEEDED_ROLES.filter((x) => x.name !== SITE_ADMINISTRATOR)) {
      expect(r.internal.filter((p) => p.startsWith('admin_')), r.name).toEqual([]);
    }
  });

  test('Read Only cannot change anything', () => {
    const ro = role('Read Only');
    for (const p of ['cases_edit', 'cases_create', 'intake', 'api_access'] as const) expect(ro.internal).not.toContain(p);
    expect(ro.external).toEqual([]);
  });

  test('API Client uses the API and sees no cases by its seeded role', () => {
    const api = role('API Client');
    expect(api.internal).toContain('api_access');
    expect(api.external).toContain('api_access');
    expect(api.internal).not.toContain('cases_view_all');
  });

  test('full SSNs only for the Site Administrator and the Supervisor', () => {
    const holders = SEEDED_ROLES.filter((r) => r.internal.includes('ssn_view_full') || r.external.includes('ssn_view_full')).map((r) => r.name).sort();
    expect(holders).toEqual(['Site Administrator', 'Supervisor']);
  });
});

describe('loginPermissionFor', () => {
  test('internal networks need login_internal, all others login_external', () => {
    expect(loginPermissionFor('internal')).toBe('login_internal');
    expect(loginPermissionFor('external')).toBe('login_external');
  });
});

describe('hasPermission: deny by default', () => {
  test('an empty set grants nothing', () => {
    for (const p of ALL_PERMISSIONS) expect(hasPermission([], p)).toBe(false);
  });

  test('grants only what is listed', () => {
    for (const p of ALL_PERMISSIONS) {
      expect(hasPermission([p], p)).toBe(true);
      expect(hasPermission(ALL_PERMISSIONS.filter((x) => x !== p), p)).toBe(false);
    }
  });

  test('no implication between permissions (view_all does not imply view_assigned, admin_* does not imply audit_view)', () => {
    expect(hasPermission(['cases_view_all'], 'cases_view_assigned')).toBe(false);
    expect(hasPermission(['cases_view_assigned'], 'cases_view_all')).toBe(false);
    expect(hasPermission(['admin_users', 'admin_roles', 'admin_site_settings'], 'audit_view')).toBe(false);
    expect(hasPermission(['login_internal'], 'login_external')).toBe(false);
  });

  test('matching is exact: no case folding, trimming, prefixes or wildcards', () => {
    expect(hasPermission(['CASES_VIEW_ALL'], 'cases_view_all')).toBe(false);
    expect(hasPermission([' cases_view_all'], 'cases_view_all')).toBe(false);
    expect(hasPermission(['cases_view_all '], 'cases_view_all')).toBe(false);
    expect(hasPermission(['cases_view'], 'cases_view_all')).toBe(false);
    expect(hasPermission(['cases_*'], 'cases_view_all')).toBe(false);
    expect(hasPermission(['*'], 'admin_users')).toBe(false);
    expect(hasPermission(['all'], 'admin_users')).toBe(false);
    expect(hasPermission(['cases_view_all,cases_edit'], 'cases_edit')).toBe(false);
  });

  test('unknown names in a stored set grant nothing', () => {
    expect(hasPermission(['superuser', 'root', 'admin'], 'admin_users')).toBe(false);
  });

  test('seeded sets answer as expected', () => {
    expect(hasPermission(role('Pro Bono Restricted Access').internal, 'cases_view_assigned')).toBe(true);
    expect(hasPermission(role('Pro Bono Restricted Access').internal, 'cases_view_all')).toBe(false);
    expect(hasPermission(role('Attorney').external, 'login_external')).toBe(false);
    expect(hasPermission(role('Site Administrator').internal, 'admin_backups')).toBe(true);
  });
});
