import { Csrf, Layout, type PageContext } from '../web/layout.tsx';
import type { Permission } from '../security/permissions.ts';
import type { ChecklistItem } from './service.ts';
import type { CaseListItem } from '../cases/search.ts';
import { DISPOSITION_LABELS } from '../security/disposition.ts';

/** The places people go most, each shown only to those whose role opens it. */
const PLACES: { href: string; title: string; text: string; permission?: Permission }[] = [
  { href: '/intake', title: 'Take an application', text: 'Intake: screening first, then the applicant, the other side and the conflict check.', permission: 'intake' },
  { href: '/cases', title: 'Find a case', text: 'By case number, client name (or a name that sounds alike) or date of birth.', permission: 'cases_view_assigned' },
  { href: '/cases', title: 'Find a case', text: 'By case number, client name (or a name that sounds alike) or date of birth.', permission: 'cases_view_all' },
  { href: '/preferences', title: 'My Preferences', text: 'Your password, multifactor authentication and recovery codes.' },
  { href: '/admin/users', title: 'Manage users', text: 'Create accounts, reset passwords, turn access on and off.', permission: 'admin_users' },
  { href: '/admin/roles', title: 'Roles and permissions', text: 'What each role may do, inside and outside your networks.', permission: 'admin_roles' },
  { href: '/admin/site-settings', title: 'Change site settings', text: 'Passwords, sessions and multifactor authentication.', permission: 'admin_site_settings' },
  { href: '/admin/audit', title: 'Read the audit log', text: 'Who signed in, changed or exported what, and when.', permission: 'audit_view' },
  { href: '/mail/queue', title: 'Check the mail queue', text: 'Messages Haven has queued, sent or given up on.', permission: 'mail_queue_view' },
  { href: '/reports/users', title: 'Sign-in and MFA report', text: "Every account's sign-in and MFA state, as a page or CSV.", permission: 'admin_users' },
];

const NOTICES: Record<string, string> = {
  'password-changed': 'Password changed. Your other sessions were signed out.',
  'test-mail': 'A test message is on its way to your address. The mail queue shows when it has been delivered.',
};

export function dashboardNotice(done: string | undefined): string | undefined {
  return done && Object.hasOwn(NOTICES, done) ? NOTICES[done] : undefined;
}

const STATE_LABELS: Record<ChecklistItem['state'], string> = { done: 'Done', todo: 'To do', unavailable: 'Not available yet' };

function Checklist({ ctx, items }: { ctx: PageContext; items: ChecklistItem[] }) {
  const open = items.filter((i) => i.state === 'todo').length;
  return (
    <section aria-labelledby="checklist-title" id="checklist">
      <h2 id="checklist-title">Getting started</h2>
      <p>{open === 0 ? 'Everything on this list is done.' : `${open} of ${items.length} steps still to do.`}</p>
      <ol class="checklist">
        {items.map((item) => (
          <li class={`checklist-item is-${item.state}`} id={`checklist-${item.key}`}>
            <strong>{item.title}</strong> <span class="checklist-state">{STATE_LABELS[item.state]}</span>
            <p>{item.detail}</p>
            {item.action === 'test-mail' && (
              <form method="post" action="/dashboard/test-mail">
                <Csrf token={ctx.csrfToken} />
                <button type="submit" class="secondary">Send me a test message</button>
              </form>
            )}
            {item.href && item.state !== 'done' && (
              <p>
                <a href={item.href}>{item.key === 'mail' ? 'Open the mail queue' : 'Do this now'}</a>
              </p>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

function MyCases({ cases }: { cases: { open: number; recent: CaseListItem[] } }) {
  return (
    <section aria-labelledby="my-cases-title" id="my-cases">
      <h2 id="my-cases-title">My cases</h2>
      <p>{cases.open === 0 ? 'No open cases are assigned to you.' : `${cases.open} open or pending ${cases.open === 1 ? 'case is' : 'cases are'} assigned to you.`}</p>
      {cases.recent.length > 0 && (
        <ul class="places">
          {cases.recent.map((c) => (
            <li>
              <a href={`/cases/${c.id}`}>
                {c.number} {c.clientName}
              </a>
              <small>{DISPOSITION_LABELS[c.disposition]}</small>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function DashboardPage({ ctx, checklist, notice, cases = null }: { ctx: PageContext; checklist: ChecklistItem[] | null; notice?: string; cases?: { open: number; recent: CaseListItem[] } | null }) {
  const session = ctx.session!;
  const places = PLACES.filter((p) => !p.permission || session.permissions.includes(p.permission)).filter((p, i, all) => all.findIndex((q) => q.href === p.href) === i);
  return (
    <Layout title="Dashboard" ctx={ctx}>
      {notice && <p role="status">{notice}</p>}
      <p>
        Welcome, {session.user.fullName}. You are signed in as <strong>{session.user.login}</strong> ({session.user.roleName}).
      </p>
      {cases && <MyCases cases={cases} />}
      {checklist && <Checklist ctx={ctx} items={checklist} />}
      <section aria-labelledby="places-title">
        <h2 id="places-title">Go to</h2>
        <ul class="places">
          {places.map((p) => (
            <li>
              <a href={p.href}>{p.title}</a>
              <small>{p.text}</small>
            </li>
          ))}
        </ul>
      </section>
    </Layout>
  );
}
