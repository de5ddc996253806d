import { idleTimeoutAt, locate, permissionsAt, type Location, type NetworkRule } from '../security/locations.ts';
import { loginPermissionFor } from '../security/permissions.ts';
import { NETWORK_RULES_JSON, networkRulesFrom, type NetworkJson } from '../locations/service.ts';
import type { SessionContext } from './service.ts';

/**
 * What every session lookup reads of its user (`u`) and role (`r`), whatever holds the session
 * (a row, or a sealed read-only cookie): Login Active, the role's two sets, the networks and the
 * site's idle timeout. `sessionAccessOf` decides with them. They are the fields of a
 * json_build_object (`sessionRowJson`): the driver then parses one value per lookup, natively,
 * instead of twenty columns, four of them arrays parsed in JavaScript, on every request.
 */
const SESSION_USER_FIELDS = `'login', u.login, 'full_name', u.full_name, 'email', u.email, 'login_active', u.login_active,
         'offices', u.offices, 'programs', u.programs, 'role_id', r.id, 'role_name', r.name,
         'internal_permissions', r.internal_permissions, 'external_permissions', r.external_permissions,
         'networks', ${NETWORK_RULES_JSON},
         'timeout_minutes', COALESCE((SELECT value::int FROM site_settings WHERE key = 'session_timeout_minutes'), 90)`;

/** The select list of a session lookup: `row`, one JSON object of `fields` (`'name', expression, …`) and the user's. */
export function sessionRowJson(fields: string): string {
  return `json_build_object(${fields ? `${fields}, ` : ''}${SESSION_USER_FIELDS}) AS row`;
}

export interface SessionUserRow {
  login: string;
  full_name: string;
  email: string;
  login_active: boolean;
  offices: string[];
  programs: string[];
  role_id: string;
  role_name: string;
  internal_permissions: string[];
  external_permissions: string[];
  networks: NetworkJson[] | null;
  timeout_minutes: number;
}

export interface SessionAccess {
  /** Every network (to tell where the session's previous address was). */
  rules: NetworkRule[];
  location: Location;
  permissions: string[];
  idleTimeoutMinutes: number;
  /** The Login permission for where the request comes from: without it the session ends. */
  mayLogIn: boolean;
  /** A refusal for the account itself (Login Active = No, or no Login permission here). */
  refusal: 'inactive' | 'no_login_permission' | null;
}

/** What a session of this user may do from `ip` (DESIGN §1.4, §1.6), re-decided on every request. */
export function sessionAccessOf(row: SessionUserRow, ip: string | null | undefined): SessionAccess {
  const rules = networkRulesFrom(row.networks);
  const location = locate(ip, rules);
  const permissions = permissionsAt({ internalPermissions: row.internal_permissions, externalPermissions: row.external_permissions }, location);
  const mayLogIn = permissions.includes(loginPermissionFor(location.kind));
  return {
    rules,
    location,
    permissions,
    idleTimeoutMinutes: idleTimeoutAt(row.timeout_minutes, location),
    mayLogIn,
    refusal: !row.login_active ? 'inactive' : !mayLogIn ? 'no_login_permission' : null,
  };
}

/** The session's user as the request context carries it. */
export function sessionUserOf(userId: string, row: SessionUserRow): SessionContext['user'] {
  return { id: userId, login: row.login, fullName: row.full_name, email: row.email, roleId: row.role_id, roleName: row.role_name };
}

