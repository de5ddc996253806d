import type { ComponentChildren } from 'preact';
import type { SessionContext } from '../sessions/service.ts';
import { SESSION_WARNING_BEFORE_MS } from '../security/session-policy.ts';
import type { Permission } from '../security/permissions.ts';

export interface PageContext {
  session: SessionContext | null;
  csrfToken: string;
  styleNonce: string;
  /** The path to come back to after "Extend Login" without JavaScript. */
  path: string;
}

const ADMIN_LINKS: { href: string; label: string; permission: Permission }[] = [
  { href: '/admin/users', label: 'Users', permission: 'admin_users' },
  { href: '/admin/roles', label: 'Roles', permission: 'admin_roles' },
  { href: '/admin/site-settings', label: 'Site Settings', permission: 'admin_site_settings' },
  { href: '/admin/audit', label: 'Audit', permission: 'audit_view' },
  { href: '/mail/queue', label: 'Mail Queue', permission: 'mail_queue_view' },
  { href: '/reports/users', label: 'Users Report', permission: 'admin_users' },
];

function Nav({ ctx }: { ctx: PageContext }) {
  const session = ctx.session;
  return (
    <nav>
      <ul>
        <li>
          <a href="/"><strong>Haven</strong></a>
        </li>
      </ul>
      {session && (
        <ul>
          {session.stage === 'full' &&
            ADMIN_LINKS.filter((l) => session.permissions.includes(l.permission)).map((l) => (
              <li>
                <a href={l.href}>{l.label}</a>
              </li>
            ))}
          <li>{session.stage === 'full' ? <a href="/preferences">{session.user.fullName}</a> : <span>{session.user.fullName}</span>}</li>
          <li>
            <form method="post" action="/logout" class="inline-form">
              <input type="hidden" name="_csrf" value={ctx.csrfToken} />
              <button type="submit" class="secondary outline">Log out</button>
            </form>
          </li>
        </ul>
      )}
    </nav>
  );
}

/**
 * The idle-logout warning. Without JavaScript a CSS animation reveals it five minutes before
 * the timeout and "Extend Login" is a plain form; with JavaScript a timer shows it and extends
 * the session in place.
 */
function SessionWarning({ ctx }: { ctx: PageContext }) {
  const session = ctx.session!;
  const revealAfter = Math.max(0, session.secondsUntilTimeout - SESSION_WARNING_BEFORE_MS / 1000);
  return (
    <>
      <style nonce={ctx.styleNonce}>{`#session-warning{animation-delay:${revealAfter}s}`}</style>
      <aside
        id="session-warning"
        class="session-warning"
        role="region"
        aria-label="Session timeout warning"
        aria-live="assertive"
        data-seconds-left={String(session.secondsUntilTimeout)}
        data-timeout-seconds={String(session.idleTimeoutMinutes * 60)}
      >
        <p>
          Your session will end in <span id="session-warning-remaining">5 minutes</span> because of inactivity.
        </p>
        <form method="post" action="/session/extend" id="session-extend-form">
          <input type="hidden" name="_csrf" value={ctx.csrfToken} />
          <input type="hidden" name="return" value={ctx.path} />
          <button type="submit" id="extend-login">Extend Login</button>
        </form>
      </aside>
    </>
  );
}

export function Layout({ title, ctx, children }: { title: string; ctx: PageContext; children: ComponentChildren }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} - Haven`}</title>
        <link rel="stylesheet" href="/assets/pico.min.css" />
        <link rel="stylesheet" href="/assets/haven.css" />
        <script type="module" src="/assets/session.js"></script>
      </head>
      <body>
        <header class="container">
          <Nav ctx={ctx} />
        </header>
        <main class="container">
          <h1>{title}</h1>
          {children}
        </main>
        {ctx.session && <SessionWarning ctx={ctx} />}
      </body>
    </html>
  );
}

/** A labelled input with its error beside it (role="alert"), as DESIGN §2.3 asks. */
export function Field(props: {
  name: string;
  label: string;
  type?: 'text' | 'password' | 'email' | 'number';
  value?: string;
  error?: string;
  autocomplete?: string;
  required?: boolean;
  help?: string;
}) {
  const errorId = `${props.name}-error`;
  return (
    <label>
      {props.label}
      <input
        {...({
          name: props.name,
          type: props.type ?? 'text',
          value: props.value ?? '',
          autocomplete: props.autocomplete,
          required: props.required,
          'aria-invalid': props.error ? 'true' : undefined,
          'aria-describedby': props.error ? errorId : undefined,
        } as Record<string, unknown>)}
      />
      {props.help && <small>{props.help}</small>}
      {props.error && (
        <small id={errorId} role="alert" class="field-error">
          {props.error}
        </small>
      )}
    </label>
  );
}

export function FormError({ message }: { message?: string }) {
  return message ? (
    <p role="alert" class="form-error">
      {message}
    </p>
  ) : null;
}

export function Csrf({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />;
}
