// The permission catalogue is code; roles are data that reference it.
export const PERMISSIONS = {
  login_internal: 'Log in from an internal network',
  login_external: 'Log in from any other network',
  api_access: 'Use the API with personal access tokens',
  cases_view_all: 'View all cases',
  cases_view_assigned: 'View cases assigned to them',
  cases_edit: 'Edit cases',
  cases_create: 'Create cases',
  intake: 'Take applications (intake)',
  ssn_view_full: 'See full Social Security numbers',
  reports_view: 'View reports',
  mail_queue_view: 'View the outgoing mail queue',
  admin_users: 'Administer users',
  admin_roles: 'Administer roles and permissions',
  admin_site_settings: 'Administer site settings',
  admin_locations: 'Administer locations (networks)',
  admin_backups: 'Administer backups',
  audit_view: 'View the audit log',
} as const;

export type Permission = keyof typeof PERMISSIONS;

export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[];

export function isPermission(value: string): value is Permission {
  return Object.hasOwn(PERMISSIONS, value);
}

export interface SeedRole {
  name: string;
  internal: Permission[];
  external: Permission[];
}

export const SITE_ADMINISTRATOR = 'Site Administrator';

// External sets start nearly empty: an administrator widens them deliberately once
// internal networks are defined (until then every session is internal).
// The Site Administrator has everything but API Access: roles with API Access are exempt from
// required MFA (DESIGN §1.3), and administrators are the first accounts MFA must hold.
export const SEEDED_ROLES: SeedRole[] = [
  { name: SITE_ADMINISTRATOR, internal: ALL_PERMISSIONS.filter((p) => p !== 'api_access'), external: [] },
  {
    name: 'Supervisor',
    internal: ['login_internal', 'cases_view_all', 'cases_edit', 'cases_create', 'intake', 'ssn_view_full', 'reports_view', 'mail_queue_view', 'audit_view'],
    external: [],
  },
  {
    name: 'Attorney',
    internal: ['login_internal', 'cases_view_all', 'cases_edit', 'cases_create', 'intake', 'reports_view'],
    external: [],
  },
  { name: 'Paralegal', internal: ['login_internal', 'cases_view_all', 'cases_edit', 'cases_create', 'intake'], external: [] },
  { name: 'Intake Worker', internal: ['login_internal', 'intake', 'cases_create', 'cases_view_assigned'], external: [] },
  {
    name: 'Pro Bono Restricted Access',
    internal: ['login_internal', 'cases_view_assigned', 'cases_edit'],
    external: ['login_external', 'cases_view_assigned', 'cases_edit'],
  },
  { name: 'Read Only', internal: ['login_internal', 'cases_view_all'], external: [] },
  { name: 'API Client', internal: ['login_internal', 'api_access'], external: ['api_access'] },
];

export type NetworkKind = 'internal' | 'external';

/** The Login permission that applies to a session from this kind of network. */
export function loginPermissionFor(network: NetworkKind): Permission {
  return network === 'internal' ? 'login_internal' : 'login_external';
}

/** Deny by default: only a permission present in the set that applies grants access. */
export function hasPermission(granted: readonly string[], wanted: Permission): boolean {
  return granted.includes(wanted);
}

/** A role's two permission sets (DESIGN §1.4). */
export interface PermissionSets {
  internalPermissions: readonly string[];
  externalPermissions: readonly string[];
}

/**
 * Whether an administrator whose role is `own` may give the role `target` to an account, or
 * manage (edit, reset, deactivate, reset the MFA of) an account that has it: only if `target`
 * grants nothing `own` does not. Otherwise `admin_users` alone would be enough to make oneself,
 * or a friend, a Site Administrator. Both sets are checked: the target's internal set against
 * the administrator's internal set, and its external set against everything the administrator
 * holds in either set (administrators work from internal networks, and the seeded Site
 * Administrator's external set is empty, yet must manage Pro Bono volunteers who sign in from
 * outside; docs/DECISIONS.md).
 */
export function mayManageRole(own: PermissionSets, target: PermissionSets): boolean {
  return (
    target.internalPermissions.every((p) => own.internalPermissions.includes(p)) &&
    target.externalPermissions.every((p) => own.internalPermissions.includes(p) || own.externalPermissions.includes(p))
  );
}
