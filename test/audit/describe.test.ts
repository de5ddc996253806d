// The audit log in words (src/audit/describe.ts) and the Audit page's filter helpers
// (src/audit/filters.ts). Pure; no database.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { AUDIT_ACTION_GROUPS, describeEntry, detailLines, isAuditActionFilter, type DescribableEntry } from '../../src/audit/describe.ts';
import { auditPageHref, isCalendarDate, isEntryNumber } from '../../src/audit/filters.ts';

const entry = (action: string, fields: Partial<DescribableEntry> = {}): DescribableEntry => ({ action, actorLogin: null, target: null, details: null, ...fields });
const by = (actor: string, action: string, target: string | null, details: unknown = null) => describeEntry(entry(action, { actorLogin: actor, target, details }));

/** Every audit action the code records: the string literals naming actions in files that call recordAudit. */
function recordedActions(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.tsx?$/.test(name)) files.push(path);
    }
  };
  walk(join(import.meta.dirname, '../../src'));
  const actions = new Set<string>();
  for (const file of files) {
    if (file.includes(`${join('src', 'audit')}`)) continue;
    const text = readFileSync(file, 'utf8');
    if (!text.includes('recordAudit(')) continue;
    for (const m of text.matchAll(/'((?:login|logout|password|setup|user|role|settings|report|mail|mfa|reauth|session|token|api|case|intake|location|backup|sso)(?:\.[a-z_]+)*)'/g)) {
      if (m[1]!.includes('.') || m[1] === 'logout') actions.add(m[1]!);
    }
  }
  return [...actions].sort();
}

describe('describeEntry: one sentence per action Haven records', () => {
  test('sign-in, failures and sign-out', () => {
    expect(by('ada', 'login.success', 'ada', { next: 'full', knownDevice: false })).toBe('ada signed in (new device)');
    expect(by('ada', 'login.success', 'ada', { next: 'full', knownDevice: true })).toBe('ada signed in');
    expect(by('ada', 'login.success', 'ada', { next: 'mfa', knownDevice: true, codeNotSent: 'too_soon' })).toBe('ada signed in (second factor next, e-mail code not sent: too soon)');
    expect(by('ada', 'login.success', 'ada', { next: 'password_change', knownDevice: true, passwordRehashed: true })).toBe('ada signed in (must change password, password hash upgraded)');
    expect(by('bob', 'login.failure', 'bob', { reason: 'wrong_password' })).toBe('login failed for bob: wrong password');
    expect(describeEntry(entry('login.failure', { target: 'nobody', details: { reason: 'unknown_login' } }))).toBe('login failed for nobody: no such login');
    expect(by('bob', 'login.failure', 'bob', { reason: 'login_inactive' })).toBe('login failed for bob: account not active');
    expect(by('bob', 'login.failure', 'bob', { reason: 'no_login_permission' })).toBe('login failed for bob: role may not sign in');
    expect(by('ada', 'logout', 'ada')).toBe('ada signed out');
  });

  test('passwords and setup', () => {
    expect(by('ada', 'password.changed', 'ada')).toBe('ada changed their password');
    expect(by('ada', 'password.change_failure', 'ada')).toBe('ada could not change their password: wrong current password');
    expect(describeEntry(entry('setup.first_administrator', { target: 'root', details: null }))).toBe('first administrator root created with the setup link');
  });

  test('users', () => {
    expect(by('ada', 'user.created', 'pat', { role: 'Paralegal', email: 'pat@example.org' })).toBe('ada created user pat with role Paralegal');
    expect(describeEntry(entry('user.created', { target: 'pat', details: { role: 'Paralegal' } }))).toBe('Haven created user pat with role Paralegal');
    expect(by('ada', 'user.updated', 'pat', { role: { before: 'Paralegal', after: 'Attorney' } })).toBe('ada changed the role of pat from Paralegal to Attorney');
    expect(by('ada', 'user.updated', 'pat', { email: { before: 'a@example.org', after: 'b@example.org' } })).toBe('ada changed the e-mail address of pat from a@example.org to b@example.org');
    expect(by('ada', 'user.updated', 'pat', { password: { before: null, after: 'set by administrator' } })).toBe('ada set a new password for pat');
    expect(by('ada', 'user.updated', 'pat', { role: { before: 'Paralegal', after: 'Attorney' }, loginActive: { before: true, after: false } })).toBe(
      'ada changed pat: role from Paralegal to Attorney; Login Active from yes to no',
    );
    expect(by('ada', 'user.activated', 'pat')).toBe('ada activated pat');
    expect(by('ada', 'user.deactivated', 'pat')).toBe('ada deactivated pat');
  });

  test('roles, settings, reports and mail', () => {
    expect(by('ada', 'role.created', 'Volunteer')).toBe('ada created role Volunteer');
    const change = { before: { internal: ['login_internal', 'intake'], external: [] }, after: { internal: ['audit_view', 'login_internal'], external: [] } };
    expect(by('ada', 'role.permissions_changed', 'Attorney', change)).toBe('ada changed the permissions of Attorney: added Audit log (internal); removed Intake (internal)');
    expect(describeEntry(entry('role.permissions_changed', { target: 'Site Administrator', details: { before: { internal: ['api_access'], external: [] }, after: { internal: [], external: [] }, reason: 'Haven upgrade' } }))).toBe(
      'Haven changed the permissions of Site Administrator: removed API access (internal) (Haven upgrade)',
    );
    expect(describeEntry(entry('settings.changed', { details: { session_timeout_minutes: { before: '90', after: '30' } } }))).toBe('settings changed: session_timeout_minutes 90 → 30');
    expect(by('ada', 'settings.changed', null, { session_timeout_minutes: { before: '90', after: '30' }, mfa_required_roles: { before: '', after: 'Attorney' } })).toBe(
      'ada changed settings: session_timeout_minutes 90 → 30, mfa_required_roles (empty) → Attorney',
    );
    expect(by('ada', 'report.users.export', 'users', { format: 'csv', rows: 12 })).toBe('ada exported the users report (CSV, 12 rows)');
    expect(by('ada', 'report.users.export', 'users', { format: 'csv', rows: 1 })).toBe('ada exported the users report (CSV, 1 row)');
    expect(by('ada', 'mail.retried', '3f1c', { to: 'pat@example.org' })).toBe('ada queued a failed message to pat@example.org again');
    expect(by('ada', 'mail.test_sent', 'ada@example.org')).toBe('ada sent a test message to ada@example.org');
  });

  test('MFA and re-authentication', () => {
    expect(by('ada', 'mfa.enabled', 'ada', { method: 'app' })).toBe('ada: MFA enabled (authenticator app)');
    expect(by('ada', 'mfa.enabled', 'ada', { method: 'email' })).toBe('ada: MFA enabled (e-mailed codes)');
    expect(by('ada', 'mfa.disabled', 'ada', { by: 'self' })).toBe('ada: MFA disabled by themselves');
    expect(by('root', 'mfa.disabled', 'ada', { by: 'administrator' })).toBe('ada: MFA disabled by root');
    expect(by('ada', 'mfa.enrolment_started', 'ada', { method: 'passkey' })).toBe('ada started setting up MFA (passkey)');
    expect(by('ada', 'mfa.enrolment_failure', 'ada', { method: 'app' })).toBe('ada could not finish setting up MFA: wrong code (authenticator app)');
    expect(by('root', 'mfa.enrolment_required', 'ada')).toBe('root required ada to set up MFA again at next sign-in');
    expect(by('root', 'mfa.method_changed', 'ada', { method: 'app', enrolAtNextLogin: true })).toBe('root changed the MFA method of ada to authenticator app, to be set up at next sign-in');
    expect(by('ada', 'mfa.email_code_sent', 'ada', { purpose: 'login' })).toBe('sign-in code e-mailed to ada');
    expect(by('ada', 'mfa.email_code_sent', 'ada', { purpose: 'enrol' })).toBe('set-up code e-mailed to ada');
    expect(by('ada', 'mfa.challenge_success', 'ada', { method: 'app', with: 'recovery' })).toBe('ada passed the second factor (recovery code)');
    expect(by('ada', 'mfa.challenge_failure', 'ada', { method: 'app', failures: 3 })).toBe('second factor failed for ada: wrong code (authenticator app, 3 failures in a row)');
    expect(by('ada', 'mfa.challenge_failure', 'ada', { method: 'passkey', reason: 'unknown_credential' })).toBe('second factor failed for ada: passkey not accepted: unknown passkey');
    expect(describeEntry(entry('mfa.code_guessing_warning_sent', { target: 'ada', details: { after: 10 } }))).toBe('ada warned by e-mail of code guessing (10 wrong codes)');
    expect(by('ada', 'mfa.recovery_codes_issued', 'ada')).toBe('new recovery codes issued to ada');
    expect(by('ada', 'mfa.passkey_failure', 'ada', { step: 'registration', error: 'timed out' })).toBe('ada could not register a passkey: timed out');
    expect(by('ada', 'reauth.success', 'ada', { with: 'password' })).toBe('ada confirmed their identity (password)');
    expect(by('ada', 'reauth.password_confirmed', 'ada')).toBe('ada confirmed their password (code next)');
    expect(by('ada', 'reauth.failure', 'ada', { step: 'password' })).toBe('ada could not confirm their identity: wrong password');
    expect(by('ada', 'reauth.failure', 'ada', { method: 'email', failures: 1 })).toBe('ada could not confirm their identity: wrong code (e-mailed codes, 1 failure in a row)');
  });

  test('every action the code records has its own sentence and a choice in the action filter', () => {
    const actions = recordedActions();
    expect(actions.length).toBeGreaterThanOrEqual(30);
    expect(actions).toEqual(expect.arrayContaining(['login.success', 'login.failure', 'logout', 'settings.changed', 'role.permissions_changed', 'mfa.enabled', 'reauth.failure']));
    const choices = AUDIT_ACTION_GROUPS.flatMap((g) => g.choices.map((c) => c.value));
    for (const action of actions) {
      const sentence = describeEntry(entry(action, { actorLogin: 'ada', target: 'pat', details: { unexpected: 'value' } }));
      expect(sentence, action).not.toMatch(new RegExp(`^${action.replace(/\./g, '\\.')}`));
      expect(choices.some((c) => c === action || (c.endsWith('.') && action.startsWith(c))), action).toBe(true);
    }
  });

  test('an unknown action gets its name, who, on whom and the names of its details, never their values', () => {
    const sentence = describeEntry(entry('token.created', { actorLogin: 'ada', target: 'pat', details: { name: 'ci', secret: 'hunter2-do-not-show', nested: { key: 's3cr3t' } } }));
    expect(sentence).toBe('token.created by ada on pat (details: name, secret, nested)');
    expect(sentence).not.toContain('hunter2');
    expect(sentence).not.toContain('s3cr3t');
    expect(sentence).not.toContain('{');
    expect(describeEntry(entry('something.else'))).toBe('something.else');
  });

  test('details of any shape never make it throw: old entries, arrays, strings, nulls', () => {
    const shapes: unknown[] = [null, undefined, 'text', 42, true, [], [1, 2], {}, { before: 'x' }, { before: { internal: 'not a list' }, after: null }, { role: 'Paralegal' }, { role: null }, { reason: 7 }, { method: { nested: true } }];
    const actions = [...recordedActions(), 'unknown.action'];
    for (const action of actions) {
      for (const details of shapes) {
        for (const actorLogin of [null, 'ada']) {
          const sentence = describeEntry(entry(action, { actorLogin, target: null, details }));
          expect(typeof sentence, `${action} ${JSON.stringify(details)}`).toBe('string');
          expect(sentence.length).toBeGreaterThan(0);
          expect(sentence).not.toContain('[object Object]');
          expect(sentence).not.toContain('undefined');
        }
      }
    }
  });
});

describe('filters', () => {
  test('the action filter accepts its choices only', () => {
    for (const ok of ['login.', 'login.failure', 'logout', 'mfa.', 'mfa.enabled', 'role.', 'settings.changed', 'report.', 'mail.']) expect(isAuditActionFilter(ok), ok).toBe(true);
    for (const bad of ['', 'login', 'LOGIN.', 'login.%', "'; DROP TABLE audit_log; --", '__proto__', 'constructor', 'login.failure ']) expect(isAuditActionFilter(bad), bad).toBe(false);
  });

  test('isCalendarDate: days that exist, as YYYY-MM-DD', () => {
    for (const ok of ['2026-01-31', '2024-02-29', '1999-12-31']) expect(isCalendarDate(ok), ok).toBe(true);
    for (const bad of ['2026-13-45', '2026-02-30', '2025-02-29', '2026-1-5', '26-01-01', '2026-01-01T00:00', '0000-01-01', '', 'today', '2026-00-10', '+02026-01-01']) {
      expect(isCalendarDate(bad), bad).toBe(false);
    }
  });

  test('isEntryNumber: a positive safe whole number, digits only', () => {
    for (const ok of ['1', '42', '9007199254740991']) expect(isEntryNumber(ok), ok).toBe(true);
    for (const bad of ['0', '-1', 'abc', '1.5', '01', '1e3', ' 1', '9007199254740993', '99999999999999999', '']) expect(isEntryNumber(bad), bad).toBe(false);
    expect(isEntryNumber('0', { zero: true })).toBe(true);
    expect(isEntryNumber('7', { zero: true })).toBe(true);
    for (const bad of ['00', '-0', '', 'x']) expect(isEntryNumber(bad, { zero: true }), bad).toBe(false);
  });

  test('auditPageHref keeps the set filters and one cursor, encoded', () => {
    expect(auditPageHref({})).toBe('/admin/audit');
    expect(auditPageHref({ user: 'ada', action: 'login.', from: '2026-01-01', to: '2026-01-31' }, { before: 120 })).toBe(
      '/admin/audit?user=ada&action=login.&from=2026-01-01&to=2026-01-31&before=120',
    );
    expect(auditPageHref({ user: 'Pro Bono & co' }, { after: 7 })).toBe('/admin/audit?user=Pro+Bono+%26+co&after=7');
  });
});

describe('detailLines', () => {
  test('nested keys with dots, sorted with before ahead of after; lists with commas; exact values', () => {
    expect(detailLines({ reason: 'x', after: { internal: ['intake'] }, before: { internal: ['intake', 'login_internal'], external: [] }, n: 3, ok: true, none: null, empty: '' })).toEqual([
      ['before.external', '(none)'],
      ['before.internal', 'intake, login_internal'],
      ['after.internal', 'intake'],
      ['empty', '(empty)'],
      ['n', '3'],
      ['none', '(none)'],
      ['ok', 'true'],
      ['reason', 'x'],
    ]);
    expect(detailLines(null)).toEqual([]);
    expect(detailLines('text')).toEqual([['value', 'text']]);
    expect(detailLines([{ a: 1 }])).toEqual([['0.a', '1']]);
  });
});
