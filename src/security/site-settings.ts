// The site settings administrators change at run time (Admin > Site Settings and
// `haven settings`). Each definition parses a submitted string or says what is wrong with it.

import { PASSWORD_HISTORY_DEPTH } from './password-policy.ts';
import { isProblemCode } from './lsc-codes.ts';

export const MFA_METHODS = ['email', 'app', 'passkey'] as const;
export type MfaMethod = (typeof MFA_METHODS)[number];

export function isMfaMethod(value: string): value is MfaMethod {
  return (MFA_METHODS as readonly string[]).includes(value);
}

/** What a setting's parser may consult besides the raw text: the role names that exist. */
export interface SettingsContext {
  roleNames: string[];
}

type Parsed = { ok: true; value: string } | { ok: false; message: string };

/** The sections of Admin > Site Settings, in the order the page shows them. */
export const SETTING_SECTIONS = ['Passwords', 'Sessions', 'Multifactor authentication', 'Single sign-on', 'Intake and client data', 'Backups'] as const;
export type SettingSection = (typeof SETTING_SECTIONS)[number];

/** The readable names of the MFA methods, as the settings page and the enrolment page offer them. */
export const MFA_METHOD_LABELS: Record<MfaMethod, string> = {
  email: 'E-mail code',
  app: 'Authenticator app',
  passkey: 'Passkey or security key',
};

/**
 * How the settings page edits a setting. Whatever the control, the value on the wire and in
 * the CLI is the same text that `parse` reads (`true`/`false`, a comma list, a whole number).
 */
export type SettingControl =
  | { kind: 'number'; min: number; max: number; step: number; unit: string }
  | { kind: 'switch' }
  | { kind: 'methods' }
  | { kind: 'roles' }
  | { kind: 'choice'; options: readonly { value: string; label: string }[] }
  | { kind: 'text'; placeholder: string };

export interface SettingDefinition {
  key: SettingKey;
  /** A readable name, without its unit (the control shows the unit). */
  label: string;
  section: SettingSection;
  /** One line: what it does, its range and its default. */
  help: string;
  defaultValue: string;
  control: SettingControl;
  /** Parses a submitted string into its canonical stored form, or says what is wrong with it. */
  parse(raw: string, context?: SettingsContext): Parsed;
}

/** The longest idle timeout an administrator may set: a session idle that long is dead under any setting. */
export const SESSION_TIMEOUT_MAX_MINUTES = 1440;

function integerSetting(min: number, max: number) {
  return (raw: string) => {
    const trimmed = raw.trim();
    if (!/^\d+$/.test(trimmed)) return { ok: false as const, message: `Must be a whole number from ${min} to ${max}.` };
    const n = Number(trimmed);
    if (n < min || n > max) return { ok: false as const, message: `Must be a whole number from ${min} to ${max}.` };
    return { ok: true as const, value: String(n) };
  };
}

/** A whole-number setting: its parser, its control and the range and default in its help, from one source. */
function numberSetting(
  key: SettingKey,
  def: { label: string; section: SettingSection; unit: string; min: number; max: number; defaultValue: number; range?: string; note: string },
): SettingDefinition {
  const range = def.range ?? `From ${def.min} to ${def.max} ${def.unit}. Default ${def.defaultValue}.`;
  return {
    key,
    label: def.label,
    section: def.section,
    help: `${range} ${def.note}`,
    defaultValue: String(def.defaultValue),
    control: { kind: 'number', min: def.min, max: def.max, step: 1, unit: def.unit },
    parse: integerSetting(def.min, def.max),
  };
}

function booleanSetting(raw: string): Parsed {
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === 'false') return { ok: true, value: v };
  return { ok: false, message: 'Must be true or false.' };
}

/** A comma list, split and trimmed; empty items dropped. */
function commaList(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

function mfaMethodsSetting(raw: string): Parsed {
  const items = commaList(raw.toLowerCase());
  const unknown = items.filter((m) => !isMfaMethod(m));
  if (unknown.length) return { ok: false, message: `Unknown method "${unknown[0]}": use a comma list of email, app, passkey.` };
  if (!items.length) return { ok: false, message: 'Offer at least one method (email, app, passkey).' };
  return { ok: true, value: MFA_METHODS.filter((m) => items.includes(m)).join(',') };
}

function rolesSetting(raw: string, context?: SettingsContext): Parsed {
  const known = context?.roleNames ?? [];
  const chosen: string[] = [];
  for (const item of commaList(raw)) {
    const match = known.find((name) => name.toLowerCase() === item.toLowerCase());
    if (!match) return { ok: false, message: `No role is named "${item}".` };
    if (!chosen.includes(match)) chosen.push(match);
  }
  return { ok: true, value: chosen.join(',') };
}

export const NUMBER_SETTING_KEYS = ['password_min_length', 'password_expiration_days', 'session_timeout_minutes', 'session_max_hours', 'intake_income_limit_percent', 'document_max_mb', 'backup_retention_days', 'restore_test_interval_days'] as const;

/** Settings edited as one line of text or one choice (a select). */
export const TEXT_SETTING_KEYS = ['sso_allow_account_creation', 'ssn_digits', 'intake_postal_codes', 'intake_problem_codes', 'backup_time'] as const;

export const SETTING_KEYS = [...NUMBER_SETTING_KEYS, 'mfa_enabled', 'mfa_methods', 'mfa_required_roles', ...TEXT_SETTING_KEYS] as const;

const SSN_DIGITS = ['full', 'last4'] as const;

function ssnDigitsSetting(raw: string): Parsed {
  const v = raw.trim().toLowerCase();
  return (SSN_DIGITS as readonly string[]).includes(v) ? { ok: true, value: v } : { ok: false, message: 'Must be full or last4.' };
}

/** Postal codes or their prefixes: letters and digits (UK and Canadian codes too), at most 10 each. */
function postalCodesSetting(raw: string): Parsed {
  const items = commaList(raw.toUpperCase()).map((c) => c.replace(/\s+/g, ''));
  const bad = items.find((c) => !/^[A-Z0-9-]{1,10}$/.test(c));
  if (bad !== undefined) return { ok: false, message: `"${bad}" is not a postal code or prefix: use letters, digits and hyphens, at most 10.` };
  if (items.length > 2000) return { ok: false, message: 'At most 2,000 postal codes or prefixes.' };
  return { ok: true, value: [...new Set(items)].join(',') };
}

function problemCodesSetting(raw: string): Parsed {
  const items = commaList(raw);
  const bad = items.find((c) => !isProblemCode(c));
  if (bad !== undefined) return { ok: false, message: `"${bad}" is not an LSC problem code (two digits, such as 63 for Private Landlord/Tenant).` };
  return { ok: true, value: [...new Set(items)].sort().join(',') };
}

/** A time of day, `HH:MM` on a 24-hour clock (a single-digit hour is accepted and padded). */
function timeOfDaySetting(raw: string): Parsed {
  const m = /^(\d{1,2}):(\d{2})$/.exec(raw.trim());
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) return { ok: false, message: 'Must be a time of day as HH:MM on a 24-hour clock, such as 02:00.' };
  return { ok: true, value: `${m[1]!.padStart(2, '0')}:${m[2]}` };
}

export type SettingKey = (typeof SETTING_KEYS)[number];

export const SITE_SETTINGS: Record<SettingKey, SettingDefinition> = {
  password_min_length: numberSetting('password_min_length', {
    label: 'Minimum password length',
    section: 'Passwords',
    unit: 'characters',
    min: 8,
    max: 64,
    defaultValue: 8,
    note: 'NIST SP 800-63B suggests 15 for accounts without MFA.',
  }),
  password_expiration_days: numberSetting('password_expiration_days', {
    label: 'Password expiration',
    section: 'Passwords',
    unit: 'days',
    min: 0,
    max: 3650,
    defaultValue: 0,
    range: 'From 0 to 3650 days; 0 turns expiration off. Default 0.',
    note: 'An expired password must be changed at the next login.',
  }),
  session_timeout_minutes: numberSetting('session_timeout_minutes', {
    label: 'Automatic logout after inactivity',
    section: 'Sessions',
    unit: 'minutes',
    min: 6,
    max: SESSION_TIMEOUT_MAX_MINUTES,
    defaultValue: 90,
    note: 'A warning with an "Extend Login" button appears five minutes before.',
  }),
  session_max_hours: numberSetting('session_max_hours', {
    label: 'Absolute session lifetime',
    section: 'Sessions',
    unit: 'hours',
    min: 1,
    max: 168,
    defaultValue: 12,
    note: 'A session ends this long after login, however active it is.',
  }),
  mfa_enabled: {
    key: 'mfa_enabled',
    label: 'Multifactor authentication for the site',
    section: 'Multifactor authentication',
    help: 'When off, nobody is asked for a code and nobody can enrol; enrolments are kept. Default on (true).',
    defaultValue: 'true',
    control: { kind: 'switch' },
    parse: booleanSetting,
  },
  mfa_methods: {
    key: 'mfa_methods',
    label: 'Methods offered',
    section: 'Multifactor authentication',
    help: 'What users may choose when they enrol; at least one. Default all three.',
    defaultValue: 'email,app,passkey',
    control: { kind: 'methods' },
    parse: mfaMethodsSetting,
  },
  mfa_required_roles: {
    key: 'mfa_required_roles',
    label: 'Roles that must use MFA',
    section: 'Multifactor authentication',
    help: 'Their users must enrol before anything else. Roles with API Access are exempt (API tokens never pass through MFA). Default none.',
    defaultValue: '',
    control: { kind: 'roles' },
    parse: rolesSetting,
  },
  sso_allow_account_creation: {
    key: 'sso_allow_account_creation',
    label: 'Accounts created by single sign-on',
    section: 'Single sign-on',
    help: 'When allowed, a person a provider vouches for (with a verified e-mail no account has) gets an account of the role chosen for that provider on Admin > Single Sign On. Default not allowed (false).',
    defaultValue: 'false',
    control: {
      kind: 'choice',
      options: [
        { value: 'false', label: 'Not allowed: accounts are made by administrators' },
        { value: 'true', label: "Allowed, for providers with a role for new accounts" },
      ],
    },
    parse: booleanSetting,
  },
  ssn_digits: {
    key: 'ssn_digits',
    label: 'Social Security numbers kept',
    section: 'Intake and client data',
    help: 'With "last four digits only", nobody can enter or store a full number anywhere. Default full.',
    defaultValue: 'full',
    control: {
      kind: 'choice',
      options: [
        { value: 'full', label: 'Full numbers (shown masked except to roles that may see them)' },
        { value: 'last4', label: 'Last four digits only' },
      ],
    },
    parse: ssnDigitsSetting,
  },
  intake_postal_codes: {
    key: 'intake_postal_codes',
    label: 'Service area (postal codes)',
    section: 'Intake and client data',
    help: 'A comma list of postal codes or their beginnings (e.g. 021, 02139); applicants from elsewhere are referred out at the first stage. Empty: everywhere.',
    defaultValue: '',
    control: { kind: 'text', placeholder: 'e.g. 021, 02139, 024' },
    parse: postalCodesSetting,
  },
  intake_problem_codes: {
    key: 'intake_problem_codes',
    label: 'Problems handled (LSC problem codes)',
    section: 'Intake and client data',
    help: 'A comma list of LSC Case Service Report problem codes (e.g. 63, 64, 67); other problems are referred out at the first stage. Empty: all.',
    defaultValue: '',
    control: { kind: 'text', placeholder: 'e.g. 31, 37, 63, 64' },
    parse: problemCodesSetting,
  },
  intake_income_limit_percent: numberSetting('intake_income_limit_percent', {
    label: 'Income limit',
    section: 'Intake and client data',
    unit: '% of the poverty guideline',
    min: 1,
    max: 1000,
    defaultValue: 125,
    note: 'Applicants whose household income is above it are referred out, unless a worker who may override records a reason.',
  }),
  document_max_mb: numberSetting('document_max_mb', {
    label: 'Largest case document',
    section: 'Intake and client data',
    unit: 'MB',
    min: 1,
    max: 200,
    defaultValue: 25,
    note: 'A larger upload, or e-mail attachment, is refused before it is stored.',
  }),
  backup_time: {
    key: 'backup_time',
    label: 'Nightly backup at',
    section: 'Backups',
    help: "HH:MM on a 24-hour clock, in the server's time zone. Default 02:00.",
    defaultValue: '02:00',
    control: { kind: 'text', placeholder: '02:00' },
    parse: timeOfDaySetting,
  },
  backup_retention_days: numberSetting('backup_retention_days', {
    label: 'Keep backups for',
    section: 'Backups',
    unit: 'days',
    min: 14,
    max: 3650,
    defaultValue: 14,
    note: 'Older backups are deleted, but never the newest one that passed a restore test.',
  }),
  restore_test_interval_days: numberSetting('restore_test_interval_days', {
    label: 'Restore test every',
    section: 'Backups',
    unit: 'days',
    min: 1,
    max: 90,
    defaultValue: 7,
    note: 'The newest backup is restored into a scratch database and checked; a failure e-mails the administrators.',
  }),
};

export function isSettingKey(key: string): key is SettingKey {
  return (SETTING_KEYS as readonly string[]).includes(key);
}

export interface SiteSettings {
  password_min_length: number;
  password_expiration_days: number;
  session_timeout_minutes: number;
  session_max_hours: number;
  mfa_enabled: boolean;
  mfa_methods: MfaMethod[];
  mfa_required_roles: string[];
  ssn_digits: 'full' | 'last4';
  sso_allow_account_creation: boolean;
  intake_postal_codes: string[];
  intake_problem_codes: string[];
  intake_income_limit_percent: number;
  document_max_mb: number;
  backup_time: string;
  backup_retention_days: number;
  restore_test_interval_days: number;
}

/** Typed settings from their stored (canonical string) values; absent keys take the defaults. */
export function decodeSiteSettings(stored: Partial<Record<SettingKey, string>>): SiteSettings {
  const raw = (k: SettingKey) => stored[k] ?? SITE_SETTINGS[k].defaultValue;
  return {
    password_min_length: Number(raw('password_min_length')),
    password_expiration_days: Number(raw('password_expiration_days')),
    session_timeout_minutes: Number(raw('session_timeout_minutes')),
    session_max_hours: Number(raw('session_max_hours')),
    mfa_enabled: raw('mfa_enabled') === 'true',
    mfa_methods: commaList(raw('mfa_methods')).filter(isMfaMethod),
    mfa_required_roles: commaList(raw('mfa_required_roles')),
    ssn_digits: raw('ssn_digits') === 'last4' ? 'last4' : 'full',
    sso_allow_account_creation: raw('sso_allow_account_creation') === 'true',
    intake_postal_codes: commaList(raw('intake_postal_codes')),
    intake_problem_codes: commaList(raw('intake_problem_codes')),
    intake_income_limit_percent: Number(raw('intake_income_limit_percent')),
    document_max_mb: Number(raw('document_max_mb')),
    backup_time: raw('backup_time'),
    backup_retention_days: Number(raw('backup_retention_days')),
    restore_test_interval_days: Number(raw('restore_test_interval_days')),
  };
}

export function defaultSiteSettings(): SiteSettings {
  return decodeSiteSettings({});
}

export interface SettingsValidation {
  values: Partial<Record<SettingKey, string>>;
  errors: Partial<Record<SettingKey | '_unknown', string>>;
}

/**
 * Validates a whole submission; nothing may be saved unless `errors` is empty. `current` (the
 * stored values) lets rules that span settings see the result of the change as a whole.
 */
export function validateSettings(
  submitted: Record<string, string>,
  context?: SettingsContext,
  current: Partial<Record<SettingKey, string>> = {},
): SettingsValidation {
  const result: SettingsValidation = { values: {}, errors: {} };
  for (const [key, raw] of Object.entries(submitted)) {
    if (!isSettingKey(key)) {
      result.errors._unknown = `Unknown setting "${key}".`;
      continue;
    }
    const parsed = SITE_SETTINGS[key].parse(raw, context);
    if (parsed.ok) result.values[key] = parsed.value;
    else result.errors[key] = parsed.message;
  }
  if (!Object.keys(result.errors).length) {
    const after = decodeSiteSettings({ ...current, ...result.values });
    if (after.mfa_required_roles.length && !after.mfa_enabled) {
      result.errors.mfa_required_roles = 'MFA cannot be required while it is not enabled for the site (mfa_enabled=false).';
    }
  }
  return result;
}

/**
 * The password rules as one sentence for people choosing a password, with the site's actual
 * minimum length, e.g. "At least 12 characters, with a letter and a digit; …". Password forms
 * show it beside the new-password field; Admin > Site Settings previews it.
 */
export function passwordRuleSummary(settings: Pick<SiteSettings, 'password_min_length'>): string {
  return (
    `At least ${settings.password_min_length} characters, with a letter and a digit; ` +
    'not a common password, a word followed by 1, 12, 123 or 1234, your login name or e-mail, ' +
    `or one of your last ${PASSWORD_HISTORY_DEPTH} passwords.`
  );
}

/** A stored setting text as people read it: "90 minutes", "on", "E-mail code, Passkey or security key", "none". */
export function describeSettingValue(key: SettingKey, text: string): string {
  const control = SITE_SETTINGS[key].control;
  switch (control.kind) {
    case 'number':
      return `${text} ${control.unit}`;
    case 'switch':
      return text === 'true' ? 'on' : text === 'false' ? 'off' : text;
    case 'methods': {
      const items = commaList(text);
      return items.length ? items.map((m) => (isMfaMethod(m) ? MFA_METHOD_LABELS[m] : m)).join(', ') : 'none';
    }
    case 'roles': {
      const items = commaList(text);
      return items.length ? items.join(', ') : 'none';
    }
    case 'choice':
      return control.options.find((o) => o.value === text)?.label ?? text;
    case 'text':
      return text || 'none (all)';
  }
}
