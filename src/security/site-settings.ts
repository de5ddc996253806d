// The site settings administrators change at run time (Admin > Site Settings and
// `haven settings`). Each definition parses a submitted string or says what is wrong with it.

export type SettingValue = number;

export interface SettingDefinition {
  key: SettingKey;
  label: string;
  section: 'Authentication' | 'Sessions';
  help: string;
  defaultValue: string;
  parse(raw: string): { ok: true; value: string } | { ok: false; message: string };
}

function integerSetting(min: number, max: number) {
  return (raw: string) => {
    const trimmed = raw.trim();
    if (!/^\d+$/.test(trimmed)) return { ok: false as const, message: `Must be a whole number from ${min} to ${max}.` };
    const n = Number(trimmed);
    if (n < min || n > max) return { ok: false as const, message: `Must be a whole number from ${min} to ${max}.` };
    return { ok: true as const, value: String(n) };
  };
}

export const SETTING_KEYS = [
  'password_min_length',
  'password_expiration_days',
  'session_timeout_minutes',
  'session_max_hours',
] as const;

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
    parse: integerSetting(6, 1440),
  },
  session_max_hours: {
    key: 'session_max_hours',
    label: 'Absolute session lifetime (hours)',
    section: 'Sessions',
    help: 'A session ends this long after login, however active it is.',
    defaultValue: '12',
    parse: integerSetting(1, 168),
  },
};

export function isSettingKey(key: string): key is SettingKey {
  return (SETTING_KEYS as readonly string[]).includes(key);
}

export type SiteSettings = Record<SettingKey, number>;

export function defaultSiteSettings(): SiteSettings {
  return Object.fromEntries(SETTING_KEYS.map((k) => [k, Number(SITE_SETTINGS[k].defaultValue)])) as SiteSettings;
}

export interface SettingsValidation {
  values: Partial<Record<SettingKey, string>>;
  errors: Partial<Record<SettingKey | '_unknown', string>>;
}

/** Validates a whole submission; nothing may be saved unless `errors` is empty. */
export function validateSettings(submitted: Record<string, string>): SettingsValidation {
  const result: SettingsValidation = { values: {}, errors: {} };
  for (const [key, raw] of Object.entries(submitted)) {
    if (!isSettingKey(key)) {
      result.errors._unknown = `Unknown setting "${key}".`;
      continue;
    }
    const parsed = SITE_SETTINGS[key].parse(raw);
    if (parsed.ok) result.values[key] = parsed.value;
    else result.errors[key] = parsed.message;
  }
  return result;
}
