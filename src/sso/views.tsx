import { Csrf, Field, FormError, Layout, Notice, SelectField, TableScroll, type PageContext } from '../web/layout.tsx';
import { SSO_KIND_LABELS, SSO_KINDS, SSO_POLICIES, SSO_POLICY_LABELS, type SsoPolicy } from '../security/sso.ts';
import type { IdentityRow, LinkRequestRow, ProviderRow, ReadinessLine, SsoPolicyState } from './service.ts';

/** What the provider forms show: the stored provider, or what was submitted and refused. */
export interface ProviderFormValues {
  name: string;
  kind: string;
  issuer: string;
  clientId: string;
  hostedDomain: string;
  trustAmr: boolean;
  newAccountRole: string;
}

export const EMPTY_PROVIDER: ProviderFormValues = { name: '', kind: 'okta', issuer: '', clientId: '', hostedDomain: '', trustAmr: false, newAccountRole: '' };

export function providerValuesOf(p: ProviderRow): ProviderFormValues {
  return { name: p.name, kind: p.kind, issuer: p.issuer, clientId: p.clientId, hostedDomain: p.hostedDomain ?? '', trustAmr: p.trustAmr, newAccountRole: p.newAccountRoleName ?? '' };
}

function ProviderFields({ values, errors, roles, editing }: { values: ProviderFormValues; errors: Record<string, string>; roles: string[]; editing: boolean }) {
  return (
    <>
      <Field name="name" label="Name" value={values.name} error={errors.name} required help="Lower-case letters, digits and hyphens; it appears in the sign-in address, such as okta or google." />
      <SelectField name="kind" label="Kind" value={values.kind} error={errors.kind} options={SSO_KINDS.map((k) => ({ value: k, label: SSO_KIND_LABELS[k] }))} />
      <Field
        name="issuer"
        label="Issuer URL"
        type="url"
        value={values.issuer}
        error={errors.issuer}
        required
        help="Google: https://accounts.google.com. Entra ID: https://login.microsoftonline.com/<tenant id>/v2.0. Okta: https://<your org>.okta.com."
      />
      <Field name="client_id" label="Client id" value={values.clientId} error={errors.client_id} required />
      <Field
        name="client_secret"
        label="Client secret"
        type="password"
        autocomplete="off"
        error={errors.client_secret}
        required={!editing}
        help={editing ? 'Leave empty to keep the stored secret.' : 'Stored encrypted; never shown again.'}
      />
      <Field name="hosted_domain" label="Google Workspace domain" value={values.hostedDomain} error={errors.hosted_domain} help="Google only: only accounts of this domain (the hd claim) may sign in." />
      <div class="field">
        <label>
          <input type="checkbox" name="trust_amr" value="yes" checked={values.trustAmr} {...({ 'aria-describedby': 'trust-amr-help' } as Record<string, unknown>)} /> Trust this provider's MFA
        </label>
        <small id="trust-amr-help">When the ID token's amr claim shows a second factor, Haven's own MFA step is skipped. Leave off unless the provider enforces MFA.</small>
      </div>
      <SelectField
        name="new_account_role"
        label="Role of accounts it may create"
        value={values.newAccountRole}
        error={errors.new_account_role}
        prompt="Creates no accounts"
        options={roles.map((r) => ({ value: r, label: r }))}
        help="Used only when the site setting allows accounts created by single sign-on."
      />
    </>
  );
}

export function SsoPage(props: {
  ctx: PageContext;
  policy: SsoPolicyState;
  providers: ProviderRow[];
  readiness: ReadinessLine[];
  identities: IdentityRow[];
  requests: LinkRequestRow[];
  roles: string[];
  baseUrl: string;
  values: ProviderFormValues;
  errors: Record<string, string>;
  policyValues?: { policy: string; breakGlass: string };
  saved?: string;
}) {
  const { ctx, policy, providers, readiness, identities, requests, roles, baseUrl, values, errors, saved } = props;
  const policyValues = props.policyValues ?? { policy: policy.policy, breakGlass: policy.breakGlassLogin ?? '' };
  return (
    <Layout title="Single Sign On" ctx={ctx} subtitle="Sign in through your organization's identity provider (OpenID Connect).">
      {saved && <Notice>{saved}</Notice>}
      <section aria-labelledby="policy-title">
        <h2 id="policy-title">Policy</h2>
        <p id="sso-policy">
          Now: <strong>{SSO_POLICY_LABELS[policy.policy]}</strong>
          {policy.policy === 'required' && policy.breakGlassLogin && (
            <>
              {' '}
              (break-glass administrator: <strong>{policy.breakGlassLogin}</strong>)
            </>
          )}
          .
        </p>
        <FormError message={errors._policy} />
        <form method="post" action="/admin/sso/policy">
          <Csrf token={ctx.csrfToken} />
          <SelectField
            name="policy"
            label="Single sign-on"
            value={policyValues.policy}
            error={errors.policy}
            options={SSO_POLICIES.map((p: SsoPolicy) => ({ value: p, label: SSO_POLICY_LABELS[p] }))}
          />
          <Field
            name="break_glass"
            label="Break-glass administrator (login name)"
            value={policyValues.breakGlass}
            error={errors.break_glass}
            autocomplete="off"
            help="Required with 'Enabled and required': the one account that still signs in with its password and MFA, should the provider fail."
          />
          <button type="submit">Save policy</button>
        </form>
      </section>

      <section aria-labelledby="providers-title">
        <h2 id="providers-title">Providers</h2>
        {providers.length === 0 ? (
          <p id="no-providers">No providers yet.</p>
        ) : (
          <TableScroll label="Providers">
            <table id="sso-providers">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Issuer</th>
                  <th scope="col">Redirect URI to register</th>
                  <th scope="col">Linked accounts</th>
                </tr>
              </thead>
              <tbody>
                {providers.map((p) => (
                  <tr>
                    <th scope="row">
                      <a href={`/admin/sso/providers/${p.id}`}>{p.name}</a>
                    </th>
                    <td>{SSO_KIND_LABELS[p.kind]}</td>
                    <td>
                      <code>{p.issuer}</code>
                    </td>
                    <td>
                      <code>{`${baseUrl}/login/sso/${p.name}/callback`}</code>
                    </td>
                    <td>{p.linkedAccounts}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        )}
      </section>

      <section aria-labelledby="add-provider-title">
        <h2 id="add-provider-title">Add a provider</h2>
        <FormError message={errors._form} />
        <form method="post" action="/admin/sso/providers">
          <Csrf token={ctx.csrfToken} />
          <ProviderFields values={values} errors={errors} roles={roles} editing={false} />
          <button type="submit">Add provider</button>
        </form>
      </section>

      <section aria-labelledby="requests-title">
        <h2 id="requests-title">Waiting to be linked</h2>
        <p>People who signed in at a provider with an identity no account is linked to. Each can link it with their own Haven password; you can link it here instead.</p>
        <FormError message={errors._link} />
        {requests.length === 0 ? (
          <p id="no-link-requests">Nobody is waiting.</p>
        ) : (
          <ul id="link-requests">
            {requests.map((r) => (
              <li>
                <strong>{r.name ?? r.email ?? r.subject}</strong> at {r.provider} ({r.email ?? 'no e-mail'}; subject <code>{r.subject}</code>)
                <form method="post" action={`/admin/sso/requests/${r.id}/link`} class="inline">
                  <Csrf token={ctx.csrfToken} />
                  <Field id={`field-link-${r.id}`} name="login" label={`Link ${r.email ?? r.subject} to account (login name)`} error={errors[`login-${r.id}`]} autocomplete="off" />
                  <button type="submit">Link</button>
                </form>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="identities-title">
        <h2 id="identities-title">Linked identities</h2>
        {identities.length === 0 ? (
          <p id="no-identities">No account is linked yet.</p>
        ) : (
          <TableScroll label="Linked identities">
            <table id="sso-identities">
              <thead>
                <tr>
                  <th scope="col">Account</th>
                  <th scope="col">Provider</th>
                  <th scope="col">E-mail at the provider</th>
                  <th scope="col">Linked by</th>
                  <th scope="col">Last SSO sign-in</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {identities.map((i) => (
                  <tr>
                    <th scope="row">{i.login}</th>
                    <td>{i.provider}</td>
                    <td>{i.email ?? '—'}</td>
                    <td>{i.linkedBy === 'password' ? 'their password' : i.linkedBy === 'created' ? 'account created' : 'an administrator'}</td>
                    <td>{i.lastLoginAt ? i.lastLoginAt.toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : 'never'}</td>
                    <td>
                      <form method="post" action={`/admin/sso/identities/${i.id}/unlink`}>
                        <Csrf token={ctx.csrfToken} />
                        <button type="submit" class="secondary" aria-label={`Unlink ${i.login} at ${i.provider}`}>
                          Unlink
                        </button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        )}
      </section>

      <section aria-labelledby="readiness-title">
        <h2 id="readiness-title">Readiness</h2>
        {readiness.length === 0 ? (
          <p id="sso-ready">Every account can sign in by single sign-on.</p>
        ) : (
          <>
            <p>Accounts that could not sign in by single sign-on today, and why:</p>
            <ul id="sso-readiness">
              {readiness.map((r) => (
                <li>
                  <strong>{r.login}</strong>: {r.reason}
                </li>
              ))}
            </ul>
          </>
        )}
      </section>
    </Layout>
  );
}

export function ProviderPage(props: { ctx: PageContext; provider: ProviderRow; roles: string[]; baseUrl: string; values: ProviderFormValues; errors: Record<string, string> }) {
  const { ctx, provider, roles, baseUrl, values, errors } = props;
  return (
    <Layout title={`Provider ${provider.name}`} ctx={ctx} subtitle={<a href="/admin/sso">Back to Single Sign On</a>}>
      <p>
        Redirect URI to register at the provider: <code>{`${baseUrl}/login/sso/${provider.name}/callback`}</code>
      </p>
      <FormError message={errors._form} />
      <form method="post" action={`/admin/sso/providers/${provider.id}`}>
        <Csrf token={ctx.csrfToken} />
        <ProviderFields values={values} errors={errors} roles={roles} editing />
        <button type="submit">Save provider</button>
      </form>
      <section aria-labelledby="remove-provider-title">
        <h2 id="remove-provider-title">Remove this provider</h2>
        <p>Its {provider.linkedAccounts} linked identities are unlinked; those people sign in with their password again.</p>
        <FormError message={errors._remove} />
        <form method="post" action={`/admin/sso/providers/${provider.id}/remove`}>
          <Csrf token={ctx.csrfToken} />
          <button type="submit" class="secondary">
            Remove {provider.name}
          </button>
        </form>
      </section>
    </Layout>
  );
}

export function LinkPage(props: { ctx: PageContext; providerName: string; email: string | null; next: string; login?: string; error?: string; expired?: boolean }) {
  const { ctx, providerName, email, next, login, error, expired } = props;
  if (expired)
    return (
      <Layout title="Link your account" ctx={ctx}>
        <p role="alert">This link request has expired or was not started in this browser. Sign in with your provider again.</p>
        <p>
          <a href="/login">Back to the login page</a>
        </p>
      </Layout>
    );
  return (
    <Layout title="Link your account" ctx={ctx}>
      <p>
        {providerName} signed you in{email ? ` as ${email}` : ''}, but that identity is not linked to a Haven account yet. Confirm it is yours with your Haven login
        name and password; after that, {providerName} alone signs you in. Or ask your administrator to link it for you.
      </p>
      <FormError message={error} />
      <form method="post" action="/login/sso/link">
        <Csrf token={ctx.csrfToken} />
        <input type="hidden" name="next" value={next} />
        <Field name="login" label="Haven login name" value={login} autocomplete="username" required />
        <Field name="password" label="Haven password" type="password" autocomplete="current-password" required />
        <button type="submit">Link and sign in</button>
      </form>
    </Layout>
  );
}
