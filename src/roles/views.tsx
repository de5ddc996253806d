import { Csrf, Field, FormError, Layout, type PageContext } from '../web/layout.tsx';
import { ALL_PERMISSIONS, PERMISSIONS } from '../security/permissions.ts';
import type { Role } from './service.ts';

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
  saved?: string;
}) {
  return (
    <Layout title="Roles" ctx={ctx}>
      {saved && <p role="status">Saved role {saved}.</p>}
      <p>
        Each role has two permission sets: <strong>Internal</strong> applies to sessions from a network marked internal,
        <strong> External</strong> to all others. Until a network is marked internal, every session is internal.
      </p>
      {roles.map((role) => (
        <details open={Boolean(errors[role.id])}>
          <summary>
            {role.name} ({userCounts.get(role.id) ?? 0} users)
          </summary>
          <FormError message={errors[role.id]} />
          <form method="post" action={`/admin/roles/${role.id}`}>
            <Csrf token={ctx.csrfToken} />
            <table>
              <thead>
                <tr>
                  <th>Permission</th>
                  <th>Internal</th>
                  <th>External</th>
                </tr>
              </thead>
              <tbody>
                {ALL_PERMISSIONS.map((p) => (
                  <tr>
                    <td>
                      {PERMISSIONS[p]} <code>{p}</code>
                    </td>
                    <td>
                      <input type="checkbox" name="internal" value={p} checked={role.internalPermissions.includes(p)} aria-label={`${p} internal`} />
                    </td>
                    <td>
                      <input type="checkbox" name="external" value={p} checked={role.externalPermissions.includes(p)} aria-label={`${p} external`} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <button type="submit">Save {role.name}</button>
          </form>
        </details>
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
