// The site settings administrators change at run time (Admin > Site Settings and
// `haven settings`). Each definition parses a submitted string or says what is wrong with it.

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

export interface SettingDefinition {
  key: SettingKey;
  label: string;
  section: 'Authentication' | 'Sessions';
  help: string;
  defaultValue: string;
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
  if (!items.length) return { ok: false, message: 'Offer at least one method: a comma list of email, app, passkey.' };
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

export const NUMBER_SETTING_KEYS = ['password_min_length', 'password_expiration_days', 'session_timeout_minutes', 'session_max_hours'] as const;

export const SETTING_KEYS = [...NUMBER_SETTING_KEYS, 'mfa_enabled', 'mfa_methods', 'mfa_required_roles'] as const;

export type SettingKey = (typeof SETTING_KEYS)[number];

export const SITE_SETTINGS: Record<SettingKey, SettingDefinition> = {
  password_min_length: {
    key: 'password_min_length',
    label: 'Minimum password length',
    section: 'Authentication',
    help: 'From 8 to 64 characters. NIST SP 800-63B suggests 15 for single-factor accounts.',
    defaultValue: '8',
    parse: integerSetting(8, 64),
  },
  password_expiration_days: {
    key: 'password_expiration_days',
    label: 'Password expiration (days)',
    section: 'Authentication',
    help: '0 turns expiration off. An expired password must be changed at the next login.',
    defaultValue: '0',
    parse: integerSetting(0, 3650),
  },
  session_timeout_minutes: {
    key: 'session_timeout_minutes',
    label: 'Automatic logout after inactivity (minutes)',
    section: 'Sessions',
    help: 'A warning with an "Extend Login" button appears five minutes before.',
    defaultValue: '90',
    parse: integerSetting(6, SESSION_TIMEOUT_MAX_MINUTES),
  },
  session_max_hours: {
    key: 'session_max_hours',
    label: 'Absolute session lifetime (hours)',
    section: 'Sessions',
    help: 'A session ends this long after login, however active it is.',
    defaultValue: '12',
    parse: integerSetting(1, 168),
  },
  mfa_enabled: {
    key: 'mfa_enabled',
    label: 'Multifactor authentication enabled for the site',
    section: 'Authentication',
    help: 'true or false. With false nobody is asked for a code and nobody can enrol; enrolments are kept.',
    defaultValue: 'true',
    parse: booleanSetting,
  },
  mfa_methods: {
    key: 'mfa_methods',
    label: 'MFA methods offered',
    section: 'Authentication',
    help: 'A comma list of email, app (authenticator app), passkey (security key or passkey).',
    defaultValue: 'email,app,passkey',
    parse: mfaMethodsSetting,
  },
  mfa_required_roles: {
    key: 'mfa_required_roles',
    label: 'Roles that require MFA',
    section: 'Authentication',
    help: 'A comma list of role names; their users must enrol before anything else. Roles with API Access are not required (API tokens never pass through MFA).',
    defaultValue: '',
    parse: rolesSetting,
  },
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
