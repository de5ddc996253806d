import { Csrf, Field, FormError, Layout, type PageContext } from '../web/layout.tsx';
import { SSO_KIND_LABELS, type SsoKind, type SsoPolicy } from '../security/sso.ts';

/** What the login page offers besides the password: the SSO providers, and whether SSO is required. */
export interface LoginOptions {
  policy: SsoPolicy;
  providers: { name: string; kind: SsoKind }[];
}

export function LoginPage(props: {
  ctx: PageContext;
  next: string;
  error?: string;
  notice?: string;
  login?: string;
  errors?: Record<string, string>;
  sso?: LoginOptions;
  /** With SSO required, the password form is shown only for the break-glass administrator who asks for it. */
  breakGlass?: boolean;
}) {
  const { ctx, next, error, notice, login, errors = {}, sso = { policy: 'off', providers: [] }, breakGlass = false } = props;
  const passwordForm = sso.policy !== 'required' || breakGlass || sso.providers.length === 0;
  const nextQuery = next === '/' ? '' : `?${new URLSearchParams({ next })}`;
  return (
    <Layout title="Log in" ctx={ctx}>
      {notice && <p class="notice">{notice}</p>}
      <FormError message={error} />
      {sso.providers.length > 0 && (
        <section aria-labelledby="sso-title" id="sso-providers">
          <h2 id="sso-title">{sso.policy === 'required' ? 'Sign in with your organization' : 'Single sign-on'}</h2>
          <ul class="sso-buttons">
            {sso.providers.map((p) => (
              <li>
                <a role="button" href={`/login/sso/${p.name}${nextQuery}`}>
                  Sign in with {p.kind === 'oidc' ? p.name : SSO_KIND_LABELS[p.kind]}
                  {p.kind !== 'oidc' && sso.providers.filter((o) => o.kind === p.kind).length > 1 ? ` (${p.name})` : ''}
                </a>
              </li>
            ))}
          </ul>
        </section>
      )}
      {passwordForm ? (
        <form method="post" action="/login">
          <Csrf token={ctx.csrfToken} />
          <input type="hidden" name="next" value={next} />
          {sso.providers.length > 0 && <h2>{breakGlass ? 'Break-glass sign-in' : 'Or with your Haven password'}</h2>}
          <Field name="login" label="Login name" value={login} error={errors.login} autocomplete="username" required />
          <Field name="password" label="Password" type="password" error={errors.password} autocomplete="current-password" required />
          <button type="submit">Log in</button>
        </form>
      ) : (
        <p id="break-glass-link">
          <small>
            Site administrator, and the provider is down? <a href="/login?break_glass=1">Break-glass sign-in</a>
          </small>
        </p>
      )}
    </Layout>
  );
}

export interface SetupValues {
  login?: string;
  fullName?: string;
  email?: string;
}

export function SetupPage({ ctx, token, values, errors }: { ctx: PageContext; token: string; values: SetupValues; errors: Record<string, string> }) {
  return (
    <Layout title="Create the first administrator" ctx={ctx}>
      <p>This one-time page creates Haven's first Site Administrator. It stops working once used.</p>
      <FormError message={errors._form} />
      <form method="post" action={`/setup/${encodeURIComponent(token)}`}>
        <Csrf token={ctx.csrfToken} />
        <Field name="login" label="Login name" value={values.login} error={errors.login} autocomplete="username" required />
        <Field name="fullName" label="Full name" value={values.fullName} error={errors.fullName} autocomplete="name" required />
        <Field name="email" label="E-mail" type="email" value={values.email} error={errors.email} autocomplete="email" required />
        <Field name="password" label="Password" type="password" error={errors.password} autocomplete="new-password" required />
        <Field name="confirm" label="Password again" type="password" error={errors.confirm} autocomplete="new-password" required />
        <button type="submit">Create administrator</button>
      </form>
    </Layout>
  );
}

export function SetupExpiredPage({ ctx }: { ctx: PageContext }) {
  return (
    <Layout title="Setup link not valid" ctx={ctx}>
      <p role="alert">
        This setup link has been used, has expired, or Haven already has users. Restart Haven with no users to get a new one, or
        create an administrator with <code>haven users create</code>.
      </p>
    </Layout>
  );
}

export function PasswordChangePage({ ctx, forced, errors }: { ctx: PageContext; forced: boolean; errors: Record<string, string> }) {
  return (
    <Layout title="Change password" ctx={ctx}>
      {forced && <p role="status">Your password must be changed before you continue.</p>}
      <FormError message={errors._form} />
      <form method="post" action="/password/change">
        <Csrf token={ctx.csrfToken} />
        <Field name="current" label="Current password" type="password" error={errors.current} autocomplete="current-password" required />
        <Field
          name="next"
          label="New password"
          type="password"
          error={errors.next}
          autocomplete="new-password"
          required
          help="At least the site's minimum length, with a letter and a digit; not a common or earlier password."
        />
        <Field name="confirm" label="New password again" type="password" error={errors.confirm} autocomplete="new-password" required />
        <button type="submit">Change password</button>
      </form>
    </Layout>
  );
}
