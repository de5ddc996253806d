import { Csrf, Field, FormError, Layout, Notice, plural, SelectField, TableScroll, type PageContext } from '../web/layout.tsx';
import type { Role } from '../roles/service.ts';
import type { LookupRow } from '../lookups/service.ts';

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
  const active = users.filter((u) => u.loginActive).length;
  return (
    <Layout
      title="Users"
      ctx={ctx}
      subtitle={`${plural(users.length, 'user')}, ${active.toLocaleString('en-US')} of them allowed to log in.`}
      actions={
        <a href="/admin/users/new" role="button">
          Create user
        </a>
      }
    >
      <TableScroll label="Users">
        <table>
          <thead>
            <tr>
              <th scope="col">Login</th>
              <th scope="col">Name</th>
              <th scope="col">E-mail</th>
              <th scope="col">Role</th>
              <th scope="col">Login Active</th>
              <th scope="col">Last login (UTC)</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr>
                <td>
                  <a href={`/admin/users/${u.id}`}>{u.login}</a>
                </td>
                <td>{u.fullName}</td>
                <td class="cell-break">{u.email}</td>
                <td>{u.roleName}</td>
                <td>{u.loginActive ? 'Yes' : 'No'}</td>
                <td class="cell-nowrap">{u.lastLoginAt ? u.lastLoginAt.toISOString().slice(0, 16).replace('T', ' ') : 'never'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
    </Layout>
  );
}

export interface UserFormValues {
  login?: string;
  fullName?: string;
  email?: string;
  roleId?: string;
  loginActive?: boolean;
  offices?: string[];
  programs?: string[];
}

/** Case access limited to some offices and programs (DESIGN §1.4); none checked = not limited. */
function CaseScope({ lookups, values, errors }: { lookups: LookupRow[]; values: UserFormValues; errors: Record<string, string> }) {
  const group = (kind: 'office' | 'program', name: 'offices' | 'programs', legend: string) => {
    const chosen = values[name] ?? [];
    const options = lookups.filter((l) => l.kind === kind && (l.active || chosen.includes(l.value)));
    return (
      <fieldset {...({ 'aria-describedby': errors[name] ? `${name}-error` : undefined } as Record<string, unknown>)}>
        <legend>{legend}</legend>
        {options.map((o) => (
          <label>
            <input type="checkbox" name={name} value={o.value} checked={chosen.includes(o.value)} /> {o.value}
            {!o.active && <small> (inactive)</small>}
          </label>
        ))}
        {errors[name] && (
          <small id={`${name}-error`} role="alert" class="field-error">
            {errors[name]}
          </small>
        )}
      </fieldset>
    );
  };
  return (
    <section aria-labelledby="case-scope-title">
      <h2 id="case-scope-title">Case access</h2>
      <p>
        <small>Limit this user to the cases of some offices or programs. None checked: not limited. Their role still decides whether they see all cases or only assigned ones.</small>
      </p>
      <input type="hidden" name="scope_shown" value="yes" />
      {group('office', 'offices', 'Offices')}
      {group('program', 'programs', 'Programs')}
    </section>
  );
}

/** What the page says after a successful post (the redirect's `?done=`). */
export type UserDone = 'created' | 'saved';

function DoneNotice({ done, login }: { done: UserDone; login: string }) {
  return (
    <Notice
      links={
        <>
          <a href="/admin/users">Back to all users</a>
          {done === 'created' && <a href="/admin/users/new">Create another user</a>}
        </>
      }
    >
      {done === 'created' ? `User ${login} created.` : `Changes to ${login} saved.`}
    </Notice>
  );
}

export function UserFormPage(props: {
  ctx: PageContext;
  mode: 'create' | 'edit';
  userId?: string;
  roles: Role[];
  values: UserFormValues;
  errors: Record<string, string>;
  done?: UserDone;
  /** The offices and programs to limit case access to (edit mode). */
  lookups?: LookupRow[];
}) {
  const { ctx, mode, roles, values, errors } = props;
  const action = mode === 'create' ? '/admin/users' : `/admin/users/${props.userId}`;
  const activeErrorId = 'loginActive-error';
  return (
    <Layout
      title={mode === 'create' ? 'Create user' : `User ${values.login}`}
      ctx={ctx}
      subtitle={mode === 'create' ? 'Give the person their login name and the initial password: they choose their own password at their first login.' : undefined}
      actions={
        mode === 'edit' ? (
          <a href={`/admin/users/${props.userId}/security`}>
            Security (multifactor authentication)
          </a>
        ) : undefined
      }
    >
      {props.done && <DoneNotice done={props.done} login={values.login ?? ''} />}
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
        <Field name="fullName" label="Full name" value={values.fullName} error={errors.fullName} autocomplete="off" required />
        <Field name="email" label="E-mail" type="email" value={values.email} error={errors.email} autocomplete="off" required />
        <SelectField
          name="roleId"
          label="Role"
          prompt="Choose a role"
          options={roles.map((r) => ({ value: r.id, label: r.name }))}
          value={values.roleId}
          error={errors.roleId}
          required
        />
        {mode === 'edit' && (
          <fieldset {...({ 'aria-describedby': errors.loginActive ? activeErrorId : undefined } as Record<string, unknown>)}>
            <legend>Login Active</legend>
            <label>
              <input type="radio" name="loginActive" value="yes" checked={values.loginActive !== false} /> Yes
            </label>
            <label>
              <input type="radio" name="loginActive" value="no" checked={values.loginActive === false} /> No, the user cannot log in
            </label>
            {errors.loginActive && (
              <small id={activeErrorId} role="alert" class="field-error">
                {errors.loginActive}
              </small>
            )}
          </fieldset>
        )}
        {mode === 'edit' && props.lookups && <CaseScope lookups={props.lookups} values={values} errors={errors} />}
        <Field
          name="password"
          label={mode === 'create' ? 'Initial password' : 'New password (leave empty to keep)'}
          type="password"
          error={errors.password}
          autocomplete="new-password"
          required={mode === 'create'}
          help="The user must change it at their first login."
        />
        <div class="form-actions">
          <button type="submit">{mode === 'create' ? 'Create user' : 'Save'}</button>
          <a href="/admin/users">{mode === 'create' ? 'Cancel' : 'Back to all users'}</a>
        </div>
      </form>
    </Layout>
  );
}
