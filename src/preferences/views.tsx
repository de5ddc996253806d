import { Csrf, Field, Layout, TableScroll, type PageContext } from '../web/layout.tsx';
import type { ApiTokenRow } from '../api/tokens.ts';
import { API_TOKEN_DEFAULT_DAYS, API_TOKEN_MAX_DAYS } from '../security/api-tokens.ts';
import type { MfaMethod } from '../security/site-settings.ts';
import { usableMethods, type MethodAvailability } from '../security/mfa.ts';
import { REAUTH_WINDOW_MS } from '../security/session-policy.ts';
import type { MfaState } from '../mfa/service.ts';
import type { SessionContext } from '../sessions/service.ts';
import { unusedCodesText } from '../mfa/views.tsx';

/** The status line: MFA on, with which method, in words. */
const ON_WITH: Record<MfaMethod, string> = {
  app: 'On, with an authenticator app.',
  email: 'On, with codes sent by e-mail.',
  passkey: 'On, with a passkey or security key.',
};

/** What signing in asks after the password, for each method. */
const SIGN_IN_ASKS: Record<MfaMethod, string> = {
  app: 'a code from your authenticator app',
  email: 'a code sent to your e-mail address',
  passkey: 'your passkey or security key',
};

/**
 * My Preferences: one section per subject, each with its own heading and id (#account, #mfa),
 * so that a later section (API tokens, DESIGN §1.7) is one more component in the list.
 */
export function PreferencesPage(props: {
  ctx: PageContext;
  state: MfaState;
  methods: MethodAvailability[];
  mayDisable: boolean;
  notice?: string;
  /** Null when the user's role has no API Access where they are (the section is not shown). */
  tokens: TokensView | null;
}) {
  const { ctx } = props;
  return (
    <Layout title="My Preferences" ctx={ctx}>
      {props.notice && <p role="status">{props.notice}</p>}
      <AccountSection user={ctx.session!.user} />
      <MfaSection ctx={ctx} state={props.state} methods={props.methods} mayDisable={props.mayDisable} />
      {props.tokens && <ApiTokensSection ctx={ctx} view={props.tokens} />}
    </Layout>
  );
}

export interface TokensView {
  tokens: ApiTokenRow[];
  now: Date;
  /** A token just created: shown this once. */
  newToken: { name: string; token: string } | null;
  values: { token_name: string; expires_in_days: string };
  errors: Record<string, string>;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

function tokenState(t: ApiTokenRow, now: Date): string {
  if (t.revokedAt) return `Revoked ${day(t.revokedAt)}`;
  if (t.expiresAt <= now) return `Expired ${day(t.expiresAt)}`;
  return `Expires ${day(t.expiresAt)}`;
}

function ApiTokensSection({ ctx, view }: { ctx: PageContext; view: TokensView }) {
  return (
    <section id="api-tokens" aria-labelledby="api-tokens-heading">
      <h2 id="api-tokens-heading">API tokens</h2>
      <p>
        A personal access token lets a program use the <a href="/api/v1/docs">Haven API</a> as you, with your role's permissions. It stops working when it expires, when you
        revoke it, or when your account is deactivated.
      </p>
      {view.newToken && (
        <div class="flash flash-success">
          <p role="status">
            Token "{view.newToken.name}" created. Copy it now: it is shown only this once, and Haven keeps only a hash of it.
          </p>
          <p>
            <code id="new-token" class="secret">
              {view.newToken.token}
            </code>
          </p>
        </div>
      )}
      {view.tokens.length > 0 && (
        <TableScroll label="Your API tokens">
          <table id="api-token-list">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">State</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="visually-hidden">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {view.tokens.map((t) => (
                <tr>
                  <th scope="row">{t.name}</th>
                  <td>{day(t.createdAt)}</td>
                  <td>{tokenState(t, view.now)}</td>
                  <td>{t.lastUsedAt ? `${t.lastUsedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC from ${t.lastUsedIp ?? '?'}` : 'Never'}</td>
                  <td>
                    {!t.revokedAt && t.expiresAt > view.now && (
                      <form method="post" action={`/preferences/api-tokens/${t.id}/revoke`}>
                        <Csrf token={ctx.csrfToken} />
                        <button type="submit" class="secondary outline small" aria-label={`Revoke ${t.name}`}>
                          Revoke
                        </button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      <h3>New token</h3>
      <form method="post" action="/preferences/api-tokens">
        <Csrf token={ctx.csrfToken} />
        <Field name="token_name" label="Token name" value={view.values.token_name} error={view.errors.token_name} required help='What uses it, e.g. "Court e-filing sync".' />
        <Field
          name="expires_in_days"
          label="Expires after (days)"
          type="number"
          inputmode="numeric"
          value={view.values.expires_in_days}
          error={view.errors.expires_in_days}
          help={`1 to ${API_TOKEN_MAX_DAYS}; empty: ${API_TOKEN_DEFAULT_DAYS}.`}
        />
        <button type="submit">Create token</button>
      </form>
    </section>
  );
}

function AccountSection({ user }: { user: SessionContext['user'] }) {
  return (
    <section id="account" aria-labelledby="account-heading">
      <h2 id="account-heading">Account</h2>
      <dl class="facts">
        <dt>Name</dt>
        <dd id="account-name">{user.fullName}</dd>
        <dt>Login</dt>
        <dd id="account-login">{user.login}</dd>
        <dt>E-mail</dt>
        <dd id="account-email">{user.email}</dd>
        <dt>Role</dt>
        <dd id="account-role">{user.roleName}</dd>
      </dl>
      <p>
        <a href="/password/change">Change your password</a>
      </p>
      <p>
        <small>Your name, e-mail address and role are changed by a site administrator.</small>
      </p>
    </section>
  );
}

function MfaSection(props: { ctx: PageContext; state: MfaState; methods: MethodAvailability[]; mayDisable: boolean }) {
  const { ctx, state } = props;
  const on = state.mfaEnabled;
  const method = on ? state.mfaMethod : null;
  const usable = usableMethods(props.methods);
  const mayEnable = !on && usable.length > 0;
  const mayDisable = on && props.mayDisable;
  const minutes = Math.round(REAUTH_WINDOW_MS / 60_000);
  return (
    <section id="mfa" aria-labelledby="mfa-heading">
      <h2 id="mfa-heading">Multifactor authentication</h2>
      <p id="mfa-status">
        <strong>{method ? ON_WITH[method] : on ? 'On.' : 'Off: you sign in with your password only.'}</strong>
      </p>
      {method && (
        <p>
          After your password, Haven asks for {SIGN_IN_ASKS[method]} on each new device. A device you used it on is remembered for 24 hours.
        </p>
      )}
      {on && (
        <p id="recovery-code-count">
          {state.unusedRecoveryCodes > 0
            ? `${unusedCodesText(state.unusedRecoveryCodes)}.`
            : 'No unused recovery codes: make new ones, so that you can still sign in if you lose your phone or key.'}
        </p>
      )}
      {!on && props.methods.length === 0 && <p>Multifactor authentication is not offered on this site.</p>}
      {!on && props.methods.length > 0 && usable.length === 0 && props.methods.map((m) => <p>{m.reason}</p>)}
      {(mayEnable || on) && (
        <>
          <h3 id="mfa-actions-heading">Actions</h3>
          <ul class="mfa-actions" aria-labelledby="mfa-actions-heading">
            {mayEnable && (
              <li>
                <a href="/mfa/enrol" id="enable-mfa" aria-describedby="mfa-reauth-note">
                  Enable MFA
                </a>
              </li>
            )}
            {on && (
              <li>
                <a href="/mfa/recovery-codes" id="recovery-codes-link">
                  Recovery codes
                </a>{' '}
                (how many are left; make new ones)
              </li>
            )}
            {mayDisable && (
              <li>
                <form method="post" action="/preferences/mfa/disable" class="inline-form">
                  <Csrf token={ctx.csrfToken} />
                  <button type="submit" class="secondary" id="disable-mfa" aria-describedby="mfa-reauth-note">
                    Disable MFA
                  </button>
                </form>
              </li>
            )}
            {on && !props.mayDisable && <li>Your role requires multifactor authentication: it cannot be turned off.</li>}
          </ul>
          <p id="mfa-reauth-note">
            <small>
              You will be asked for your password{on ? ' and code' : ''} again before these changes, unless you gave {on ? 'them' : 'it'} in the last{' '}
              {minutes} minutes.
            </small>
          </p>
        </>
      )}
    </section>
  );
}
