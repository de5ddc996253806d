import { asc, eq, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import { roles, users } from '../db/schema.ts';
import { isPermission, loginPermissionFor, mayManageRole, SEEDED_ROLES, type NetworkKind, type Permission } from '../security/permissions.ts';
import { getAuditEntry, recordAudit, type Actor } from '../audit/service.ts';
import { describePermissionChanges, permissionChanges, type PermissionSetPair } from './changes.ts';
import type { Db } from '../db/client.ts';
import { TEXT_PROBLEM_MESSAGES, textProblem, truncateCodePoints } from '../security/text.ts';

export type Role = typeof roles.$inferSelect;

/** Creates the seeded roles that do not exist yet; never overwrites an administrator's edits. */
export async function seedRoles(app: App): Promise<void> {
  const now = app.clock.now();
  await app.db
    .insert(roles)
    .values(SEEDED_ROLES.map((r) => ({ name: r.name, internalPermissions: r.internal, externalPermissions: r.external, createdAt: now })))
    .onConflictDoNothing({ target: roles.name });
}

export function listRoles(app: App): Promise<Role[]> {
  return app.db.select().from(roles).orderBy(asc(roles.name));
}

export async function findRoleByName(app: App, name: string): Promise<Role | undefined> {
  const [role] = await app.db.select().from(roles).where(sql`lower(${roles.name}) = lower(${name})`);
  return role;
}

export async function getRole(app: App, id: string): Promise<Role | undefined> {
  if (!isUuid(id)) return undefined;
  const [role] = await app.db.select().from(roles).where(eq(roles.id, id));
  return role;
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/** `entry`: the audit entry that records the change; absent when nothing changed (nothing is written). */
export type RoleUpdateResult = { ok: true; entry?: number } | { ok: false; error: string };

// Permissions an administrator may not take from their own role: they would lock themselves
// out of undoing the change.
const selfLockout = (kind: NetworkKind): Permission[] => ['admin_roles', loginPermissionFor(kind)];

const normalizeSet = (list: string[]) => [...new Set(list)].sort();

/**
 * Changes a role's two permission sets. An administrator may edit only a role that grants
 * nothing their own role does not, before and after the change: `admin_roles` must not be a way
 * to grant oneself (or anyone) more than one has. No actor (the `haven` command) is not limited.
 */
export async function updateRolePermissions(
  app: App,
  roleId: string,
  internal: string[],
  external: string[],
  actor: (Actor & { roleId?: string; networkKind?: NetworkKind }) | null,
  ip: string | null,
): Promise<RoleUpdateResult> {
  const unknown = [...internal, ...external].filter((p) => !isPermission(p));
  if (unknown.length) {
    const more = unknown.length > 1 ? ` and ${unknown.length - 1} more` : '';
    return { ok: false, error: `Unknown permission "${truncateCodePoints(unknown[0]!, 40)}"${more}.` };
  }
  const role = await getRole(app, roleId);
  if (!role) return { ok: false, error: 'No such role.' };
  const own = actor?.roleId ? await getRole(app, actor.roleId) : undefined;
  if (own) {
    const after = { internalPermissions: internal, externalPermissions: external };
    if (!mayManageRole(own, role)) return { ok: false, error: 'This role has permissions your role lacks, so you cannot change it.' };
    if (!mayManageRole(own, after)) {
      const held = new Set([...own.internalPermissions, ...own.externalPermissions]);
      const extra = [...internal.filter((p) => !own.internalPermissions.includes(p)), ...external.filter((p) => !held.has(p))];
      return { ok: false, error: `You cannot grant a permission your own role lacks: ${[...new Set(extra)].join(', ')}.` };
    }
  }
  if (actor?.roleId && roleId === actor.roleId) {
    // The set that applies where the administrator is now (DESIGN §1.6).
    const kind = actor.networkKind ?? 'internal';
    const [was, next] = kind === 'internal' ? [role.internalPermissions, internal] : [role.externalPermissions, external];
    const lost = selfLockout(kind).filter((p) => was.includes(p) && !next.includes(p));
    if (lost.length) {
      const where = kind === 'internal' ? '' : "'s external set: it is the set that applies where you are now";
      return { ok: false, error: `You cannot remove ${lost.join(', ')} from your own role${where}.` };
    }
  }
  const after = { internal: normalizeSet(internal), external: normalizeSet(external) };
  const same = (stored: readonly string[], next: string[]) => {
    const was = normalizeSet([...stored]);
    return was.length === next.length && was.every((p, i) => p === next[i]);
  };
  if (same(role.internalPermissions, after.internal) && same(role.externalPermissions, after.external)) return { ok: true };
  const entry = await app.db.transaction(async (tx) => {
    await tx.update(roles).set({ internalPermissions: after.internal, externalPermissions: after.external }).where(eq(roles.id, roleId));
    return recordAudit(
      app,
      {
        action: 'role.permissions_changed',
        actor,
        target: role.name,
        ip,
        details: { before: { internal: role.internalPermissions, external: role.externalPermissions }, after },
      },
      tx,
    );
  });
  return { ok: true, entry };
}

export async function createRole(app: App, name: string, actor: Actor, ip: string | null): Promise<{ ok: true; id: string } | { ok: false; error: string }> {
  const trimmed = name.trim();
  if (trimmed.length < 2 || trimmed.length > 80) return { ok: false, error: 'Role name must be 2 to 80 characters.' };
  const problem = textProblem(trimmed);
  if (problem) return { ok: false, error: TEXT_PROBLEM_MESSAGES[problem] };
  // A role name is a list item in mfa_required_roles (a comma list).
  if (trimmed.includes(',')) return { ok: false, error: 'A role name cannot contain a comma.' };
  if (await findRoleByName(app, trimmed)) return { ok: false, error: 'A role with that name exists already.' };
  const id = await app.db.transaction(async (tx) => {
    const [row] = await tx.insert(roles).values({ name: trimmed, createdAt: app.clock.now() }).returning({ id: roles.id });
    await recordAudit(app, { action: 'role.created', actor, target: trimmed, ip }, tx);
    return row!.id;
  });
  return { ok: true, id };
}

/**
 * What the Roles page says after a save: "Attorney: added Audit log (internal); removed Intake
 * (external)." The change is read back from its audit entry, and only if that entry records a
 * change of this role by this administrator, so a crafted link cannot make the page claim a
 * change that did not happen.
 */
export async function savedRoleMessage(
  app: App,
  input: { roleId: string; entry?: number; created?: boolean; unchanged?: boolean; actorId: string },
): Promise<string | undefined> {
  const role = await getRole(app, input.roleId);
  if (!role) return undefined;
  if (input.created) return `Created role ${role.name}. It has no permissions yet: choose them below.`;
  if (input.unchanged) return `${role.name}: nothing changed.`;
  if (input.entry !== undefined) {
    const entry = await getAuditEntry(app, input.entry);
    const details = entry?.details as { before?: Partial<PermissionSetPair>; after?: Partial<PermissionSetPair> } | null | undefined;
    const sets = [details?.before?.internal, details?.before?.external, details?.after?.internal, details?.after?.external];
    if (entry?.action === 'role.permissions_changed' && entry.target === role.name && entry.actorId === input.actorId && sets.every(Array.isArray)) {
      const [bi, be, ai, ae] = sets as string[][];
      return `${role.name}: ${describePermissionChanges(permissionChanges({ internal: bi!, external: be! }, { internal: ai!, external: ae! }))}.`;
    }
  }
  return `Saved role ${role.name}.`;
}

export async function countUsersByRole(app: App): Promise<Map<string, number>> {
  const rows = await app.db.select({ roleId: users.roleId, n: sql<number>`count(*)::int` }).from(users).groupBy(users.roleId);
  return new Map(rows.map((r) => [r.roleId, r.n]));
}
