// The permission catalogue is code; roles are data that reference it.
export const PERMISSIONS = {
  login_internal: 'Log in from an internal network',
  login_external: 'Log in from any other network',
  api_access: 'Use the API with personal access tokens',
  cases_view_all: 'View all cases',
  cases_view_assigned: 'View cases assigned to them',
  cases_edit: 'Edit cases',
  cases_create: 'Create cases',
  cases_reopen: 'Reopen closed or rejected cases',
  intake: 'Take applications (intake)',
  intake_override_income: 'Override the income limit at intake, with a written reason',
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

/** The areas the Roles page groups permissions by, in the order it shows them. */
export const PERMISSION_AREAS = [
  { id: 'sign_in', label: 'Sign-in' },
  { id: 'cases', label: 'Cases and intake' },
  { id: 'reports', label: 'Reports' },
  { id: 'administration', label: 'Administration' },
  { id: 'api', label: 'API' },
  { id: 'audit', label: 'Audit' },
] as const;

export type PermissionArea = (typeof PERMISSION_AREAS)[number]['id'];

/** What the Roles page says of a permission: a readable label, one line on what it allows, its area. */
export interface PermissionInfo {
  label: string;
  description: string;
  area: PermissionArea;
  /** False while no part of Haven checks the permission yet (its capability is not built). */
  inUse: boolean;
}

/**
 * Metadata for every permission of the catalogue (pure data; test/roles/permission-info.test.ts
 * checks that none is missing). `inUse` follows the code: a permission is in use when a route
 * declares it or a rule reads it (API Access: the MFA exemption, before the API exists).
 */
export const PERMISSION_INFO: Record<Permission, PermissionInfo> = {
  login_internal: {
    label: 'Sign in from an internal network',
    description: 'Sign in from a network marked internal. Until a network is marked internal, every session is internal.',
    area: 'sign_in',
    inUse: true,
  },
  login_external: {
    label: 'Sign in from other networks',
    description: 'Sign in from any network not marked internal (networks are defined on Admin > Locations).',
    area: 'sign_in',
    inUse: true,
  },
  cases_view_all: { label: 'View all cases', description: 'Open and search every case (within the offices and programs the user is limited to).', area: 'cases', inUse: true },
  cases_view_assigned: { label: 'View assigned cases', description: 'Open and search only the cases the user is assigned to.', area: 'cases', inUse: true },
  cases_edit: { label: 'Edit cases', description: 'Add notes, change assignment and disposition (accept, reject, close), record conflict decisions.', area: 'cases', inUse: true },
  cases_create: { label: 'Create cases', description: 'Open new cases for clients.', area: 'cases', inUse: true },
  cases_reopen: { label: 'Reopen cases', description: 'Reopen a closed case (to Open) or a rejected one (to Pending).', area: 'cases', inUse: true },
  intake: { label: 'Intake', description: 'Take new applications through the intake stages.', area: 'cases', inUse: true },
  intake_override_income: {
    label: 'Override the income limit',
    description: 'Continue an application over the income limit, with a written reason that is audited.',
    area: 'cases',
    inUse: true,
  },
  ssn_view_full: {
    label: 'See full Social Security numbers',
    description: 'See Social Security numbers unmasked (each showing is audited); others see only the last four digits.',
    area: 'cases',
    inUse: true,
  },
  reports_view: { label: 'View reports', description: 'Open the case reports.', area: 'reports', inUse: false },
  admin_users: {
    label: 'Manage users',
    description: 'Create and edit accounts, reset passwords and MFA, export the users report; only for roles within their own.',
    area: 'administration',
    inUse: true,
  },
  admin_roles: {
    label: 'Manage roles',
    description: 'Create roles and change their permissions, never beyond their own role.',
    area: 'administration',
    inUse: true,
  },
  admin_site_settings: {
    label: 'Site settings',
    description: 'Change password rules, timeouts, MFA requirements and other site-wide settings.',
    area: 'administration',
    inUse: true,
  },
  admin_locations: {
    label: 'Locations',
    description: 'Define networks: which are internal, their timeouts and forced roles.',
    area: 'administration',
    inUse: true,
  },
  admin_backups: {
    label: 'Backups and export',
    description: 'See backups and restore tests, start a backup, and export all data (every table and document, opened, to a folder on the server).',
    area: 'administration',
    inUse: true,
  },
  mail_queue_view: {
    label: 'Mail queue',
    description: 'See queued, sent and failed e-mail, and send failed messages again.',
    area: 'administration',
    inUse: true,
  },
  api_access: {
    label: 'API access',
    description: 'Use the API with personal access tokens, once the API exists. Already today, users of a role with it are exempt from required MFA.',
    area: 'api',
    inUse: true,
  },
  audit_view: { label: 'Audit log', description: 'Read the audit log: sign-ins, failures, MFA events and changes.', area: 'audit', inUse: true },
};

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
    internal: [
      'login_internal',
      'cases_view_all',
      'cases_edit',
      'cases_create',
      'cases_reopen',
      'intake',
      'intake_override_income',
      'ssn_view_full',
      'reports_view',
      'mail_queue_view',
      'audit_view',
    ],
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
