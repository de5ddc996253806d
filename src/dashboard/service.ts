import { and, count, eq, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import { mailOutbox, roles, users } from '../db/schema.ts';
import { hasPermission, SITE_ADMINISTRATOR } from '../security/permissions.ts';
import { getSiteSettings } from '../settings/service.ts';
import { enqueueMail } from '../mail/service.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import type { SessionContext } from '../sessions/service.ts';

/** One step of getting a new site ready, drawn from the site's real state. */
export interface ChecklistItem {
  key: 'mail' | 'mfa-required' | 'own-mfa' | 'second-admin' | 'password-length' | 'service-area' | 'backups';
  title: string;
  state: 'done' | 'todo' | 'unavailable';
  /** What is true now, in a sentence. */
  detail: string;
  /** Where it is done (a page of Haven), if it is done in Haven. */
  href?: string;
  action?: string;
}

/** Whether the signed-in user sees the administrator's checklist. */
export function seesChecklist(session: SessionContext): boolean {
  return hasPermission(session.permissions, 'admin_site_settings') || hasPermission(session.permissions, 'admin_users');
}

/**
 * The getting-started checklist (issue 9): what a new administrator still has to do, from the
 * site's state now. Each item says what is true and links to where it is done.
 */
export async function siteChecklist(app: App, session: SessionContext): Promise<ChecklistItem[]> {
  const settings = await getSiteSettings(app);
  const [mail] = await app.db
    .select({
      sent: sql<number>`count(*) FILTER (WHERE ${mailOutbox.status} = 'sent')::int`,
      failed: sql<number>`count(*) FILTER (WHERE ${mailOutbox.status} = 'failed')::int`,
    })
    .from(mailOutbox);
  const [admins] = await app.db
    .select({ n: count() })
    .from(users)
    .innerJoin(roles, eq(roles.id, users.roleId))
    .where(and(eq(users.loginActive, true), sql`'admin_users' = ANY(${roles.internalPermissions})`, sql`'admin_roles' = ANY(${roles.internalPermissions})`));
  const [me] = await app.db.select({ mfaEnabled: users.mfaEnabled }).from(users).where(eq(users.id, session.user.id));
  const items: ChecklistItem[] = [];

  const mailConfigured = Boolean(app.config.smtpUrl);
  items.push({
    key: 'mail',
    title: 'Outgoing mail',
    state: mailConfigured && (mail?.sent ?? 0) > 0 ? 'done' : 'todo',
    detail: !mailConfigured
      ? 'No mail server is configured, so e-mailed sign-in codes and warnings stay queued. Set HAVEN_SMTP_URL (docs/OPERATIONS.md, "Configuring SMTP") and restart Haven.'
      : (mail?.sent ?? 0) > 0
        ? `Mail is being delivered (${mail!.sent} sent${mail!.failed ? `, ${mail!.failed} failed: see the mail queue` : ''}).`
        : 'A mail server is configured, but nothing has been delivered yet. Send yourself a test message to check it.',
    href: '/mail/queue',
    action: mailConfigured && !(mail?.sent ?? 0) ? 'test-mail' : undefined,
  });

  const adminRequired = settings.mfa_enabled && settings.mfa_required_roles.some((r) => r.toLowerCase() === SITE_ADMINISTRATOR.toLowerCase());
  items.push({
    key: 'mfa-required',
    title: 'Require multifactor authentication for administrators',
    state: adminRequired ? 'done' : 'todo',
    detail: adminRequired
      ? 'Site Administrators must use a second factor.'
      : 'Anyone who learns an administrator\'s password can sign in as them. Add "Site Administrator" to the roles that require MFA.',
    href: '/admin/site-settings#mfa_required_roles',
  });

  items.push({
    key: 'own-mfa',
    title: 'Protect your own account',
    state: me?.mfaEnabled ? 'done' : 'todo',
    detail: me?.mfaEnabled ? 'Your account uses a second factor.' : 'Set up an authenticator app or a passkey for your own account.',
    href: me?.mfaEnabled ? '/preferences' : '/mfa/enrol',
  });

  const adminCount = Number(admins?.n ?? 0);
  items.push({
    key: 'second-admin',
    title: 'A second administrator',
    state: adminCount >= 2 ? 'done' : 'todo',
    detail:
      adminCount >= 2
        ? `${adminCount} active accounts can administer users and roles.`
        : 'If the only administrator is away or loses their phone, nobody can reset anything. Create a second administrator account.',
    href: '/admin/users/new',
  });

  items.push({
    key: 'password-length',
    title: 'Passwords of at least 12 characters',
    state: settings.password_min_length >= 12 ? 'done' : 'todo',
    detail:
      settings.password_min_length >= 12
        ? `New passwords must have at least ${settings.password_min_length} characters.`
        : `New passwords need only ${settings.password_min_length} characters. The reference product suggests 12; NIST suggests 15 without MFA.`,
    href: '/admin/site-settings#password_min_length',
  });

  const areaSet = settings.intake_postal_codes.length > 0;
  items.push({
    key: 'service-area',
    title: 'Your service area',
    state: areaSet ? 'done' : 'todo',
    detail: areaSet
      ? `Intake serves ${settings.intake_postal_codes.length} postal code${settings.intake_postal_codes.length === 1 ? '' : 's'} or prefixes${settings.intake_problem_codes.length ? ` and ${settings.intake_problem_codes.length} problem codes` : ', every problem code'}.`
      : 'Intake accepts applicants from every postal code. List the postal codes you serve (and, if you like, the problems you handle) so that others are referred out before any personal data is asked.',
    href: '/admin/site-settings#intake_postal_codes',
  });

  const [lastVerified] = await app.database.rows<{ backup_id: string }>(sql`SELECT backup_id FROM backup_checks WHERE status = 'passed' ORDER BY started_at DESC LIMIT 1`);
  items.push({
    key: 'backups',
    title: 'Backups',
    state: lastVerified ? 'done' : 'todo',
    detail: lastVerified
      ? `Backup ${lastVerified.backup_id} passed its restore test. Backups run nightly at ${settings.backup_time}; keep a copy of the key file apart from them.`
      : `No backup has passed a restore test yet. The first nightly backup runs at ${settings.backup_time}; "Back up now" takes one and tests it at once.`,
    href: '/admin/backups',
  });
  return items;
}

/** "Send a test message" on the checklist: one message to the administrator's own address. */
export async function sendTestMail(app: App, actor: Actor & { email: string }, ip: string): Promise<void> {
  await app.db.transaction(async (tx) => {
    await enqueueMail(
      app,
      {
        to: actor.email,
        subject: 'Haven test message',
        text: ['This is a test message from Haven.', '', 'If you can read it, outgoing mail works: sign-in codes and warnings will reach your users.'].join('\n'),
      },
      tx,
    );
    await recordAudit(app, { action: 'mail.test_sent', actor, target: actor.email, ip }, tx);
  });
}
