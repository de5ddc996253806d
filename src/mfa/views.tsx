import { Csrf, Field, FormError, Layout, type PageContext } from '../web/layout.tsx';
import type { MfaMethod } from '../security/site-settings.ts';
import type { EmailCodeState, MfaState } from './service.ts';

export const METHOD_LABELS: Record<MfaMethod, string> = {
  email: 'E-mail: a 6-digit code sent to your e-mail address',
  app: 'Authenticator app: a 6-digit code from an app on your phone',
  passkey: 'Passkey or security key',
};

export const SHORT_LABELS: Record<MfaMethod, string> = { email: 'E-mail code', app: 'Authenticator app', passkey: 'Passkey' };

/** "j***@example.org": enough to recognise one's own address, not enough to harvest it. */
export function maskEmail(email: string): string {
  const at = email.indexOf('@');
  if (at < 1) return '***';
  return `${email[0]}***${email.slice(at)}`;
}

function CodeField({ error, label = 'Code' }: { error?: string; label?: string }) {
  return <Field name="code" label={label} autocomplete="one-time-code" error={error} required />;
}

/** A button that runs a WebAuthn ceremony (static/webauthn.js); without JavaScript it explains itself. */
function PasskeyButton({ ctx, kind, optionsUrl, verifyUrl, label }: { ctx: PageContext; kind: 'register' | 'login'; optionsUrl: string; verifyUrl: string; label: string }) {
  return (
    <form method="post" action={verifyUrl} class="passkey-form" {...({ 'data-webauthn': kind, 'data-options-url': optionsUrl } as Record<string, string>)}>
      <Csrf token={ctx.csrfToken} />
      <p role="alert" class="form-error passkey-error" hidden></p>
      <noscript>
        <p>Passkeys need JavaScript in the browser.</p>
      </noscript>
      <button type="submit" id={`passkey-${kind}`}>
        {label}
      </button>
    </form>
  );
}

function WebAuthnScripts() {
  return (
    <>
      <script src="/assets/simplewebauthn-browser.js"></script>
      <script type="module" src="/assets/webauthn.js"></script>
    </>
  );
}

/** What an e-mail user is told about their code: when it was sent, or why there is none. */
function EmailCodeNote({ email, emailCode }: { email: string; emailCode: EmailCodeState | null }) {
  if (!emailCode) {
    return <p>No code is waiting for you: ask for a new one below, or enter one of your recovery codes.</p>;
  }
  const minutes = emailCode.minutesLeft;
  return (
    <p>
      We sent a 6-digit code to {maskEmail(email)}. It works for about {minutes} more minute{minutes === 1 ? '' : 's'}. You can also enter one of your
      recovery codes.
    </p>
  );
}

export function MfaChallengePage(props: {
  ctx: PageContext;
  method: MfaMethod | null;
  email: string;
  emailCode?: EmailCodeState | null;
  next: string;
  error?: string;
  notice?: string;
}) {
  const { ctx, method } = props;
  return (
    <Layout title="Verify it's you" ctx={ctx}>
      {props.notice && <p role="status">{props.notice}</p>}
      {method === 'passkey' && (
        <>
          <p>Use your passkey or security key to finish signing in.</p>
          <PasskeyButton ctx={ctx} kind="login" optionsUrl="/login/mfa/passkey/options" verifyUrl="/login/mfa/passkey" label="Use passkey" />
          <WebAuthnScripts />
          <p>Or enter one of your recovery codes:</p>
        </>
      )}
      {method === 'app' && <p>Enter the 6-digit code your authenticator app shows for Haven, or one of your recovery codes.</p>}
      {method === 'email' && <EmailCodeNote email={props.email} emailCode={props.emailCode ?? null} />}
      <form method="post" action="/login/mfa">
        <Csrf token={ctx.csrfToken} />
        <input type="hidden" name="next" value={props.next} />
        <CodeField error={props.error} label={method === 'passkey' ? 'Recovery code' : 'Code'} />
        <button type="submit">Verify</button>
      </form>
      {method === 'email' && (
        <form method="post" action="/login/mfa/resend">
          <Csrf token={ctx.csrfToken} />
          <input type="hidden" name="next" value={props.next} />
          <button type="submit" class="secondary">Send a new code</button>
        </form>
      )}
      <p>
        Lost your phone or key and your recovery codes? Ask a site administrator to reset your multifactor authentication.
      </p>
    </Layout>
  );
}

export function EnrolChoosePage(props: { ctx: PageContext; methods: MfaMethod[]; required: boolean; error?: string }) {
  const { ctx } = props;
  return (
    <Layout title="Enable multifactor authentication" ctx={ctx}>
      {props.required && <p role="status">Your account must use multifactor authentication. Set it up to continue.</p>}
      {props.methods.length === 0 ? (
        <p role="alert">Multifactor authentication is not offered on this site. Ask a site administrator.</p>
      ) : (
        <form method="post" action="/mfa/enrol">
          <Csrf token={ctx.csrfToken} />
          <fieldset>
            <legend>Choose a method</legend>
            {props.methods.map((m, i) => (
              <label>
                <input type="radio" name="method" value={m} checked={i === 0} />
                {METHOD_LABELS[m]}
              </label>
            ))}
            {props.error && (
              <small role="alert" class="field-error">
                {props.error}
              </small>
            )}
          </fieldset>
          <button type="submit">Continue</button>
        </form>
      )}
    </Layout>
  );
}

function StartOver({ ctx }: { ctx: PageContext }) {
  return (
    <form method="post" action="/mfa/enrol/cancel">
      <Csrf token={ctx.csrfToken} />
      <button type="submit" class="secondary outline">Choose another method</button>
    </form>
  );
}

export function EnrolAppPage(props: { ctx: PageContext; qrSvg: string; manualKey: string; required: boolean; error?: string }) {
  const { ctx } = props;
  return (
    <Layout title="Set up your authenticator app" ctx={ctx}>
      {props.required && <p role="status">Your account must use multifactor authentication. Set it up to continue.</p>}
      <p>Scan this QR code with your authenticator app, or type the key below into it.</p>
      {/* The SVG is generated on the server by the qrcode library from the otpauth URI; it holds no user-supplied markup. */}
      <div class="qr-code" dangerouslySetInnerHTML={{ __html: props.qrSvg }} />
      <p>
        Key: <code id="mfa-manual-key">{props.manualKey}</code>
      </p>
      <FormError message={props.error ? 'The code was not accepted.' : undefined} />
      <form method="post" action="/mfa/enrol/confirm">
        <Csrf token={ctx.csrfToken} />
        <CodeField error={props.error} label="The 6-digit code the app shows now" />
        <button type="submit">Confirm</button>
      </form>
      <StartOver ctx={ctx} />
    </Layout>
  );
}

export function EnrolEmailPage(props: { ctx: PageContext; email: string; required: boolean; error?: string; notice?: string }) {
  const { ctx } = props;
  return (
    <Layout title="Confirm your e-mail address" ctx={ctx}>
      {props.required && <p role="status">Your account must use multifactor authentication. Set it up to continue.</p>}
      {props.notice && <p role="status">{props.notice}</p>}
      <p>We sent a 6-digit code to {maskEmail(props.email)}. Enter it here; it expires in 15 minutes.</p>
      <form method="post" action="/mfa/enrol/confirm">
        <Csrf token={ctx.csrfToken} />
        <CodeField error={props.error} />
        <button type="submit">Confirm</button>
      </form>
      <form method="post" action="/mfa/enrol/resend">
        <Csrf token={ctx.csrfToken} />
        <button type="submit" class="secondary">Send a new code</button>
      </form>
      <StartOver ctx={ctx} />
    </Layout>
  );
}

export function EnrolPasskeyPage(props: { ctx: PageContext; required: boolean; error?: string }) {
  const { ctx } = props;
  return (
    <Layout title="Register a passkey" ctx={ctx}>
      {props.required && <p role="status">Your account must use multifactor authentication. Set it up to continue.</p>}
      <FormError message={props.error} />
      <p>Your browser will ask you to create a passkey or touch your security key.</p>
      <PasskeyButton ctx={ctx} kind="register" optionsUrl="/mfa/enrol/passkey/options" verifyUrl="/mfa/enrol/passkey" label="Register passkey" />
      <WebAuthnScripts />
      <StartOver ctx={ctx} />
    </Layout>
  );
}

export function RecoveryCodesPage(props: { ctx: PageContext; codes: string[] | null; unused: number }) {
  const { ctx } = props;
  return (
    <Layout title="Recovery codes" ctx={ctx}>
      {props.codes ? (
        <>
          <p role="status">
            Multifactor authentication is on. Keep these ten recovery codes somewhere safe: each works once, in place of a code, if
            you lose your phone or key. They are shown only now.
          </p>
          <ul id="recovery-codes">
            {props.codes.map((c) => (
              <li>
                <code>{c}</code>
              </li>
            ))}
          </ul>
          <p>
            <a href="/" role="button">
              I have saved them — continue
            </a>
          </p>
        </>
      ) : (
        <>
          <p>Your recovery codes were shown once, when they were made. {props.unused} of them are still unused.</p>
          <form method="post" action="/mfa/recovery-codes">
            <Csrf token={ctx.csrfToken} />
            <button type="submit">Make ten new codes (the old ones stop working)</button>
          </form>
        </>
      )}
    </Layout>
  );
}

export function AdminSecurityPage(props: {
  ctx: PageContext;
  user: { id: string; login: string; fullName: string; email: string; roleName: string };
  state: MfaState;
  methods: MfaMethod[];
  notice?: string;
  error?: string;
}) {
  const { ctx, user, state } = props;
  const action = `/admin/users/${user.id}/security`;
  return (
    <Layout title={`Security: ${user.fullName}`} ctx={ctx}>
      {props.notice && <p role="status">{props.notice}</p>}
      <FormError message={props.error} />
      <p>
        {user.login} ({user.roleName}), {user.email}. <a href={`/admin/users/${user.id}`}>Edit the user record</a>
      </p>
      <table>
        <tbody>
          <tr>
            <th scope="row">MFA enabled</th>
            <td id="mfa-enabled">{state.mfaEnabled ? 'Yes' : 'No'}</td>
          </tr>
          <tr>
            <th scope="row">MFA method</th>
            <td id="mfa-method">{state.mfaMethod ?? '-'}</td>
          </tr>
          <tr>
            <th scope="row">Must enrol at next login</th>
            <td>{state.enrolRequired ? 'Yes' : 'No'}</td>
          </tr>
          <tr>
            <th scope="row">Unused recovery codes</th>
            <td>{state.unusedRecoveryCodes}</td>
          </tr>
        </tbody>
      </table>
      <p>Each action below signs the user out everywhere and forgets their remembered devices.</p>
      {state.mfaEnabled && (
        <form method="post" action={action}>
          <Csrf token={ctx.csrfToken} />
          <input type="hidden" name="action" value="disable" />
          <button type="submit" id="admin-disable-mfa">Disable MFA (lost phone or key)</button>
        </form>
      )}
      <form method="post" action={action}>
        <Csrf token={ctx.csrfToken} />
        <input type="hidden" name="action" value="change_method" />
        <label>
          Change method to
          <select name="method">
            {props.methods.map((m) => (
              <option value={m}>{SHORT_LABELS[m]}</option>
            ))}
          </select>
        </label>
        <button type="submit" class="secondary">Change method</button>
      </form>
      {!state.enrolRequired && !state.mfaEnabled && (
        <form method="post" action={action}>
          <Csrf token={ctx.csrfToken} />
          <input type="hidden" name="action" value="require_enrolment" />
          <button type="submit" class="secondary" id="admin-require-enrolment">Require enrolment at next login</button>
        </form>
      )}
    </Layout>
  );
}

/** Re-authentication before a change to one's MFA: the password, then the current factor. */
export function ReauthPage(props: {
  ctx: PageContext;
  step: { step: 'password' } | { step: 'factor'; method: MfaMethod };
  next: string;
  email: string;
  emailCode: EmailCodeState | null;
  error?: string;
}) {
  const { ctx, step, next } = props;
  return (
    <Layout title="Confirm it's you" ctx={ctx}>
      <p>Changing how you sign in needs your password{step.step === 'factor' ? ' and your second factor' : ''} again, for your protection.</p>
      {step.step === 'password' ? (
        <form method="post" action="/reauth/password">
          <Csrf token={ctx.csrfToken} />
          <input type="hidden" name="next" value={next} />
          <Field name="password" label="Password" type="password" autocomplete="current-password" error={props.error} required />
          <button type="submit">Continue</button>
        </form>
      ) : (
        <>
          {step.method === 'passkey' && (
            <>
              <PasskeyButton ctx={ctx} kind="login" optionsUrl="/reauth/passkey/options" verifyUrl="/reauth/passkey" label="Use passkey" />
              <WebAuthnScripts />
              <p>Or enter one of your recovery codes:</p>
            </>
          )}
          {step.method === 'app' && <p>Enter the 6-digit code your authenticator app shows for Haven, or one of your recovery codes.</p>}
          {step.method === 'email' && <EmailCodeNote email={props.email} emailCode={props.emailCode} />}
          <form method="post" action="/reauth/code">
            <Csrf token={ctx.csrfToken} />
            <input type="hidden" name="next" value={next} />
            <CodeField error={props.error} label={step.method === 'passkey' ? 'Recovery code' : 'Code'} />
            <button type="submit">Confirm</button>
          </form>
        </>
      )}
    </Layout>
  );
}
