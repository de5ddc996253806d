// The wire format of the Admin > Site Settings form (src/settings/form.ts), without a server:
// what each submission asks the service to set.
import { describe, expect, test } from 'vitest';
import { settingErrors, settingsForm, submittedSettings, submittedSettingsLoosely } from '../../src/settings/form.ts';
import { parseUrlEncoded } from '../../src/web/input.ts';

function submit(body: string) {
  const parsed = settingsForm.safeParse(parseUrlEncoded(body));
  if (!parsed.success) throw new Error(JSON.stringify(parsed.error.issues));
  return submittedSettings(parsed.data);
}

const SHOWN = 'shown=mfa_enabled&shown=mfa_methods&shown=mfa_required_roles';

describe('settings form body → settings texts', () => {
  test('the whole form as a browser sends it, every box checked', () => {
    expect(
      submit(`_csrf=t&password_min_length=12&password_expiration_days=0&session_timeout_minutes=90&session_max_hours=12&${SHOWN}&mfa_enabled=true&mfa_methods=email&mfa_methods=app&mfa_required_roles=Attorney&mfa_required_roles=Paralegal`),
    ).toEqual({
      password_min_length: '12',
      password_expiration_days: '0',
      session_timeout_minutes: '90',
      session_max_hours: '12',
      mfa_enabled: 'true',
      mfa_methods: 'email,app',
      mfa_required_roles: 'Attorney,Paralegal',
    });
  });

  test('a shown group with nothing checked is off or empty', () => {
    expect(submit(SHOWN)).toEqual({ mfa_enabled: 'false', mfa_methods: '', mfa_required_roles: '' });
  });

  test('a group neither sent nor shown is left out (its setting keeps its value)', () => {
    expect(submit('session_timeout_minutes=60')).toEqual({ session_timeout_minutes: '60' });
    expect(submit('')).toEqual({});
  });

  test('the CLI text forms mean the same on the wire', () => {
    expect(submit('mfa_enabled=false&mfa_methods=email,app&mfa_required_roles=')).toEqual({ mfa_enabled: 'false', mfa_methods: 'email,app', mfa_required_roles: '' });
  });

  test('an empty number is sent on to be refused, not dropped', () => {
    expect(submit('session_max_hours=')).toEqual({ session_max_hours: '' });
  });

  test('the schema refuses a switch value other than true/false, a number sent twice and an unknown group in shown', () => {
    for (const body of ['mfa_enabled=on', 'mfa_enabled=true&mfa_enabled=true', 'session_max_hours=1&session_max_hours=2', 'shown=password_min_length', 'shown=__proto__']) {
      expect(settingsForm.safeParse(parseUrlEncoded(body)).success, body).toBe(false);
    }
  });

  test('a refused body is still read for showing the form again; only text counts', () => {
    expect(submittedSettingsLoosely(parseUrlEncoded(`${SHOWN}&mfa_enabled=maybe&mfa_methods=app&session_max_hours=0`))).toEqual({
      mfa_enabled: 'maybe',
      mfa_methods: 'app',
      mfa_required_roles: '',
      session_max_hours: '0',
    });
    expect(submittedSettingsLoosely(undefined)).toEqual({});
    expect(submittedSettingsLoosely({ session_max_hours: ['1', '2'], mfa_methods: [1, 2] })).toEqual({});
  });

  test('schema errors are filed under their setting; others under _form', () => {
    expect(settingErrors({ 'mfa_methods.2': 'Must be on one line.', session_max_hours: 'Sent more than once.', 'shown.0': 'Invalid option', _input: 'x' })).toEqual({
      mfa_methods: 'Must be on one line.',
      session_max_hours: 'Sent more than once.',
      _form: 'Invalid option',
    });
  });
});
