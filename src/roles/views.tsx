import { Csrf, Field, FormError, Layout, Notice, plural, TableScroll, type PageContext } from '../web/layout.tsx';
import { PERMISSION_AREAS, PERMISSION_INFO, type Permission } from '../security/permissions.ts';
import type { Role } from './service.ts';

// In the order of PERMISSION_INFO, which lists each area's permissions from the most used.
const BY_AREA = PERMISSION_AREAS.map((area) => ({
  ...area,
  permissions: (Object.keys(PERMISSION_INFO) as Permission[]).filter((p) => PERMISSION_INFO[p].area === area.id),
}));

/** Attributes Preact's types do not list for every element, passed through as they are. */
const attrs = (a: Record<string, unknown>) => a as Record<string, never>;

function PermissionRow({ role, permission }: { role: Role; permission: Permission }) {
  const info = PERMISSION_INFO[permission];
  const describedBy = `${role.id}-${permission}`;
  return (
    <tr>
      <th scope="row" id={describedBy}>
        <div>
          <strong>{info.label}</strong>
          {!info.inUse && (
            <>
              {' '}
              <span class="badge badge-wait not-in-use">not in use yet</span>
            </>
          )}
        </div>
        <small>
          {info.description} <code>{permission}</code>
        </small>
      </th>
      {(['internal', 'external'] as const).map((set) => (
        <td>
          <input
            type="checkbox"
            name={set}
            value={permission}
            checked={(set === 'internal' ? role.internalPermissions : role.externalPermissions).includes(permission)}
            {...attrs({ 'aria-label': `${permission} ${set}`, 'aria-describedby': describedBy })}
          />
        </td>
      ))}
    </tr>
  );
}

function RoleForm({ ctx, role, users, error, open }: { ctx: PageContext; role: Role; users: number; error?: string; open: boolean }) {
  const known = (list: string[]) => list.filter((p) => Object.hasOwn(PERMISSION_INFO, p)).length;
  return (
    <details open={open} id={`role-${role.id}`} class="role-section">
      <summary>
        <strong>{role.name}</strong>
        <span class="muted">
          {' '}
          ({plural(users, 'user')}; permissions: {known(role.internalPermissions)} internal, {known(role.externalPermissions)} external)
        </span>
      </summary>
      <FormError message={error} />
      <form method="post" action={`/admin/roles/${role.id}`}>
        <Csrf token={ctx.csrfToken} />
        <TableScroll label={`Permissions of ${role.name}`}>
          <table class="role-permissions">
            <thead>
              <tr>
                <th scope="col">Permission</th>
                <th scope="col">Internal</th>
                <th scope="col">External</th>
              </tr>
            </thead>
            {BY_AREA.map((area) => (
              <tbody>
                <tr>
                  <th scope="rowgroup" colSpan={3}>
                    {area.label}
                  </th>
                </tr>
                {area.permissions.map((p) => (
                  <PermissionRow role={role} permission={p} />
                ))}
              </tbody>
            ))}
          </table>
        </TableScroll>
        <button type="submit">Save {role.name}</button>
      </form>
    </details>
  );
}

export function RolesPage({
  ctx,
  roles,
  userCounts,
  errors,
  saved,
}: {
  ctx: PageContext;
  roles: Role[];
  userCounts: Map<string, number>;
  errors: Record<string, string>;
  /** The role just saved or created, and what the page says of it. */
  saved?: { roleId: string; message: string };
}) {
  return (
    <Layout title="Roles" ctx={ctx}>
      {saved && <Notice>{saved.message}</Notice>}
      <p class="notice">
        Each role has two permission sets. <strong>Internal</strong> applies to sessions from a network marked internal; <strong>External</strong> applies
        to sessions from every other network. Until a network is marked internal, every session is internal, so only the Internal set counts: review
        the External sets before defining networks.
      </p>
      <p>
        Permissions marked <span class="badge badge-wait">not in use yet</span> belong to parts of Haven that are not built yet: granting one changes nothing
        today, but will once that part arrives. You can grant only permissions your own role has, and cannot change a role that has permissions yours
        lacks.
      </p>
      {roles.map((role) => (
        <RoleForm ctx={ctx} role={role} users={userCounts.get(role.id) ?? 0} error={errors[role.id]} open={Boolean(errors[role.id]) || saved?.roleId === role.id} />
      ))}
      <h2>New role</h2>
      <form method="post" action="/admin/roles">
        <Csrf token={ctx.csrfToken} />
        <Field name="name" label="Role name" error={errors.name} required />
        <button type="submit">Create role</button>
      </form>
    </Layout>
  );
}
