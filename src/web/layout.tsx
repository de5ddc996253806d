import type { ComponentChildren } from 'preact';
import type { SessionContext } from '../sessions/service.ts';
import { SESSION_WARNING_BEFORE_MS } from '../security/session-policy.ts';
import type { Permission } from '../security/permissions.ts';

// The page frame and the small components every page shares. All styling is in
// static/haven.css (the Content-Security-Policy allows no style="…" attribute); everything here
// works without JavaScript.
//
// Exported for other pages:
// - Layout: the page frame (header, navigation, <main id="main">, the idle-logout warning).
// - TableScroll: wrap every <table> in it, so that wide tables scroll in their own box.
// - Field, SelectField, TextAreaField: a labelled control with its help and its error.
// - FormError: an error about a whole form (role="alert").
// - Notice: the message after an action (role="status"), with optional follow-up links.
// - Csrf: the hidden `_csrf` input.
// - plural: "1 user", "2 users".

export interface PageContext {
  session: SessionContext | null;
  csrfToken: string;
  styleNonce: string;
  /** The path to come back to after "Extend Login" without JavaScript; also marks the current nav link. */
  path: string;
  /** The site is read-only (failover): every page says so. */
  readOnly: boolean;
}

/** "1 user", "2 users", "1,204 users". `many` defaults to `one` + "s". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

interface NavLink {
  href: string;
  label: string;
  /** Shown when the session's permissions include any of these; absent = everyone signed in. */
  anyOf?: Permission[];
}

// The sections people work in, left to right. Reports joins them when its pages exist:
// { href: '/reports', label: 'Reports', anyOf: ['reports_view'] }.
const SECTIONS: NavLink[] = [
  { href: '/', label: 'Dashboard' },
  { href: '/cases', label: 'Cases', anyOf: ['cases_view_all', 'cases_view_assigned'] },
  { href: '/intake', label: 'Intake', anyOf: ['intake'] },
];

// The "Admin" group: on wide screens a labelled row under the header bar, on small screens a
// group inside the Menu disclosure.
const ADMIN_LINKS: NavLink[] = [
  { href: '/admin/users', label: 'Users', anyOf: ['admin_users'] },
  { href: '/admin/roles', label: 'Roles', anyOf: ['admin_roles'] },
  { href: '/admin/locations', label: 'Locations', anyOf: ['admin_locations'] },
  { href: '/admin/site-settings', label: 'Site Settings', anyOf: ['admin_site_settings'] },
  { href: '/admin/sso', label: 'Single Sign On', anyOf: ['admin_site_settings'] },
  { href: '/admin/intake', label: 'Intake setup', anyOf: ['admin_site_settings'] },
  { href: '/admin/lookups', label: 'Case lists', anyOf: ['admin_site_settings'] },
  { href: '/admin/audit', label: 'Audit', anyOf: ['audit_view'] },
  { href: '/mail/queue', label: 'Mail queue', anyOf: ['mail_queue_view'] },
  { href: '/admin/backups', label: 'Backups', anyOf: ['admin_backups'] },
  { href: '/admin/export', label: 'Export', anyOf: ['admin_backups'] },
  { href: '/reports/users', label: 'Users Report', anyOf: ['admin_users'] },
];

function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/** `aria-current`: "page" on the link to this very page, "true" on the section a sub-page belongs to. */
function currentness(href: string, path: string): 'page' | 'true' | undefined {
  if (path === href) return 'page';
  if (href !== '/' && path.startsWith(`${href}/`)) return 'true';
  return undefined;
}

function NavItem({ link, path }: { link: NavLink; path: string }) {
  const current = currentness(link.href, path);
  return (
    <li>
      <a href={link.href} {...({ 'aria-current': current } as Record<string, unknown>)}>
        {link.label}
      </a>
    </li>
  );
}

function LogOut({ csrfToken }: { csrfToken: string }) {
  return (
    <form method="post" action="/logout" class="inline-form nav-logout">
      <input type="hidden" name="_csrf" value={csrfToken} />
      <button type="submit">Log out</button>
    </form>
  );
}

/**
 * The site navigation. One <nav>: the brand, a "Menu" disclosure (<details>, shown only on small
 * screens; it opens the panel through the CSS sibling selector `.nav-toggle[open] ~ .nav-panel`,
 * so it works without JavaScript and by keyboard), and the panel: the sections, the Admin group,
 * the user's name (a link to My Preferences) and Log out. On wide screens the panel is always
 * shown and the toggle hidden.
 */
function Nav({ ctx, session }: { ctx: PageContext; session: SessionContext }) {
  const path = pathOf(ctx.path);
  const full = session.stage === 'full';
  const allowed = (l: NavLink) => !l.anyOf || l.anyOf.some((p) => session.permissions.includes(p));
  const sections = full ? SECTIONS.filter(allowed) : [];
  const admin = full ? ADMIN_LINKS.filter(allowed) : [];
  return (
    <nav class="site-nav" aria-label="Main">
      <a href="/" class="brand">
        Haven
      </a>
      <details class="nav-toggle">
        <summary>Menu</summary>
      </details>
      <div class="nav-panel">
        {sections.length > 0 && (
          <ul class="nav-sections">
            {sections.map((l) => (
              <NavItem link={l} path={path} />
            ))}
          </ul>
        )}
        {admin.length > 0 && (
          <div class="nav-admin">
            <span class="nav-group-label" id="nav-admin-label">
              Admin
            </span>
            <ul aria-labelledby="nav-admin-label">
              {admin.map((l) => (
                <NavItem link={l} path={path} />
              ))}
            </ul>
          </div>
        )}
        <ul class="nav-account">
          <li class="nav-user">
            {full ? (
              <a href="/preferences" {...({ 'aria-current': currentness('/preferences', path) } as Record<string, unknown>)}>
                {session.user.fullName}
              </a>
            ) : (
              <span>{session.user.fullName}</span>
            )}
          </li>
          <li>
            <LogOut csrfToken={ctx.csrfToken} />
          </li>
        </ul>
      </div>
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

/** On every page while the site is read-only (DESIGN §2.4 `#read-only-banner`). */
function ReadOnlyBanner() {
  return (
    <div id="read-only-banner" class="read-only-banner" role="status">
      <div class="container">
        <strong>Haven is read-only for now.</strong> You can sign in, search and read, but nothing can be saved: the main
        database is being switched over. Keep notes aside and enter them when this message is gone.
      </div>
    </div>
  );
}

/**
 * The page frame: "Skip to content", the header bar with the navigation, and <main id="main">
 * with the page's <h1>.
 * - title: the <h1> and the window title.
 * - subtitle: a line under the title (what the page is for, other names it goes by).
 * - actions: the page's main action(s), e.g. a "Create user" link, beside the title.
 */
export function Layout({
  title,
  ctx,
  children,
  subtitle,
  actions,
  refreshSeconds,
}: {
  title: string;
  ctx: PageContext;
  children: ComponentChildren;
  subtitle?: ComponentChildren;
  actions?: ComponentChildren;
  /** Reload the page after this long: a page showing the progress of work under way. */
  refreshSeconds?: number;
}) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} - Haven`}</title>
        {refreshSeconds !== undefined && <meta http-equiv="refresh" content={String(refreshSeconds)} />}
        <link rel="stylesheet" href="/assets/pico.min.css" />
        <link rel="stylesheet" href="/assets/haven.css" />
        <script type="module" src="/assets/session.js"></script>
      </head>
      <body>
        <a href="#main" class="skip-link">
          Skip to content
        </a>
        <header class="site-header">
          <div class="container">
            {ctx.session ? (
              <Nav ctx={ctx} session={ctx.session} />
            ) : (
              <a href="/" class="brand">
                Haven
              </a>
            )}
          </div>
        </header>
        {ctx.readOnly && <ReadOnlyBanner />}
        <main id="main" class="container">
          <div class="page-header">
            <div class="page-title">
              <h1>{title}</h1>
              {subtitle && <p class="page-subtitle">{subtitle}</p>}
            </div>
            {actions && <div class="page-actions">{actions}</div>}
          </div>
          {children}
        </main>
        {ctx.session && <SessionWarning ctx={ctx} />}
      </body>
    </html>
  );
}

/**
 * A table that may be wider than the screen scrolls sideways inside its own box, never the page
 * (issue 9). Wrap every <table> in it:
 *
 *   <TableScroll label="Audit log"><table>…</table></TableScroll>
 *
 * - label: the accessible name of the scrolling region. The box is focusable (tabindex="0") so
 *   that keyboard users can scroll it with the arrow keys; screen readers announce it by this name.
 * - children: the <table> (rows get dividers and zebra stripes from haven.css).
 * Cells wrap at spaces. A cell holding a long unbroken string (a hash, a token) may take
 * class="cell-break" to wrap anywhere; class="cell-nowrap" keeps short values (dates) on one line;
 * class="cell-wide" gives long prose (error messages, notes) a column of at least 16rem.
 */
export function TableScroll({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-scroll" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}

interface FieldCommon {
  name: string;
  label: string;
  error?: string;
  help?: string;
  required?: boolean;
  /** The control's id; default `field-<name>`. Give one when a page has two fields of the same name. */
  id?: string;
}

/** The ids and ARIA attributes of a control with help and error (`<name>-help`, `<name>-error`). */
function describe(props: FieldCommon) {
  const base = props.id ? props.id.replace(/^field-/, '') : props.name;
  const helpId = `${base}-help`;
  const errorId = `${base}-error`;
  const describedBy = [props.help ? helpId : '', props.error ? errorId : ''].filter(Boolean).join(' ');
  return {
    id: props.id ?? `field-${props.name}`,
    helpId,
    errorId,
    aria: { 'aria-invalid': props.error ? 'true' : undefined, 'aria-describedby': describedBy || undefined },
  };
}

/** The error once, beside the field (role="alert"), then the help text, which keeps its own colour. */
function FieldNotes({ props, helpId, errorId }: { props: FieldCommon; helpId: string; errorId: string }) {
  return (
    <>
      {props.error && (
        <small id={errorId} role="alert" class="field-error">
          {props.error}
        </small>
      )}
      {props.help && (
        <small id={helpId} class="field-help">
          {props.help}
        </small>
      )}
    </>
  );
}

/**
 * A labelled input, with its error beside it (role="alert", as DESIGN §2.3 asks) and its help.
 * The label holds only the label text; the input has aria-invalid and aria-describedby naming
 * both the help and the error.
 */
export function Field(
  props: FieldCommon & {
    type?: 'text' | 'password' | 'email' | 'number' | 'date' | 'tel' | 'url' | 'search' | 'file';
    value?: string;
    autocomplete?: string;
    placeholder?: string;
    inputmode?: 'text' | 'numeric' | 'decimal' | 'tel' | 'email' | 'url' | 'search' | 'none';
  },
) {
  const { id, helpId, errorId, aria } = describe(props);
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        {...({
          name: props.name,
          id,
          type: props.type ?? 'text',
          // A file input cannot be given a value.
          value: props.type === 'file' ? undefined : (props.value ?? ''),
          autocomplete: props.autocomplete,
          placeholder: props.placeholder,
          inputmode: props.inputmode,
          required: props.required,
          ...aria,
        } as Record<string, unknown>)}
      />
      <FieldNotes props={props} helpId={helpId} errorId={errorId} />
    </div>
  );
}

/** A labelled <select>, like Field. `prompt` is a first, empty option ("Choose a role"). */
export function SelectField(
  props: FieldCommon & { options: { value: string; label: string }[]; value?: string; prompt?: string },
) {
  const { id, helpId, errorId, aria } = describe(props);
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select {...({ name: props.name, id, required: props.required, ...aria } as Record<string, unknown>)}>
        {props.prompt !== undefined && <option value="">{props.prompt}</option>}
        {props.options.map((o) => (
          <option value={o.value} selected={o.value === props.value}>
            {o.label}
          </option>
        ))}
      </select>
      <FieldNotes props={props} helpId={helpId} errorId={errorId} />
    </div>
  );
}

/** A labelled <textarea>, like Field. */
export function TextAreaField(props: FieldCommon & { value?: string; rows?: number }) {
  const { id, helpId, errorId, aria } = describe(props);
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <textarea {...({ name: props.name, id, rows: props.rows ?? 4, required: props.required, ...aria } as Record<string, unknown>)}>
        {props.value ?? ''}
      </textarea>
      <FieldNotes props={props} helpId={helpId} errorId={errorId} />
    </div>
  );
}

/** An error about the whole form (role="alert"), shown as a subtle error box. */
export function FormError({ message }: { message?: string }) {
  return message ? (
    <p role="alert" class="form-error">
      {message}
    </p>
  ) : null;
}

/**
 * The message after an action ("User bob created."), role="status", shown as a subtle box.
 * - kind: 'success' (default), 'info' or 'warning'.
 * - children: the message; it alone is the status text.
 * - links: follow-up links shown under it, outside the status text.
 */
export function Notice({ kind = 'success', children, links }: { kind?: 'success' | 'info' | 'warning'; children: ComponentChildren; links?: ComponentChildren }) {
  return (
    <div class={`flash flash-${kind}`}>
      <p role="status">{children}</p>
      {links && <p class="flash-links">{links}</p>}
    </div>
  );
}

export function Csrf({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />;
}
