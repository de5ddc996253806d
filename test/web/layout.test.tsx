// The shared page frame and components of src/web/layout.tsx, rendered to strings (issue 9).
import { describe, expect, test } from 'vitest';
import { renderToString } from 'preact-render-to-string';
import { Field, FormError, Layout, Notice, plural, SelectField, TableScroll, TextAreaField, type PageContext } from '../../src/web/layout.tsx';
import type { SessionContext } from '../../src/sessions/service.ts';

function session(permissions: string[], stage: SessionContext['stage'] = 'full'): SessionContext {
  return {
    id: 's',
    stage,
    user: { id: 'u', login: 'ada', fullName: 'Ada Lovelace', email: 'ada@example.org', roleId: 'r', roleName: 'Site Administrator' },
    permissions,
    location: { kind: 'internal', networkName: null },
    caseScope: { offices: [], programs: [] },
    idleTimeoutMinutes: 90,
    expiresAt: new Date(0),
    authenticatedAt: new Date(0),
    passwordConfirmedAt: null,
    secondsUntilTimeout: 5400,
  };
}

const ctx = (path: string, s: SessionContext | null): PageContext => ({ session: s, csrfToken: 'tok', styleNonce: 'n', path, readOnly: false });
const page = (c: PageContext) => renderToString(<Layout title="T" ctx={c}>body</Layout>);

describe('plural', () => {
  test('one, many, none, thousands, irregular', () => {
    expect(plural(1, 'user')).toBe('1 user');
    expect(plural(2, 'user')).toBe('2 users');
    expect(plural(0, 'user')).toBe('0 users');
    expect(plural(1204, 'message')).toBe('1,204 messages');
    expect(plural(3, 'entry', 'entries')).toBe('3 entries');
  });
});

describe('Layout', () => {
  const ALL = ['admin_users', 'admin_roles', 'admin_site_settings', 'audit_view', 'mail_queue_view'];

  test('skip link first, header with one Main nav, main#main with the title', () => {
    const html = page(ctx('/', session(ALL)));
    expect(html.indexOf('<a href="#main" class="skip-link">Skip to content</a>')).toBe(html.indexOf('<body>') + '<body>'.length);
    expect(html.match(/<nav /g)).toHaveLength(1);
    expect(html).toContain('<nav class="site-nav" aria-label="Main">');
    expect(html).toContain('<main id="main" class="container">');
    expect(html).toContain('<h1>T</h1>');
    expect(html).not.toMatch(/ style="/);
  });

  test('the Menu is a <details> disclosure; the Admin group holds the admin links; the name leads to My Preferences; Log out posts _csrf', () => {
    const html = page(ctx('/', session(ALL)));
    expect(html).toContain('<details class="nav-toggle"><summary>Menu</summary></details>');
    expect(html).toMatch(/<span class="nav-group-label" id="nav-admin-label">Admin<\/span><ul aria-labelledby="nav-admin-label">(<li><a href="[^"]+">[^<]+<\/a><\/li>){9}<\/ul>/);
    expect(html).toContain('<a href="/admin/users">Users</a>');
    expect(html).toContain('<a href="/reports/users">Users Report</a>');
    expect(html).toContain('<a href="/mail/queue">Mail queue</a>');
    expect(html).toContain('<a href="/preferences">Ada Lovelace</a>');
    expect(html).toMatch(/<form method="post" action="\/logout" class="inline-form nav-logout"><input type="hidden" name="_csrf" value="tok"\/><button type="submit">Log out<\/button><\/form>/);
  });

  test('links only for the permissions the session holds; no Admin group without any', () => {
    const html = page(ctx('/', session(['mail_queue_view'])));
    expect(html).toContain('<a href="/mail/queue">Mail queue</a>');
    expect(html).not.toContain('/admin/users');
    const none = page(ctx('/', session([])));
    expect(none).not.toContain('nav-admin');
    expect(none).toContain('<a href="/" aria-current="page">Dashboard</a>');
  });

  test('aria-current: "page" on this page\'s link, "true" on the section of a sub-page, ignoring the query', () => {
    expect(page(ctx('/admin/users', session(ALL)))).toContain('<a href="/admin/users" aria-current="page">Users</a>');
    expect(page(ctx('/mail/queue?status=sent', session(ALL)))).toContain('<a href="/mail/queue" aria-current="page">Mail queue</a>');
    const sub = page(ctx('/admin/users/123/security', session(ALL)));
    expect(sub).toContain('<a href="/admin/users" aria-current="true">Users</a>');
    expect(sub).toContain('<a href="/" >Dashboard</a>'.replace(' >', '>'));
    expect(page(ctx('/preferences', session(ALL)))).toContain('<a href="/preferences" aria-current="page">Ada Lovelace</a>');
  });

  test('before the login steps are done: the name (no link) and Log out, nothing else', () => {
    const html = page(ctx('/login/mfa', session(ALL, 'mfa')));
    expect(html).toContain('<span>Ada Lovelace</span>');
    expect(html).toContain('Log out');
    expect(html).not.toContain('/admin/users');
    expect(html).not.toContain('Dashboard');
  });

  test('signed out: the brand only, no navigation, no session warning', () => {
    const html = page(ctx('/login', null));
    expect(html).toContain('<a href="/" class="brand">Haven</a>');
    expect(html).not.toContain('<nav');
    expect(html).not.toContain('session-warning');
  });

  test('subtitle and actions', () => {
    const html = renderToString(
      <Layout title="Mail queue" ctx={ctx('/mail/queue', null)} subtitle="List Sent Mail" actions={<a href="/x">Do</a>}>
        x
      </Layout>,
    );
    expect(html).toContain('<p class="page-subtitle">List Sent Mail</p>');
    expect(html).toContain('<div class="page-actions"><a href="/x">Do</a></div>');
  });
});

describe('components', () => {
  test('TableScroll: a focusable, named region around the table', () => {
    expect(renderToString(<TableScroll label="Audit log"><table /></TableScroll>)).toBe(
      '<div class="table-scroll" tabindex="0" role="region" aria-label="Audit log"><table></table></div>',
    );
  });

  test('Field without error: label for the input, help described, not invalid, not an alert', () => {
    const html = renderToString(<Field name="n" label="Name" help="Your full name." value="x" />);
    expect(html).toBe(
      '<div class="field"><label for="field-n">Name</label><input name="n" id="field-n" type="text" value="x" aria-describedby="n-help"/><small id="n-help" class="field-help">Your full name.</small></div>',
    );
  });

  test('Field with error: the error once (role="alert"), help kept apart, both described', () => {
    const html = renderToString(<Field name="n" label="Name" help="Your full name." error="Name is required." required />);
    expect(html.match(/Name is required\./g)).toHaveLength(1);
    expect(html).toContain('aria-invalid="true" aria-describedby="n-help n-error"');
    expect(html).toContain('<small id="n-error" role="alert" class="field-error">Name is required.</small><small id="n-help" class="field-help">');
    expect(html).toContain('<label for="field-n">Name</label>');
  });

  test('Field with an id of its own (two fields of one name on a page)', () => {
    const html = renderToString(<Field name="code" id="field-backup-code" label="Code" error="Wrong." />);
    expect(html).toContain('<label for="field-backup-code">');
    expect(html).toContain('id="backup-code-error"');
  });

  test('SelectField and TextAreaField follow the same pattern', () => {
    const select = renderToString(<SelectField name="r" label="Role" prompt="Choose" options={[{ value: '1', label: 'One' }]} value="1" error="Bad." />);
    expect(select).toContain('<label for="field-r">Role</label><select name="r" id="field-r" aria-invalid="true" aria-describedby="r-error"><option value>Choose</option><option value="1" selected>One</option></select>');
    const area = renderToString(<TextAreaField name="t" label="Parties" help="One per line." value="A" />);
    expect(area).toContain('<textarea name="t" id="field-t" rows="4" aria-describedby="t-help">A</textarea>');
  });

  test('FormError and Notice', () => {
    expect(renderToString(<FormError message="Nope." />)).toBe('<p role="alert" class="form-error">Nope.</p>');
    expect(renderToString(<FormError />)).toBe('');
    expect(renderToString(<Notice links={<a href="/a">A</a>}>Done.</Notice>)).toBe(
      '<div class="flash flash-success"><p role="status">Done.</p><p class="flash-links"><a href="/a">A</a></p></div>',
    );
    expect(renderToString(<Notice kind="warning">Careful.</Notice>)).toContain('class="flash flash-warning"');
  });
});
