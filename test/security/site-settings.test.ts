import { describe, expect, test } from 'vitest';
import {
  decodeSiteSettings,
  defaultSiteSettings,
  describeSettingValue,
  passwordRuleSummary,
  isSettingKey,
  NUMBER_SETTING_KEYS,
  SETTING_KEYS,
  SETTING_SECTIONS,
  SITE_SETTINGS,
  validateSettings,
  type SettingKey,
} from '../../src/security/site-settings.ts';

describe('definitions', () => {
  test('the DESIGN settings exist with their DESIGN defaults', () => {
    expect(defaultSiteSettings()).toMatchObject({
      password_min_length: 8,
      password_expiration_days: 0,
      session_timeout_minutes: 90,
      session_max_hours: 12,
      mfa_enabled: true,
      mfa_methods: ['email', 'app', 'passkey'],
      mfa_required_roles: [],
    });
  });

  test('every key has a definition whose key, label, help and section are filled', () => {
    for (const key of SETTING_KEYS) {
      const def = SITE_SETTINGS[key];
      expect(def.key).toBe(key);
      expect(def.label.length).toBeGreaterThan(0);
      expect(def.help.length).toBeGreaterThan(0);
      expect(SETTING_SECTIONS).toContain(def.section);
    }
    expect(Object.keys(SITE_SETTINGS).sort()).toEqual([...SETTING_KEYS].sort());
  });

  test('every default value parses to itself', () => {
    for (const key of SETTING_KEYS) {
      expect(SITE_SETTINGS[key].parse(SITE_SETTINGS[key].defaultValue)).toEqual({ ok: true, value: SITE_SETTINGS[key].defaultValue });
    }
  });

  test('isSettingKey', () => {
    for (const key of SETTING_KEYS) expect(isSettingKey(key)).toBe(true);
    for (const bad of ['', 'nope', 'PASSWORD_MIN_LENGTH', ' password_min_length', '__proto__', 'constructor', 'toString', 'length'])
      expect(isSettingKey(bad)).toBe(false);
  });

  test('defaultSiteSettings returns a fresh object each time', () => {
    const a = defaultSiteSettings();
    a.password_min_length = 99;
    expect(defaultSiteSettings().password_min_length).toBe(8);
  });
});

describe('validateSettings', () => {
  test('accepts the defaults as submitted by the form', () => {
    const submitted = Object.fromEntries(SETTING_KEYS.map((k) => [k, SITE_SETTINGS[k].defaultValue]));
    const result = validateSettings(submitted, { roleNames: ['Site Administrator'] });
    expect(result.errors).toEqual({});
    expect(result.values).toEqual(submitted);
  });

  test('an empty submission is valid and changes nothing', () => {
    expect(validateSettings({})).toEqual({ values: {}, errors: {} });
  });

  test('normalises whitespace and leading zeros', () => {
    expect(validateSettings({ password_min_length: ' 12 ' }).values).toEqual({ password_min_length: '12' });
    expect(validateSettings({ session_timeout_minutes: '0090' }).values).toEqual({ session_timeout_minutes: '90' });
  });

  test('refuses an unknown key with a message naming it', () => {
    const result = validateSettings({ no_such_setting: '1' });
    expect(result.values).toEqual({});
    expect(result.errors._unknown).toMatch(/no_such_setting/);
  });

  test('an unknown key beside valid ones still makes the submission invalid', () => {
    const result = validateSettings({ password_min_length: '12', no_such_setting: '1' });
    expect(Object.keys(result.errors)).toEqual(['_unknown']);
  });

  test('prototype-ish keys are unknown, not crashes', () => {
    const submitted = JSON.parse('{"__proto__": "1", "constructor": "2"}') as Record<string, string>;
    const result = validateSettings(submitted);
    expect(result.errors._unknown).toBeDefined();
    expect(result.values).toEqual({});
  });

  test.each(['', ' ', 'abc', '8.5', '8.0', '-8', '+8', '1e1', '0x10', 'NaN', 'Infinity', '8 9', '８', '١٢', '12abc', 'twelve'])(
    'non-numeric or non-integer %j is refused for every numeric setting',
    (raw) => {
      for (const key of NUMBER_SETTING_KEYS) {
        const result = validateSettings({ [key]: raw });
        expect(result.values, `${key}=${raw}`).toEqual({});
        expect(result.errors[key], `${key}=${raw}`).toMatch(/whole number/i);
      }
    },
  );

  const bounds: [SettingKey, number, number][] = [
    ['password_min_length', 8, 64],
    ['password_expiration_days', 0, 3650],
    ['session_timeout_minutes', 6, 1440],
    ['session_max_hours', 1, 168],
  ];

  test.each(bounds)('%s accepts exactly %i..%i', (key, min, max) => {
    expect(validateSettings({ [key]: String(min) })).toEqual({ values: { [key]: String(min) }, errors: {} });
    expect(validateSettings({ [key]: String(max) })).toEqual({ values: { [key]: String(max) }, errors: {} });
    for (const out of [min - 1, max + 1, max * 1000]) {
      if (out < 0) continue;
      const result = validateSettings({ [key]: String(out) });
      expect(result.values, `${key}=${out}`).toEqual({});
      expect(result.errors[key], `${key}=${out}`).toBe(`Must be a whole number from ${min} to ${max}.`);
    }
  });

  test('password_min_length: 8..64 as DESIGN says (the reference suggestion of 12 fits)', () => {
    expect(validateSettings({ password_min_length: '7' }).errors.password_min_length).toMatch(/8 to 64/);
    expect(validateSettings({ password_min_length: '65' }).errors.password_min_length).toMatch(/8 to 64/);
    expect(validateSettings({ password_min_length: '12' }).values.password_min_length).toBe('12');
  });

  test('password_expiration_days: 0 (off) is allowed', () => {
    expect(validateSettings({ password_expiration_days: '0' }).values.password_expiration_days).toBe('0');
  });

  test('session_timeout_minutes: leaves room for the five-minute warning', () => {
    expect(validateSettings({ session_timeout_minutes: '5' }).errors.session_timeout_minutes).toBeDefined();
    expect(validateSettings({ session_timeout_minutes: '0' }).errors.session_timeout_minutes).toBeDefined();
    expect(validateSettings({ session_timeout_minutes: '90' }).values.session_timeout_minutes).toBe('90');
  });

  test('a huge number is refused, not wrapped', () => {
    const result = validateSettings({ session_max_hours: '9'.repeat(400) });
    expect(result.errors.session_max_hours).toBeDefined();
    expect(result.values).toEqual({});
  });

  test('valid and invalid fields are reported together', () => {
    const result = validateSettings({ password_min_length: '12', session_timeout_minutes: 'soon', session_max_hours: '0' });
    expect(result.values).toEqual({ password_min_length: '12' });
    expect(Object.keys(result.errors).sort()).toEqual(['session_max_hours', 'session_timeout_minutes']);
  });
});

describe('MFA settings (DESIGN §1.3)', () => {
  const roles = { roleNames: ['Site Administrator', 'Attorney', 'API Client'] };

  test.each([
    ['true', 'true'],
    [' FALSE ', 'false'],
  ])('mfa_enabled %j is stored as %j', (raw, value) => {
    expect(validateSettings({ mfa_enabled: raw })).toEqual({ values: { mfa_enabled: value }, errors: {} });
  });

  test.each(['', 'yes', '1', 'on', 'truthy'])('mfa_enabled %j is refused', (raw) => {
    expect(validateSettings({ mfa_enabled: raw }).errors.mfa_enabled).toBe('Must be true or false.');
  });

  test('mfa_methods: a comma list of email, app, passkey, stored in catalogue order without duplicates', () => {
    expect(validateSettings({ mfa_methods: 'passkey, APP,app' }).values.mfa_methods).toBe('app,passkey');
    expect(validateSettings({ mfa_methods: 'email' }).values.mfa_methods).toBe('email');
  });

  test.each([
    ['sms', /Unknown method "sms"/],
    ['email,voice', /Unknown method "voice"/],
    ['', /at least one/],
    [' , ', /at least one/],
  ])('mfa_methods %j is refused', (raw, message) => {
    expect(validateSettings({ mfa_methods: raw }).errors.mfa_methods).toMatch(message);
  });

  test('mfa_required_roles: existing role names, matched without regard to case, stored as named', () => {
    expect(validateSettings({ mfa_required_roles: 'site administrator, Attorney' }, roles).values.mfa_required_roles).toBe('Site Administrator,Attorney');
    expect(validateSettings({ mfa_required_roles: '' }, roles).values.mfa_required_roles).toBe('');
  });

  test('mfa_required_roles: an unknown role is refused by name', () => {
    expect(validateSettings({ mfa_required_roles: 'Attorney, Wizard' }, roles).errors.mfa_required_roles).toBe('No role is named "Wizard".');
  });

  test('MFA cannot be required while it is disabled, whether the change comes alone or together', () => {
    expect(validateSettings({ mfa_enabled: 'false', mfa_required_roles: 'Attorney' }, roles).errors.mfa_required_roles).toMatch(/not enabled/);
    expect(validateSettings({ mfa_enabled: 'false' }, roles, { mfa_required_roles: 'Attorney' }).errors.mfa_required_roles).toMatch(/not enabled/);
    expect(validateSettings({ mfa_required_roles: 'Attorney' }, roles, { mfa_enabled: 'false' }).errors.mfa_required_roles).toMatch(/not enabled/);
    expect(validateSettings({ mfa_enabled: 'false', mfa_required_roles: '' }, roles, { mfa_required_roles: 'Attorney' }).errors).toEqual({});
  });

  test('decodeSiteSettings types the stored texts', () => {
    expect(decodeSiteSettings({ mfa_enabled: 'false', mfa_methods: 'app', mfa_required_roles: 'Attorney,Site Administrator' })).toMatchObject({
      mfa_enabled: false,
      mfa_methods: ['app'],
      mfa_required_roles: ['Attorney', 'Site Administrator'],
    });
  });
});

describe('controls and help (Admin > Site Settings)', () => {
  test('a number control offers exactly the range its parser accepts, and its help states range and default', () => {
    for (const key of NUMBER_SETTING_KEYS) {
      const def = SITE_SETTINGS[key];
      expect(def.control.kind, key).toBe('number');
      if (def.control.kind !== 'number') continue;
      const { min, max, step, unit } = def.control;
      expect(step).toBe(1);
      expect(unit.length).toBeGreaterThan(0);
      expect(def.parse(String(min)).ok, key).toBe(true);
      expect(def.parse(String(max)).ok, key).toBe(true);
      if (min > 0) expect(def.parse(String(min - 1)).ok, key).toBe(false);
      expect(def.parse(String(max + 1)).ok, key).toBe(false);
      expect(def.help, key).toContain(`From ${min} to ${max} ${unit}`);
      expect(def.help, key).toContain(`Default ${def.defaultValue}.`);
      expect(def.label, key).not.toMatch(/\(/);
    }
    expect(SITE_SETTINGS.session_timeout_minutes.help).toMatch(/^From 6 to 1440 minutes\. Default 90\./);
  });

  test('the MFA settings have a switch, the method checkboxes and the role checkboxes', () => {
    expect(SITE_SETTINGS.mfa_enabled.control).toEqual({ kind: 'switch' });
    expect(SITE_SETTINGS.mfa_methods.control).toEqual({ kind: 'methods' });
    expect(SITE_SETTINGS.mfa_required_roles.control).toEqual({ kind: 'roles' });
  });

  test('the methods message says what to do, from the form and the CLI alike', () => {
    expect(validateSettings({ mfa_methods: '' }).errors.mfa_methods).toBe('Offer at least one method (email, app, passkey).');
  });

  test('describeSettingValue reads a stored text as people do', () => {
    expect(describeSettingValue('session_timeout_minutes', '60')).toBe('60 minutes');
    expect(describeSettingValue('password_min_length', '12')).toBe('12 characters');
    expect(describeSettingValue('mfa_enabled', 'true')).toBe('on');
    expect(describeSettingValue('mfa_enabled', 'false')).toBe('off');
    expect(describeSettingValue('mfa_methods', 'email,passkey')).toBe('E-mail code, Passkey or security key');
    expect(describeSettingValue('mfa_required_roles', '')).toBe('none');
    expect(describeSettingValue('mfa_required_roles', 'Attorney,Paralegal')).toBe('Attorney, Paralegal');
  });
});

describe('passwordRuleSummary', () => {
  test('states the configured minimum and every rule of the policy', () => {
    expect(passwordRuleSummary({ password_min_length: 12 })).toBe(
      'At least 12 characters, with a letter and a digit; not a common password, a word followed by 1, 12, 123 or 1234, your login name or e-mail, or one of your last 5 passwords.',
    );
    expect(passwordRuleSummary(defaultSiteSettings())).toMatch(/^At least 8 characters,/);
    expect(passwordRuleSummary(decodeSiteSettings({ password_min_length: '64' }))).toMatch(/^At least 64 characters,/);
  });
});
