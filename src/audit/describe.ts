// The audit log in words (pure): one sentence per entry for the Audit page, the action filter's
// choices, and the details as "key: value" lines for investigators. Nothing here queries; every
// function takes whatever the database holds (details are JSON of any shape, old entries
// included) and never throws on it.
import { describePermissionChanges, permissionChanges } from '../roles/changes.ts';

/** What `describeEntry` reads of an entry. */
export interface DescribableEntry {
  action: string;
  actorLogin: string | null;
  target: string | null;
  details: unknown;
}

// ---- The actions Haven records, for the filter --------------------------------------------

export interface AuditActionChoice {
  /** The filter value: an action, or a group of actions by prefix (ends with "."). */
  value: string;
  label: string;
}

export interface AuditActionGroup {
  label: string;
  choices: AuditActionChoice[];
}

/** Every action Haven records today, grouped; the first choice of a group is the whole group. */
export const AUDIT_ACTION_GROUPS: AuditActionGroup[] = [
  {
    label: 'Sign-in',
    choices: [
      { value: 'login.', label: 'All sign-in attempts' },
      { value: 'login.success', label: 'Signed in' },
      { value: 'login.failure', label: 'Sign-in failed' },
      { value: 'logout', label: 'Signed out' },
      { value: 'session.network_changed', label: 'Session moved to another network' },
    ],
  },
  {
    label: 'Passwords',
    choices: [
      { value: 'password.', label: 'All password events' },
      { value: 'password.changed', label: 'Password changed' },
      { value: 'password.change_failure', label: 'Password change refused' },
    ],
  },
  {
    label: 'Multifactor authentication',
    choices: [
      { value: 'mfa.', label: 'All MFA events' },
      { value: 'mfa.challenge_success', label: 'Second factor passed' },
      { value: 'mfa.challenge_failure', label: 'Second factor failed' },
      { value: 'mfa.code_guessing_warning_sent', label: 'Code-guessing warning sent' },
      { value: 'mfa.email_code_sent', label: 'Code e-mailed' },
      { value: 'mfa.enrolment_started', label: 'MFA setup started' },
      { value: 'mfa.enrolment_failure', label: 'MFA setup failed' },
      { value: 'mfa.enabled', label: 'MFA enabled' },
      { value: 'mfa.disabled', label: 'MFA disabled' },
      { value: 'mfa.enrolment_required', label: 'MFA setup required' },
      { value: 'mfa.method_changed', label: 'MFA method changed' },
      { value: 'mfa.recovery_codes_issued', label: 'Recovery codes issued' },
      { value: 'mfa.passkey_failure', label: 'Passkey registration failed' },
    ],
  },
  {
    label: 'Re-authentication',
    choices: [
      { value: 'reauth.', label: 'All re-authentication' },
      { value: 'reauth.success', label: 'Identity confirmed' },
      { value: 'reauth.password_confirmed', label: 'Password confirmed' },
      { value: 'reauth.failure', label: 'Confirmation failed' },
    ],
  },
  {
    label: 'Users',
    choices: [
      { value: 'user.', label: 'All user changes' },
      { value: 'user.created', label: 'User created' },
      { value: 'user.updated', label: 'User changed' },
      { value: 'user.activated', label: 'User activated' },
      { value: 'user.deactivated', label: 'User deactivated' },
      { value: 'setup.first_administrator', label: 'First administrator created' },
    ],
  },
  {
    label: 'Roles',
    choices: [
      { value: 'role.', label: 'All role changes' },
      { value: 'role.created', label: 'Role created' },
      { value: 'role.permissions_changed', label: 'Role permissions changed' },
    ],
  },
  {
    label: 'API',
    choices: [
      { value: 'api.', label: 'All API events' },
      { value: 'api.call', label: 'API call' },
      { value: 'api.refused', label: 'API token refused' },
      { value: 'api.token_created', label: 'API token created' },
      { value: 'api.token_revoked', label: 'API token revoked' },
    ],
  },
  {
    label: 'Single sign-on',
    choices: [
      { value: 'sso.', label: 'All single sign-on events' },
      { value: 'sso.policy_changed', label: 'Policy changed' },
      { value: 'sso.provider_added', label: 'Provider added' },
      { value: 'sso.provider_changed', label: 'Provider changed' },
      { value: 'sso.provider_removed', label: 'Provider removed' },
      { value: 'sso.link_requested', label: 'Identity waiting for a link' },
      { value: 'sso.linked', label: 'Identity linked' },
      { value: 'sso.link_refused', label: 'Link refused' },
      { value: 'sso.unlinked', label: 'Identity unlinked' },
      { value: 'sso.account_created', label: 'Account created by SSO' },
    ],
  },
  {
    label: 'Locations',
    choices: [
      { value: 'location.', label: 'All network changes' },
      { value: 'location.added', label: 'Network added' },
      { value: 'location.changed', label: 'Network changed' },
      { value: 'location.removed', label: 'Network removed' },
    ],
  },
  {
    label: 'Site',
    choices: [
      { value: 'settings.changed', label: 'Settings changed' },
      { value: 'report.', label: 'Reports exported' },
      { value: 'export.', label: 'Data exports' },
      { value: 'keys.', label: 'Encryption keys' },
      { value: 'backup.', label: 'Backups and restore tests' },
      { value: 'failover.', label: 'Read-only mode and failover' },
    ],
  },
  {
    label: 'Cases',
    choices: [
      { value: 'case.', label: 'All case events' },
      { value: 'case.view', label: 'Case viewed' },
      { value: 'case.view_denied', label: 'Case refused (not permitted or missing)' },
      { value: 'case.created', label: 'Case created' },
      { value: 'client.created', label: 'Client created (API)' },
      { value: 'case.disposition_changed', label: 'Disposition changed' },
      { value: 'case.assigned', label: 'Staff assigned' },
      { value: 'case.unassigned', label: 'Assignment removed' },
      { value: 'case.note_added', label: 'Note added' },
      { value: 'case.updated', label: 'Case details changed' },
      { value: 'conflict.decided', label: 'Conflict decision' },
      { value: 'document.uploaded', label: 'Document added' },
      { value: 'document.downloaded', label: 'Document downloaded' },
      { value: 'mail.received', label: 'E-mail filed on a case' },
      { value: 'case.mail_alias_changed', label: 'Case e-mail address changed' },
      { value: 'ssn.view_full', label: 'Full SSN shown' },
      { value: 'ssn.truncated', label: 'Full SSNs cut to four digits' },
    ],
  },
  {
    label: 'Intake',
    choices: [
      { value: 'intake.', label: 'All intake events' },
      { value: 'intake.started', label: 'Application started' },
      { value: 'intake.halted', label: 'Application stopped' },
      { value: 'intake.income_override', label: 'Income limit overridden' },
      { value: 'intake.stages_changed', label: 'Intake stages changed' },
      { value: 'intake.poverty_table_changed', label: 'Poverty guidelines changed' },
      { value: 'lookup.changed', label: 'Case lists changed' },
    ],
  },
  {
    label: 'Mail',
    choices: [
      { value: 'mail.', label: 'All mail actions' },
      { value: 'mail.retried', label: 'Failed message retried' },
      { value: 'mail.test_sent', label: 'Test message sent' },
    ],
  },
];

const ACTION_FILTERS = new Set(AUDIT_ACTION_GROUPS.flatMap((g) => g.choices.map((c) => c.value)));

/** Whether `value` is one of the action filter's choices. */
export function isAuditActionFilter(value: string): boolean {
  return ACTION_FILTERS.has(value);
}

// ---- Reading details safely ----------------------------------------------------------------

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);
const objectOf = (value: unknown): Json => (isObject(value) ? value : {});
const textOf = (value: unknown): string | undefined => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);
const stringList = (value: unknown): string[] | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;

/** A value as a person reads it: yes/no, lists with commas, "(empty)". */
function plain(value: unknown): string {
  if (value === null || value === undefined) return '(none)';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') return value === '' ? '(empty)' : value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.length ? value.map(plain).join(', ') : '(none)';
  return Object.keys(value as Json).join(', ');
}

const METHODS: Record<string, string> = { app: 'authenticator app', email: 'e-mailed codes', passkey: 'passkey' };
const CODE_KINDS: Record<string, string> = { app: 'authenticator app', email: 'e-mailed code', recovery: 'recovery code', passkey: 'passkey', password: 'password' };
const LOGIN_FAILURES: Record<string, string> = {
  unknown_login: 'no such login',
  wrong_password: 'wrong password',
  login_inactive: 'account not active',
  no_login_permission: 'role may not sign in',
  sso_required: 'single sign-on is required (password refused)',
  sso_already_linked: 'the account is linked at that provider already',
  read_only: 'the site is read-only',
  sso_no_flow: 'single sign-on answer with no sign-in started in this browser',
  sso_flow_expired: 'single sign-on started more than 10 minutes before',
  sso_unknown_provider: 'no such single sign-on provider',
  sso_provider_error: 'the identity provider refused',
  sso_token_refused: 'the identity provider refused the code (PKCE or a used code)',
  sso_response_invalid: "the provider's answer did not verify (state, nonce, issuer, audience, expiry or signature)",
  sso_provider_unreachable: 'the identity provider could not be reached',
  sso_wrong_hosted_domain: 'not an account of the Google Workspace domain',
  sso_missing_tenant: 'no tenant or object id in the ID token',
  sso_missing_subject: 'no subject in the ID token',
  sso_not_linked: 'identity linked to no account',
  sso_account_gone: 'the linked account is gone',
};
const NEXT_STEPS: Record<string, string> = {
  mfa: 'second factor next',
  password_change: 'must change password',
  mfa_enrol: 'must set up MFA',
};
const CODE_NOT_SENT: Record<string, string> = { too_soon: 'e-mail code not sent: too soon', hourly_limit: 'e-mail code not sent: hourly limit' };
const PASSKEY_REASONS: Record<string, string> = { unknown_credential: 'unknown passkey', no_challenge: 'no passkey request pending' };
const USER_FIELDS: Record<string, string> = { fullName: 'full name', email: 'e-mail address', role: 'role', loginActive: 'Login Active', password: 'password' };

const API_REFUSALS: Record<string, string> = {
  revoked: 'revoked',
  expired: 'expired',
  inactive: 'account not active',
  no_login_permission: 'role may not sign in from there',
  no_api_access: 'role lacks API Access there',
};
const networkName = (value: unknown) => (textOf(value) ? `network ${textOf(value)}` : 'no defined network');
const method = (value: unknown) => METHODS[textOf(value) ?? ''] ?? textOf(value);
const codeKind = (value: unknown) => CODE_KINDS[textOf(value) ?? ''] ?? textOf(value);
const inParens = (parts: (string | undefined | false)[]) => {
  const kept = parts.filter((p): p is string => Boolean(p));
  return kept.length ? ` (${kept.join(', ')})` : '';
};

/** The generic sentence: the action, who, on whom, and only the names of the details. */
function fallback(entry: DescribableEntry): string {
  const keys = Object.keys(objectOf(entry.details));
  return `${entry.action}${entry.actorLogin ? ` by ${entry.actorLogin}` : ''}${entry.target ? ` on ${entry.target}` : ''}${keys.length ? ` (details: ${keys.join(', ')})` : ''}`;
}

function userUpdated(actor: string, target: string, details: Json): string | null {
  const changes = Object.entries(details).filter(([k, v]) => k in USER_FIELDS && isObject(v));
  if (!changes.length) return null;
  const part = ([key, change]: [string, unknown]) => {
    const { before, after } = objectOf(change);
    if (key === 'password') return 'a new password set';
    return `${USER_FIELDS[key]} from ${plain(before)} to ${plain(after)}`;
  };
  if (changes.length === 1) {
    const [key] = changes[0]!;
    if (key === 'password') return `${actor} set a new password for ${target}`;
    const { before, after } = objectOf(changes[0]![1]);
    return `${actor} changed the ${USER_FIELDS[key]} of ${target} from ${plain(before)} to ${plain(after)}`;
  }
  return `${actor} changed ${target}: ${changes.map(part).join('; ')}`;
}

function rolePermissions(actor: string, target: string, details: Json): string | null {
  const before = objectOf(details.before);
  const after = objectOf(details.after);
  const sets = [before.internal, before.external, after.internal, after.external].map(stringList);
  if (sets.some((s) => s === undefined)) return null;
  const [bi, be, ai, ae] = sets as string[][];
  const changes = describePermissionChanges(permissionChanges({ internal: bi!, external: be! }, { internal: ai!, external: ae! }));
  const reason = textOf(details.reason);
  return `${actor} changed the permissions of ${target}: ${changes}${reason ? ` (${reason})` : ''}`;
}

function settingsChanged(actor: string | null, details: Json): string | null {
  const changes = Object.entries(details).filter(([, v]) => isObject(v));
  if (!changes.length) return null;
  const list = changes.map(([key, change]) => `${key} ${plain(objectOf(change).before)} → ${plain(objectOf(change).after)}`).join(', ');
  return actor ? `${actor} changed settings: ${list}` : `settings changed: ${list}`;
}

/** "wrong code (authenticator app, 3 failures in a row)", "unknown passkey", "wrong password". */
function whyFailed(details: Json): string {
  if (textOf(details.step) === 'password') return 'wrong password';
  if (textOf(details.method) === 'passkey') {
    const reason = textOf(details.reason);
    return `passkey not accepted${reason ? `: ${PASSKEY_REASONS[reason] ?? reason}` : ''}`;
  }
  const failures = typeof details.failures === 'number' ? details.failures : undefined;
  return `wrong code${inParens([method(details.method), failures !== undefined && `${failures} ${failures === 1 ? 'failure' : 'failures'} in a row`])}`;
}

/**
 * One sentence for an audit entry: "ada signed in (new device)", "login failed for bob: wrong
 * password", "ada changed the role of pat from Paralegal to Attorney". An action it does not
 * know gets its name, who, on whom and the names of its details, never their values.
 */
export function describeEntry(entry: DescribableEntry): string {
  const d = objectOf(entry.details);
  // Who acted: the account, or Haven itself (the `haven` command, an upgrade, a warning).
  const actor = entry.actorLogin ?? 'Haven';
  const target = entry.target ?? entry.actorLogin ?? 'someone';
  const self = entry.actorLogin ?? target;
  switch (entry.action) {
    case 'login.success': {
      const codeNotSent = textOf(d.codeNotSent);
      return `${self} signed in${d.method === 'sso' ? ` with single sign-on at ${textOf(d.provider) ?? '?'}` : ''}${inParens([
        d.mfaAtProvider === true && "provider's MFA trusted",
        d.accountCreated === true && 'account created',
        d.knownDevice === false && 'new device',
        NEXT_STEPS[textOf(d.next) ?? ''],
        d.passwordRehashed === true && 'password hash upgraded',
        codeNotSent && (CODE_NOT_SENT[codeNotSent] ?? `e-mail code not sent: ${codeNotSent}`),
      ])}`;
    }
    case 'login.failure': {
      const reason = textOf(d.reason);
      const where = reason === 'no_login_permission' && textOf(d.kind) ? ` from ${networkName(d.network)} (${textOf(d.kind)})` : '';
      const via = d.method === 'sso' ? ` (single sign-on at ${textOf(d.provider) ?? '?'})` : '';
      return `login failed for ${entry.target ?? (via ? 'an identity' : 'an empty login')}${via}${reason ? `: ${LOGIN_FAILURES[reason] ?? reason}${where}` : ''}`;
    }
    case 'session.network_changed':
      return `${self}'s session moved from ${networkName(d.from)} to ${networkName(d.to)} (${textOf(d.kind) ?? '?'})${d.ended === true ? ': ended, this role may not sign in from there' : ''}`;
    case 'api.call':
      return `${actor} called ${target} with token "${textOf(d.token) ?? '?'}"${typeof d.status === 'number' ? `: ${d.status}` : ''}`;
    case 'api.refused':
      return `API token "${textOf(d.token) ?? '?'}" of ${actor} refused for ${target}: ${API_REFUSALS[textOf(d.reason) ?? ''] ?? textOf(d.reason) ?? 'no reason recorded'}`;
    case 'api.token_created':
      return `${actor} created API token "${target}"${textOf(d.expiresAt) ? `, expiring ${textOf(d.expiresAt)!.slice(0, 10)}` : ''}`;
    case 'api.token_revoked':
      return `${actor} revoked API token "${target}"`;
    case 'client.created':
      return `${actor} created client ${target}${d.via === 'api' ? ' through the API' : ''}`;
    case 'sso.policy_changed':
      return `${actor} set single sign-on to ${target}${textOf(d.breakGlass) ? ` (break-glass: ${textOf(d.breakGlass)})` : ''}`;
    case 'sso.provider_added':
      return `${actor} added SSO provider ${target}${inParens([textOf(d.kind), textOf(d.issuer)])}`;
    case 'sso.provider_changed':
      return `${actor} changed SSO provider ${target}${d.secretChanged === true ? ' (new client secret)' : ''}`;
    case 'sso.provider_removed':
      return `${actor} removed SSO provider ${target}${typeof d.unlinkedAccounts === 'number' && d.unlinkedAccounts > 0 ? ` and unlinked ${d.unlinkedAccounts} account(s)` : ''}`;
    case 'sso.link_requested':
      return `an identity of ${textOf(d.provider) ?? '?'}${textOf(d.email) ? ` (${textOf(d.email)})` : ''} signed in but is linked to no account`;
    case 'sso.linked':
      return `${d.by === 'administrator' ? `${actor} linked` : `${self} confirmed with their password the link of`} ${d.by === 'administrator' ? `${target} to ` : ''}an identity at ${textOf(d.provider) ?? '?'}${textOf(d.email) ? ` (${textOf(d.email)})` : ''}`;
    case 'sso.link_refused':
      return `${self} could not link an identity at ${textOf(d.provider) ?? '?'}: the account is linked there already`;
    case 'sso.unlinked':
      return `${actor} unlinked ${target}'s identity at ${textOf(d.provider) ?? '?'}`;
    case 'sso.account_created':
      return `single sign-on at ${textOf(d.provider) ?? '?'} created account ${target}${textOf(d.email) ? ` (${textOf(d.email)})` : ''}`;
    case 'location.added':
      return `${actor} added network ${target}${inParens([Array.isArray(d.ranges) && d.ranges.map(String).join(', '), d.internal === true ? 'internal' : 'external'])}`;
    case 'location.changed':
      return `${actor} changed network ${target}`;
    case 'location.removed':
      return `${actor} removed network ${target}`;
    case 'logout':
      return `${self} signed out`;
    case 'password.changed':
      return entry.actorLogin && entry.target && entry.actorLogin !== entry.target ? `${actor} changed the password of ${target}` : `${self} changed their password`;
    case 'password.change_failure':
      return `${self} could not change their password: wrong current password`;
    case 'setup.first_administrator':
      return `first administrator ${target} created with the setup link`;
    case 'user.created': {
      const role = textOf(d.role);
      return `${actor} created user ${target}${role ? ` with role ${role}` : ''}`;
    }
    case 'user.updated':
      return userUpdated(actor, target, d) ?? `${actor} changed ${target}`;
    case 'user.activated':
      return `${actor} activated ${target}`;
    case 'user.deactivated':
      return `${actor} deactivated ${target}`;
    case 'role.created':
      return `${actor} created role ${target}`;
    case 'role.permissions_changed':
      return rolePermissions(actor, target, d) ?? `${actor} changed the permissions of ${target}`;
    case 'settings.changed':
      return settingsChanged(entry.actorLogin, d) ?? 'settings changed';
    case 'report.users.export': {
      const format = textOf(d.format);
      const rows = typeof d.rows === 'number' ? d.rows : undefined;
      return `${actor} exported the users report${inParens([format?.toUpperCase(), rows !== undefined && `${rows} ${rows === 1 ? 'row' : 'rows'}`])}`;
    }
    case 'export.run':
      return `${actor} exported all data${entry.target ? ` to ${entry.target}` : ''}`;
    case 'backup.created':
      return `${actor} took backup ${entry.target ?? '?'}${inParens([textOf(d.trigger) === 'scheduled' ? 'nightly' : 'by hand', typeof d.rows === 'number' && `${d.rows} rows`, d.base === true && 'with a base backup'])}`;
    case 'backup.failed':
      return `backup ${entry.target ?? '?'} failed: ${textOf(d.reason) ?? 'no reason recorded'}`;
    case 'backup.verified':
      return `${actor} ran the restore test of backup ${entry.target ?? '?'}: passed${typeof d.durationMs === 'number' ? ` in ${(d.durationMs / 1000).toFixed(1)} s` : ''}`;
    case 'backup.verify_failed':
      return `${actor} ran the restore test of backup ${entry.target ?? '?'}: failed (${textOf(d.reason) ?? 'no reason recorded'})`;
    case 'backup.pruned':
      return `retention removed ${Array.isArray(d.removed) ? d.removed.length : '?'} backup(s) older than ${textOf(d.retentionDays) ?? '?'} days${Array.isArray(d.removed) ? `: ${d.removed.map(String).join(', ')}` : ''}`;
    case 'backup.restored':
      return `${actor} restored backup ${entry.target ?? '?'} into ${textOf(d.to) ?? '?'}${d.force === true ? ' (--force)' : ''}`;
    case 'failover.read_only_on':
      return `${entry.target ?? 'an operator'} made the site read-only (haven failover read-only on)`;
    case 'failover.read_only_off':
      return `${entry.target ?? 'an operator'} ended read-only mode (haven failover read-only off)`;
    case 'failover.promoted':
      return `${entry.target ?? 'an operator'} promoted the standby to primary (generation ${textOf(d.generation) ?? '?'})`;
    case 'keys.identity_sealed':
      return `Haven sealed the dates of birth and SSNs stored before encryption (${textOf(d.clients) ?? '?'} clients, ${textOf(d.applications) ?? '?'} applications)`;
    case 'keys.rotation_started':
      return `${actor} started a master key rotation (new key ${textOf(d.key) ?? '?'})`;
    case 'keys.rotation_resumed':
      return `${actor} resumed the master key rotation to key ${textOf(d.key) ?? '?'}`;
    case 'keys.rotation_finished':
      return `${actor} finished the master key rotation: ${textOf(d.rewrapped) ?? '?'} data keys re-wrapped, key ${textOf(d.retired) ?? '?'} retired`;
    case 'mail.retried': {
      const to = textOf(d.to);
      return `${actor} queued a failed message${to ? ` to ${to}` : ''} again`;
    }
    case 'mail.test_sent':
      return `${actor} sent a test message${entry.target ? ` to ${entry.target}` : ''}`;
    case 'mfa.email_code_sent':
      return `${textOf(d.purpose) === 'enrol' ? 'set-up' : 'sign-in'} code e-mailed to ${target}`;
    case 'mfa.challenge_success':
      return `${self} passed the second factor${inParens([codeKind(d.with)])}`;
    case 'mfa.challenge_failure':
      return `second factor failed for ${target}: ${whyFailed(d)}`;
    case 'mfa.code_guessing_warning_sent': {
      const after = typeof d.after === 'number' ? d.after : undefined;
      return `${target} warned by e-mail of code guessing${after !== undefined ? ` (${after} wrong codes)` : ''}`;
    }
    case 'mfa.enrolment_started':
      return `${self} started setting up MFA${inParens([method(d.method)])}`;
    case 'mfa.enrolment_failure':
      return `${self} could not finish setting up MFA: wrong code${inParens([method(d.method)])}`;
    case 'mfa.enabled':
      return `${target}: MFA enabled${inParens([method(d.method)])}`;
    case 'mfa.disabled':
      return textOf(d.by) === 'administrator' ? `${target}: MFA disabled by ${actor}` : `${target}: MFA disabled by themselves`;
    case 'mfa.enrolment_required':
      return `${actor} required ${target} to set up MFA again at next sign-in`;
    case 'mfa.method_changed':
      return `${actor} changed the MFA method of ${target}${method(d.method) ? ` to ${method(d.method)}` : ''}${d.enrolAtNextLogin === true ? ', to be set up at next sign-in' : ''}`;
    case 'mfa.recovery_codes_issued':
      return `new recovery codes issued to ${target}`;
    case 'mfa.passkey_failure': {
      const error = textOf(d.error);
      return `${self} could not register a passkey${error ? `: ${error}` : ''}`;
    }
    case 'reauth.success':
      return `${self} confirmed their identity${inParens([codeKind(d.with)])}`;
    case 'reauth.password_confirmed':
      return `${self} confirmed their password (code next)`;
    case 'reauth.failure':
      return `${self} could not confirm their identity: ${whyFailed(d)}`;
    case 'case.view':
      return `${actor} opened case ${target}`;
    case 'case.view_denied':
      return `${actor} was refused a case (not permitted, or no such case): ${target}`;
    case 'case.created':
      return `${actor} created case ${target} ${d.via === 'api' ? 'through the API' : 'from an application'}`;
    case 'case.disposition_changed':
      return `${actor} changed the disposition of case ${target}${textOf(d.from) && textOf(d.to) ? ` from ${textOf(d.from)} to ${textOf(d.to)}` : ''}${textOf(d.closing_code) ? ` (closing code ${textOf(d.closing_code)})` : ''}`;
    case 'case.assigned':
      return `${actor} assigned ${textOf(d.assignee) ?? 'someone'} to case ${target}`;
    case 'case.unassigned':
      return `${actor} removed ${textOf(d.assignee) ?? 'someone'} from case ${target}`;
    case 'case.note_added':
      return `${actor} added a note to case ${target}`;
    case 'case.updated':
      return `${actor} changed the details of case ${target}`;
    case 'document.uploaded':
      return textOf(d.source) === 'mail' ? `An e-mail attachment was filed on case ${target}` : `${actor} added a document to case ${target}`;
    case 'case.mail_alias_changed':
      return textOf(d.to) ? `${actor} gave case ${target} the e-mail address ${textOf(d.to)}@…` : `${actor} removed the other e-mail address of case ${target}`;
    case 'mail.received':
      return `An e-mail was filed on case ${target}${typeof d.attachments === 'number' && d.attachments ? ` with ${d.attachments} attachment${d.attachments === 1 ? '' : 's'}` : ''}`;
    case 'document.downloaded':
      return `${actor} downloaded a document of case ${target}`;
    case 'conflict.decided':
      return `${actor} recorded a conflict decision (${textOf(d.decision) ?? '?'}) on ${target}`;
    case 'ssn.view_full':
      return `${actor} was shown the full SSN on case ${target}`;
    case 'ssn.truncated':
      return `${actor} cut every stored full SSN to its last four digits (${textOf(d.clients) ?? '?'} clients)`;
    case 'intake.started':
      return `${actor} started an application`;
    case 'intake.halted':
      return `${actor}'s application stopped at the ${textOf(d.stage) ?? '?'} stage (${textOf(d.reason) ?? '?'})`;
    case 'intake.income_override':
      return `${actor} overrode the income limit for an application`;
    case 'intake.stages_changed':
      return `${actor} changed the intake stages`;
    case 'intake.poverty_table_changed':
      return `${actor} changed the poverty guidelines`;
    case 'lookup.changed':
      return `${actor} changed the case lists${textOf(d.kind) ? ` (${textOf(d.kind)})` : ''}`;
    default:
      return fallback(entry);
  }
}

// ---- Details for investigators -------------------------------------------------------------

// The database (jsonb) keeps keys in an order of its own: sort them, "before" ahead of "after".
const KEY_RANK: Record<string, number> = { before: 0, after: 1 };
const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => (KEY_RANK[a] ?? 2) - (KEY_RANK[b] ?? 2) || (a < b ? -1 : a > b ? 1 : 0);

/**
 * The details as "key: value" lines, nested keys joined with dots ("before.internal"), lists
 * with commas, keys sorted ("before" ahead of "after"): the exact values, for the disclosure
 * under each row.
 */
export function detailLines(details: unknown): [key: string, value: string][] {
  const lines: [string, string][] = [];
  const child = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));
  const walk = (value: unknown, path: string) => {
    if (isObject(value) && Object.keys(value).length) {
      for (const [k, v] of Object.entries(value).sort(byKey)) walk(v, child(path, k));
    } else if (Array.isArray(value) && value.some((v) => v !== null && typeof v === 'object')) {
      value.forEach((v, i) => walk(v, child(path, i)));
    } else {
      lines.push([path || 'value', Array.isArray(value) ? (value.length ? value.map(String).join(', ') : '(none)') : value === null || value === undefined ? '(none)' : isObject(value) ? '(none)' : value === '' ? '(empty)' : String(value)]);
    }
  };
  if (details !== null && details !== undefined) walk(details, '');
  return lines;
}
