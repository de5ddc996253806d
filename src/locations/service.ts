import { asc, eq, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import { rowsOf, type Db } from '../db/client.ts';
import { networks, roles } from '../db/schema.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { checkNetworkForm, describeLocation, locate, mayLogInAt, permissionsAt, type NetworkForm, type NetworkRule } from '../security/locations.ts';
import { hasPermission, loginPermissionFor, type PermissionSets } from '../security/permissions.ts';
import { SESSION_TIMEOUT_MAX_MINUTES } from '../security/site-settings.ts';

/** The smallest network timeout: the warning comes five minutes before the end. */
export const NETWORK_TIMEOUT_BOUNDS = { min: 6, max: SESSION_TIMEOUT_MAX_MINUTES };

/**
 * Every network with its forced role's two sets, as one JSON value: a subquery that the
 * session lookup and the login read put in their own statement, so the rules cost no round
 * trip of their own. `networkRulesFrom` reads the value.
 */
export const NETWORK_RULES_JSON = `
  (SELECT json_agg(json_build_object(
            'id', n.id, 'name', n.name, 'ranges', n.ranges, 'internal', n.internal, 'timeout', n.timeout_minutes,
            'forced', CASE WHEN fr.id IS NULL THEN NULL
                           ELSE json_build_object('name', fr.name, 'internal', fr.internal_permissions, 'external', fr.external_permissions) END))
     FROM networks n LEFT JOIN roles fr ON fr.id = n.forced_role_id)`;

export interface NetworkJson {
  id: string;
  name: string;
  ranges: string[];
  internal: boolean;
  timeout: number | null;
  forced: { name: string; internal: string[]; external: string[] } | null;
}

export function networkRulesFrom(json: NetworkJson[] | null | undefined): NetworkRule[] {
  return (json ?? []).map((n) => ({
    id: n.id,
    name: n.name,
    ranges: n.ranges,
    internal: n.internal,
    timeoutMinutes: n.timeout,
    forcedRole: n.forced ? { name: n.forced.name, internalPermissions: n.forced.internal, externalPermissions: n.forced.external } : null,
  }));
}

export async function loadNetworkRules(db: Db): Promise<NetworkRule[]> {
  const [row] = await rowsOf<{ rules: NetworkJson[] | null }>(db, sql.raw(`SELECT ${NETWORK_RULES_JSON} AS rules`));
  return networkRulesFrom(row?.rules);
}

export interface NetworkRow {
  id: string;
  name: string;
  ranges: string[];
  internal: boolean;
  timeoutMinutes: number | null;
  forcedRoleId: string | null;
  forcedRoleName: string | null;
}

export function listNetworks(app: App): Promise<NetworkRow[]> {
  return app.db
    .select({
      id: networks.id,
      name: networks.name,
      ranges: networks.ranges,
      internal: networks.internal,
      timeoutMinutes: networks.timeoutMinutes,
      forcedRoleId: networks.forcedRoleId,
      forcedRoleName: roles.name,
    })
    .from(networks)
    .leftJoin(roles, eq(roles.id, networks.forcedRoleId))
    .orderBy(asc(sql`lower(${networks.name})`));
}

/** Who changes a network: the `haven` command has no session (no role, no address). */
export interface NetworkEditor {
  actor: Actor | null;
  ip: string | null;
  /** The editor's role: the change must leave them able to sign in and undo it from where they are. */
  role?: { name: string } & PermissionSets;
}

export type NetworkChange = { ok: true; id: string } | { ok: false; errors: Record<string, string> };

/**
 * An administrator must not cut off their own session: after the change, from the address
 * they are at, their role must still sign in and still manage locations.
 */
function lockoutError(editor: NetworkEditor, after: NetworkRule[]): string | null {
  if (!editor.role || !editor.ip) return null;
  const location = locate(editor.ip, after);
  if (mayLogInAt(editor.role, location) && hasPermission(permissionsAt(editor.role, location), 'admin_locations')) return null;
  return `This change would lock you out: your address ${editor.ip} would be in ${describeLocation(location)}, where your role ${editor.role.name} could not sign in and manage locations. Add your own network first, or grant ${loginPermissionFor(location.kind)} there.`;
}

async function findForcedRole(app: App, value: string): Promise<{ id: string; name: string; internalPermissions: string[]; externalPermissions: string[] } | undefined> {
  const [role] = await app.db
    .select({ id: roles.id, name: roles.name, internalPermissions: roles.internalPermissions, externalPermissions: roles.externalPermissions })
    .from(roles)
    .where(sql`${roles.id}::text = ${value} OR lower(${roles.name}) = lower(${value})`);
  return role;
}

/**
 * Adds a network (`id` unset) or changes one. `forcedRole` is a role's id or name, empty for
 * none. Every field is checked before anything is written; the change is audited.
 */
export async function saveNetwork(app: App, form: NetworkForm & { forcedRole: string }, editor: NetworkEditor, id?: string): Promise<NetworkChange> {
  const current = await loadNetworkRules(app.db);
  const before = id ? current.find((n) => n.id === id) : undefined;
  if (id && !before) return { ok: false, errors: { _form: 'That network no longer exists.' } };
  const checked = checkNetworkForm(form, current.filter((n) => n.id !== id), NETWORK_TIMEOUT_BOUNDS);
  const errors: Record<string, string> = checked.ok ? {} : { ...checked.errors };
  const forcedRole = form.forcedRole.trim() ? await findForcedRole(app, form.forcedRole.trim()) : undefined;
  if (form.forcedRole.trim() && !forcedRole) errors.forced_role = 'No such role.';
  if (!checked.ok || Object.keys(errors).length) return { ok: false, errors };
  const network = checked.network;
  const rule: NetworkRule = { id: id ?? 'new', ...network, forcedRole: forcedRole ?? null };
  const lockout = lockoutError(editor, [...current.filter((n) => n.id !== id), rule]);
  if (lockout) return { ok: false, errors: { _form: lockout } };
  const now = app.clock.now();
  const values = { name: network.name, ranges: network.ranges, internal: network.internal, timeoutMinutes: network.timeoutMinutes, forcedRoleId: forcedRole?.id ?? null, updatedAt: now };
  const summary = { ranges: network.ranges, internal: network.internal, timeoutMinutes: network.timeoutMinutes, forcedRole: forcedRole?.name ?? null };
  const savedId = await app.db.transaction(async (tx) => {
    if (id) {
      await tx.update(networks).set(values).where(eq(networks.id, id));
      const was = { ranges: before!.ranges, internal: before!.internal, timeoutMinutes: before!.timeoutMinutes, forcedRole: before!.forcedRole?.name ?? null };
      await recordAudit(app, { action: 'location.changed', actor: editor.actor, target: network.name, ip: editor.ip, details: { before: { name: before!.name, ...was }, after: summary } }, tx);
      return id;
    }
    const [row] = await tx.insert(networks).values({ ...values, createdAt: now }).returning({ id: networks.id });
    await recordAudit(app, { action: 'location.added', actor: editor.actor, target: network.name, ip: editor.ip, details: summary }, tx);
    return row!.id;
  });
  return { ok: true, id: savedId };
}

/** Removes a network, by id or by name (the command). */
export async function removeNetwork(app: App, idOrName: string, editor: NetworkEditor): Promise<{ ok: true; name: string } | { ok: false; error: string }> {
  const current = await loadNetworkRules(app.db);
  const network = current.find((n) => n.id === idOrName) ?? current.find((n) => n.name.toLowerCase() === idOrName.trim().toLowerCase());
  if (!network) return { ok: false, error: 'No such network.' };
  const lockout = lockoutError(editor, current.filter((n) => n.id !== network.id));
  if (lockout) return { ok: false, error: lockout };
  await app.db.transaction(async (tx) => {
    await tx.delete(networks).where(eq(networks.id, network.id));
    await recordAudit(
      app,
      { action: 'location.removed', actor: editor.actor, target: network.name, ip: editor.ip, details: { ranges: network.ranges, internal: network.internal } },
      tx,
    );
  });
  return { ok: true, name: network.name };
}
