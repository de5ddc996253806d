import { Csrf, Layout, type PageContext } from '../web/layout.tsx';
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
export function PreferencesPage(props: { ctx: PageContext; state: MfaState; methods: MethodAvailability[]; mayDisable: boolean; notice?: string }) {
  const { ctx } = props;
  return (
    <Layout title="My Preferences" ctx={ctx}>
      {props.notice && <p role="status">{props.notice}</p>}
      <AccountSection user={ctx.session!.user} />
      <MfaSection ctx={ctx} state={props.state} methods={props.methods} mayDisable={props.mayDisable} />
    </Layout>
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
