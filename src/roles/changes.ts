// What a change of a role's permissions did, in words (pure): the Roles page says it after a
// save, and the audit log describes `role.permissions_changed` entries with it.
import { isPermission, PERMISSION_INFO } from '../security/permissions.ts';

export type PermissionSetName = 'internal' | 'external';

export interface PermissionSetPair {
  internal: readonly string[];
  external: readonly string[];
}

export interface PermissionChange {
  kind: 'added' | 'removed';
  permission: string;
  set: PermissionSetName;
}

/** The readable label of a permission; a name the catalogue does not know (old data) is shown as it is. */
export function permissionLabel(name: string): string {
  return isPermission(name) ? PERMISSION_INFO[name].label : name;
}

/** Added, then removed; each in catalogue order (unknown names last), internal before external. */
export function permissionChanges(before: PermissionSetPair, after: PermissionSetPair): PermissionChange[] {
  const order = Object.keys(PERMISSION_INFO);
  const rank = (p: string) => {
    const i = order.indexOf(p);
    return i < 0 ? order.length : i;
  };
  const changes: PermissionChange[] = [];
  for (const kind of ['added', 'removed'] as const) {
    for (const set of ['internal', 'external'] as const) {
      const [from, to] = kind === 'added' ? [before[set], after[set]] : [after[set], before[set]];
      const names = [...new Set(to.filter((p) => !from.includes(p)))].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
      for (const permission of names) changes.push({ kind, permission, set });
    }
  }
  return changes;
}

/**
 * E.g. "added Audit log (internal), Intake (external); removed Mail queue (internal)", or
 * "no permissions changed".
 */
export function describePermissionChanges(changes: readonly PermissionChange[]): string {
  const parts: string[] = [];
  for (const kind of ['added', 'removed'] as const) {
    const of = changes.filter((c) => c.kind === kind).map((c) => `${permissionLabel(c.permission)} (${c.set})`);
    if (of.length) parts.push(`${kind} ${of.join(', ')}`);
  }
  return parts.length ? parts.join('; ') : 'no permissions changed';
}
