import { Csrf, Field, FormError, Layout, type PageContext } from '../web/layout.tsx';
import type { Role } from '../roles/service.ts';

export interface UserRow {
  id: string;
  login: string;
  fullName: string;
  email: string;
  roleName: string;
  loginActive: boolean;
  mfaEnabled: boolean;
  mfaMethod: string | null;
  lastLoginAt: Date | null;
}

export function UserListPage({ ctx, users }: { ctx: PageContext; users: UserRow[] }) {
  return (
    <Layout title="Users" ctx={ctx}>
      <p>
        <a href="/admin/users/new" role="button">
          Create user
        </a>
      </p>
      <table>
        <thead>
          <tr>
            <th>Login</th>
            <th>Name</th>
            <th>E-mail</th>
            <th>Role</th>
            <th>Login Active</th>
            <th>Last login</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr>
              <td>
                <a href={`/admin/users/${u.id}`}>{u.login}</a>
              </td>
              <td>{u.fullName}</td>
              <td>{u.email}</td>
              <td>{u.roleName}</td>
              <td>{u.loginActive ? 'Yes' : 'No'}</td>
              <td>{u.lastLoginAt ? u.lastLoginAt.toISOString().slice(0, 16).replace('T', ' ') : 'never'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}

export interface UserFormValues {
  login?: string;
  fullName?: string;
  email?: string;
  roleId?: string;
  loginActive?: boolean;
}

function RoleSelect({ roles, selected, error }: { roles: Role[]; selected?: string; error?: string }) {
  return (
    <label>
      Role
      <select name="roleId" required aria-invalid={error ? 'true' : undefined}>
        <option value="">Choose a role</option>
        {roles.map((r) => (
          <option value={r.id} selected={r.id === selected}>
            {r.name}
          </option>
        ))}
      </select>
      {error && (
        <small role="alert" class="field-error">
          {error}
        </small>
      )}
    </label>
  );
}

export function UserFormPage(props: {
  ctx: PageContext;
  mode: 'create' | 'edit';
  userId?: string;
  roles: Role[];
  values: UserFormValues;
  errors: Record<string, string>;
  saved?: boolean;
}) {
  const { ctx, mode, roles, values, errors } = props;
  const action = mode === 'create' ? '/admin/users' : `/admin/users/${props.userId}`;
  return (
    <Layout title={mode === 'create' ? 'Create user' : `User ${values.login}`} ctx={ctx}>
      {props.saved && <p role="status">Saved.</p>}
      {mode === 'edit' && (
        <p>
          <a href={`/admin/users/${props.userId}/security`}>Security (multifactor authentication)</a>
        </p>
      )}
      <FormError message={errors._form} />
      <form method="post" action={action}>
        <Csrf token={ctx.csrfToken} />
        {mode === 'create' ? (
          <Field name="login" label="Login name" value={values.login} error={errors.login} autocomplete="off" required />
        ) : (
          <p>
            Login name: <strong>{values.login}</strong>
          </p>
        )}
        <Field name="fullName" label="Full name" value={values.fullName} error={errors.fullName} required />
        <Field name="email" label="E-mail" type="email" value={values.email} error={errors.email} required />
        <RoleSelect roles={roles} selected={values.roleId} error={errors.roleId} />
        {mode === 'edit' && (
          <fieldset>
            <legend>Login Active</legend>
            <label>
              <input type="radio" name="loginActive" value="yes" checked={values.loginActive !== false} /> Yes
            </label>
            <label>
              <input type="radio" name="loginActive" value="no" checked={values.loginActive === false} /> No
            </label>
            {errors.loginActive && (
              <small role="alert" class="field-error">
                {errors.loginActive}
              </small>
            )}
          </fieldset>
        )}
        <Field
          name="password"
          label={mode === 'create' ? 'Initial password' : 'New password (leave empty to keep)'}
          type="password"
          error={errors.password}
          autocomplete="new-password"
          required={mode === 'create'}
          help="The user must change it at their first login."
        />
        <button type="submit">{mode === 'create' ? 'Create user' : 'Save'}</button>
      </form>
    </Layout>
  );
}
