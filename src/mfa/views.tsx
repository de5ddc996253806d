import { Csrf, Field, FormError, Layout, type PageContext } from '../web/layout.tsx';
import type { MfaMethod } from '../security/site-settings.ts';
import { formatUtcMinute, manualKeyGroups, recoveryCodesFileName, recoveryCodesText, usableMethods, type MethodAvailability } from '../security/mfa.ts';
import type { EmailCodeState, MfaState } from './service.ts';

export const METHOD_LABELS: Record<MfaMethod, string> = {
  email: 'E-mail: a 6-digit code sent to your e-mail address',
  app: 'Authenticator app: a 6-digit code from an app on your phone',
  passkey: 'Passkey or security key',
};

export const SHORT_LABELS: Record<MfaMethod, string> = { email: 'E-mail code', app: 'Authenticator app', passkey: 'Passkey' };

/** The method chooser: a name, and a sentence on what using it is like. */
const METHOD_CHOICES: Record<MfaMethod, { name: string; help: string }> = {
  app: {
    name: 'Authenticator app',
    help: 'A 6-digit code from an app on your phone, such as Google Authenticator, Microsoft Authenticator or FreeOTP. Works without signal.',
  },
  email: { name: 'E-mail code', help: 'A 6-digit code sent to your e-mail address each time you sign in on a new device.' },
  passkey: { name: 'Passkey or security key', help: "Your device's screen lock, or a USB or NFC security key. Needs JavaScript in the browser." },
};

/** The copy and print buttons (static/copy.js): hidden until the script shows them. */
function CopyScript() {
  return <script type="module" src="/assets/copy.js"></script>;
}

/** "j***@example.org": enough to recognise one's own address, not enough to harvest it. */
export function maskEmail(email: string): string {
  const at = email.indexOf('@');
  if (at < 1) return '***';
  return `${email[0]}***${email.slice(at)}`;
}

/**
 * The `code` field (DESIGN §2.3) with its help and its one error beside it (role="alert"),
 * both tied to the input by aria-describedby. After a mistake the field has the focus again.
 * `numeric` brings up the digit keyboard on phones: only where a recovery code (letters) is not
 * accepted.
 */
function CodeField({ error, label = 'Code', help, numeric = false }: { error?: string; label?: string; help?: string; numeric?: boolean }) {
  const describedBy = [help ? 'code-help' : '', error ? 'code-error' : ''].filter(Boolean).join(' ');
  return (
    <label>
      {label}
      <input
        {...({
          name: 'code',
          type: 'text',
          value: '',
          autocomplete: 'one-time-code',
          inputmode: numeric ? 'numeric' : undefined,
          autocapitalize: 'off',
          spellcheck: 'false',
          required: true,
          autofocus: error ? true : undefined,
          'aria-invalid': error ? 'true' : undefined,
          'aria-describedby': describedBy || undefined,
        } as Record<string, unknown>)}
      />
      {help && <small id="code-help">{help}</small>}
      {error && (
        <small id="code-error" role="alert" class="field-error">
          {error}
        </small>
      )}
    </label>
  );
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
function EmailCodeNote({ email, emailCode, mailConfigured }: { email: string; emailCode: EmailCodeState | null; mailConfigured: boolean }) {
  if (!mailConfigured) {
    return (
      <p>
        This site has no mail server configured (HAVEN_SMTP_URL), so no code can reach your mailbox. Enter one of your recovery codes, or
        ask a site administrator.
      </p>
    );
  }
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
  mailConfigured: boolean;
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
      {method === 'email' && <EmailCodeNote email={props.email} emailCode={props.emailCode ?? null} mailConfigured={props.mailConfigured} />}
      <form method="post" action="/login/mfa">
        <Csrf token={ctx.csrfToken} />
        <input type="hidden" name="next" value={props.next} />
        <CodeField error={props.error} label={method === 'passkey' ? 'Recovery code' : 'Code'} />
        <button type="submit">Verify</button>
      </form>
      {method === 'email' && props.mailConfigured && (
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

export function EnrolChoosePage(props: { ctx: PageContext; methods: MethodAvailability[]; selected: MfaMethod | null; required: boolean; error?: string }) {
  const { ctx } = props;
  const usable = props.methods.filter((m) => m.available);
  const unavailable = props.methods.filter((m) => !m.available);
  return (
    <Layout title="Enable multifactor authentication" ctx={ctx}>
      {props.required && <p role="status">Your account must use multifactor authentication. Set it up to continue.</p>}
      {props.methods.length === 0 && <p role="alert">Multifactor authentication is not offered on this site. Ask a site administrator.</p>}
      {props.methods.length > 0 && (
        <p>After your password, Haven will also ask for something only you have. Choose how you want to prove it.</p>
      )}
      {usable.length > 0 && (
        <form method="post" action="/mfa/enrol">
          <Csrf token={ctx.csrfToken} />
          <fieldset {...({ 'aria-describedby': props.error ? 'method-error' : undefined } as Record<string, unknown>)}>
            <legend>Choose a method</legend>
            {usable.map(({ method }) => (
              <>
                <label>
                  <input
                    {...({
                      type: 'radio',
                      name: 'method',
                      value: method,
                      checked: method === props.selected,
                      required: true,
                      'aria-describedby': `method-${method}-help`,
                    } as Record<string, unknown>)}
                  />
                  {METHOD_CHOICES[method].name}
                </label>
                <small id={`method-${method}-help`} class="method-help">
                  {METHOD_CHOICES[method].help}
                </small>
              </>
            ))}
            {unavailable.map((m) => (
              <p id={`method-${m.method}-unavailable`} class="method-unavailable">
                {m.reason}
              </p>
            ))}
            {props.error && (
              <small id="method-error" role="alert" class="field-error">
                {props.error}
              </small>
            )}
          </fieldset>
          <button type="submit">Continue</button>
        </form>
      )}
      {usable.length === 0 &&
        unavailable.map((m) => (
          <p id={`method-${m.method}-unavailable`} class="method-unavailable">
            {m.reason}
          </p>
        ))}
      {props.methods.length > 0 && usable.length === 0 && (
        <p role="alert">No method can be used on this site at the moment. Ask a site administrator.</p>
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

/** A button that copies the text of `target` (static/copy.js); hidden until the script runs. */
function CopyButton({ target, label, statusId }: { target: string; label: string; statusId: string }) {
  return (
    <button type="button" class="secondary outline" hidden {...({ 'data-copy-target': target, 'data-copy-status': statusId } as Record<string, string>)}>
      {label}
    </button>
  );
}

/** Where copy.js says "Copied" (or why not), for screen readers too. */
function CopyStatus({ id }: { id: string }) {
  return <span id={id} class="copy-status" aria-live="polite"></span>;
}

export function EnrolAppPage(props: { ctx: PageContext; qr: { src: string; size: number }; manualKey: string; required: boolean; error?: string }) {
  const { ctx } = props;
  return (
    <Layout title="Set up your authenticator app" ctx={ctx}>
      {props.required && <p role="status">Your account must use multifactor authentication. Set it up to continue.</p>}
      <section aria-labelledby="app-step-1">
        <h2 id="app-step-1">1. Add Haven to your app</h2>
        <p>In your authenticator app, add an account and scan this QR code.</p>
        <p class="qr-code">
          <img src={props.qr.src} width={props.qr.size} height={props.qr.size} alt="QR code for your authenticator app (the same key is written below)" />
        </p>
        <p id="manual-key-intro">Cannot scan it? Choose to enter a setup key instead (time-based), and type this key:</p>
        {/* For the eye only: groups of four. The exact key, without spaces, is the text of #mfa-manual-key. */}
        <p class="manual-key-groups" aria-hidden="true">
          {manualKeyGroups(props.manualKey).map((group, i) => (
            <>
              {i > 0 && ' '}
              <span>{group}</span>
            </>
          ))}
        </p>
        <p>
          The spaces only help you read it. The key:{' '}
          <span class="select-all">
            <code id="mfa-manual-key">{props.manualKey}</code>
          </span>{' '}
          <CopyButton target="mfa-manual-key" label="Copy key" statusId="mfa-manual-key-copied" /> <CopyStatus id="mfa-manual-key-copied" />
        </p>
      </section>
      <section aria-labelledby="app-step-2">
        <h2 id="app-step-2">2. Enter the code the app shows</h2>
        <form method="post" action="/mfa/enrol/confirm">
          <Csrf token={ctx.csrfToken} />
          <CodeField error={props.error} numeric label="6-digit code" help="The app shows a new code every 30 seconds: type the one it shows now." />
          <button type="submit">Confirm</button>
        </form>
      </section>
      <StartOver ctx={ctx} />
      <CopyScript />
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
        <CodeField error={props.error} numeric label="6-digit code from the e-mail" />
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

/** "1 unused recovery code", "3 unused recovery codes". */
export function unusedCodesText(n: number): string {
  return `${n} unused recovery code${n === 1 ? '' : 's'}`;
}

/**
 * The recovery codes, shown once: the list (#recovery-codes, each in <code>), a text file made in
 * this response (a data: URL, so the codes never pass through the server again), Print and Copy
 * all (static/copy.js; hidden without JavaScript). Afterwards: how many are left, and new ones.
 */
export function RecoveryCodesPage(props: {
  ctx: PageContext;
  codes: string[] | null;
  unused: number;
  notice?: string;
  account: { login: string; site: string; madeAt: Date };
}) {
  const { ctx, account } = props;
  if (!props.codes) {
    return (
      <Layout title="Recovery codes" ctx={ctx}>
        <p id="recovery-code-count">
          You have {unusedCodesText(props.unused)}. Codes are shown only once, when they are made; each works once, in place of a code, if you
          lose your phone or key.
        </p>
        <form method="post" action="/mfa/recovery-codes">
          <Csrf token={ctx.csrfToken} />
          <button type="submit" aria-describedby="new-codes-help">
            Make ten new codes
          </button>
          <small id="new-codes-help">The old codes stop working at once. You may be asked for your password and code again first.</small>
        </form>
        <p>
          <a href="/preferences">Back to My Preferences</a>
        </p>
      </Layout>
    );
  }
  const text = recoveryCodesText({ ...account, codes: props.codes });
  return (
    <Layout title="Recovery codes" ctx={ctx}>
      {props.notice && <p role="status">{props.notice}</p>}
      <p class="no-print">
        Save these ten recovery codes now, somewhere safe and away from your phone: they are shown only this once. Each works once, in place of a
        code, if you lose your phone or key.
      </p>
      <section class="recovery-sheet" aria-labelledby="recovery-sheet-title">
        <h2 id="recovery-sheet-title">Haven recovery codes</h2>
        <p>
          For <strong>{account.login}</strong> on {account.site}, made {formatUtcMinute(account.madeAt)}.
        </p>
        <ul id="recovery-codes" class="recovery-codes">
          {props.codes.map((c) => (
            <li>
              <code>{c}</code>
            </li>
          ))}
        </ul>
      </section>
      <p class="no-print recovery-actions">
        <a href={`data:text/plain;charset=utf-8,${encodeURIComponent(text)}`} download={recoveryCodesFileName(account.login)} id="download-recovery-codes">
          Download as text file
        </a>{' '}
        <button type="button" class="secondary outline" hidden {...({ 'data-print': '' } as Record<string, string>)}>
          Print
        </button>{' '}
        <CopyButton target="recovery-codes" label="Copy all" statusId="recovery-codes-copied" /> <CopyStatus id="recovery-codes-copied" />
      </p>
      <p class="no-print">
        <a href="/" role="button">
          I have saved them — continue
        </a>{' '}
        <a href="/preferences">Go to My Preferences</a>
      </p>
      <CopyScript />
    </Layout>
  );
}

/** Why the administrator cannot move a user to e-mail codes. */
export const ADMIN_EMAIL_UNAVAILABLE = 'E-mail codes cannot be chosen: this site has no mail server configured (set HAVEN_SMTP_URL and restart Haven).';

export function AdminSecurityPage(props: {
  ctx: PageContext;
  user: { id: string; login: string; fullName: string; email: string; roleName: string };
  state: MfaState;
  methods: MethodAvailability[];
  notice?: string;
  error?: string;
}) {
  const { ctx, user, state } = props;
  const usable = usableMethods(props.methods);
  const unavailable = props.methods.filter((m) => !m.available);
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
      {usable.length > 0 && (
        <form method="post" action={action}>
          <Csrf token={ctx.csrfToken} />
          <input type="hidden" name="action" value="change_method" />
          <label>
            Change method to
            <select name="method">
              {usable.map((m) => (
                <option value={m}>{SHORT_LABELS[m]}</option>
              ))}
            </select>
          </label>
          <button type="submit" class="secondary">Change method</button>
        </form>
      )}
      {unavailable.map((m) => (
        <p>{m.method === 'email' ? ADMIN_EMAIL_UNAVAILABLE : m.reason}</p>
      ))}
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
  mailConfigured: boolean;
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
          {step.method === 'email' && <EmailCodeNote email={props.email} emailCode={props.emailCode} mailConfigured={props.mailConfigured} />}
          <form method="post" action="/reauth/code">
            <Csrf token={ctx.csrfToken} />
            <input type="hidden" name="next" value={next} />
            <CodeField error={props.error} label={step.method === 'passkey' ? 'Recovery code' : 'Code'} />
            <button type="submit">Confirm</button>
          </form>
        </>
      )}
      <p>
        <a href="/preferences">Cancel</a>
      </p>
    </Layout>
  );
}
