import { Csrf, Layout, type PageContext } from '../web/layout.tsx';
import type { MfaMethod } from '../security/site-settings.ts';
import type { MfaState } from '../mfa/service.ts';
import { SHORT_LABELS } from '../mfa/views.tsx';

export function PreferencesPage(props: { ctx: PageContext; state: MfaState; offered: MfaMethod[]; mayDisable: boolean; notice?: string }) {
  const { ctx, state } = props;
  const user = ctx.session!.user;
  return (
    <Layout title="My Preferences" ctx={ctx}>
      {props.notice && <p role="status">{props.notice}</p>}
      <section>
        <h2>Account</h2>
        <p>
          {user.fullName} ({user.login}), {user.email}. Role: {user.roleName}.
        </p>
        <p>
          <a href="/password/change">Change your password</a>
        </p>
      </section>
      <section id="mfa">
        <h2>Multifactor authentication</h2>
        <p id="mfa-status">
          {state.mfaEnabled ? `On: ${SHORT_LABELS[state.mfaMethod!]}. ${state.unusedRecoveryCodes} unused recovery codes.` : 'Off.'}
        </p>
        <h3>Actions</h3>
        <ul>
          {!state.mfaEnabled && props.offered.length > 0 && (
            <li>
              <a href="/mfa/enrol" id="enable-mfa">
                Enable MFA
              </a>
            </li>
          )}
          {state.mfaEnabled && (
            <li>
              <a href="/mfa/recovery-codes">Recovery codes</a>
            </li>
          )}
          {state.mfaEnabled && props.mayDisable && (
            <li>
              <form method="post" action="/preferences/mfa/disable" class="inline-form">
                <Csrf token={ctx.csrfToken} />
                <button type="submit" class="secondary" id="disable-mfa">
                  Disable MFA
                </button>
              </form>
            </li>
          )}
          {state.mfaEnabled && !props.mayDisable && <li>Your role requires multifactor authentication: it cannot be turned off.</li>}
        </ul>
      </section>
    </Layout>
  );
}

