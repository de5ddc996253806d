// The wire format of the Admin > Site Settings form, and its translation into the texts that
// `updateSiteSettings` (and `haven settings set`) read. The form is plain HTML; it needs no
// JavaScript.
//
//   number and text      one field each, named by its key: `session_timeout_minutes=90`,
//   settings             `ssn_digits=last4`, `intake_postal_codes=021,02139`.
//   mfa_enabled          a checkbox (a switch) whose value is `true`; `false` is accepted too.
//   mfa_methods,         checkbox groups: one field per checked box, repeated
//   mfa_required_roles   (`mfa_methods=email&mfa_methods=app`). A single comma list means the
//                        same (`mfa_methods=email,app`), as in the CLI.
//   shown                one hidden field per checkbox setting the form showed
//                        (`shown=mfa_enabled&shown=mfa_methods&shown=mfa_required_roles`).
//
// Browsers send nothing for an unchecked box. So a setting named in `shown` and not sent is
// turned off (`false`) or emptied (''), and a setting neither sent nor shown keeps its value:
// a client that leaves a whole group out (an older form, a script posting one field) changes
// nothing there. Validation is the service's, all or nothing, with the CLI's messages.
import { z } from 'zod';
import { form, line, list } from '../web/input.ts';
import { isSettingKey, NUMBER_SETTING_KEYS, TEXT_SETTING_KEYS, type SettingKey } from '../security/site-settings.ts';

/** The settings edited with checkboxes, which the form names in `shown`. */
export const CHECKBOX_SETTING_KEYS = ['mfa_enabled', 'mfa_methods', 'mfa_required_roles'] as const;
type CheckboxSettingKey = (typeof CHECKBOX_SETTING_KEYS)[number];

const LIST_SETTING_KEYS = ['mfa_methods', 'mfa_required_roles'] as const;

// A number is text on the wire; the service says what is wrong with it (the CLI's words).
const numberField = () => line(1000).optional();

const shownField = z
  .union([z.enum(CHECKBOX_SETTING_KEYS), z.array(z.enum(CHECKBOX_SETTING_KEYS)).max(CHECKBOX_SETTING_KEYS.length * 2, 'Sent too many times.')])
  .optional()
  .transform((v): CheckboxSettingKey[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]));

export const settingsForm = form({
  ...(Object.fromEntries(NUMBER_SETTING_KEYS.map((k) => [k, numberField()])) as Record<(typeof NUMBER_SETTING_KEYS)[number], ReturnType<typeof numberField>>),
  ...(Object.fromEntries(TEXT_SETTING_KEYS.map((k) => [k, line(20_000).optional()])) as Record<(typeof TEXT_SETTING_KEYS)[number], ReturnType<typeof numberField>>),
  mfa_enabled: z.enum(['true', 'false'], { error: 'Must be true (on) or false (off).' }).optional(),
  mfa_methods: list(200, 20),
  // A role name is at most 80 characters; an item may also be a whole comma list (1000).
  mfa_required_roles: list(1000, 100),
  shown: shownField,
});

export type SettingsFormBody = z.output<typeof settingsForm>;

/** The values of one field: absent (undefined), or one or more texts. */
type Read = (name: string) => readonly string[] | undefined;

function collect(read: Read): Record<string, string> {
  const shown = read('shown') ?? [];
  const submitted: Record<string, string> = {};
  for (const key of [...NUMBER_SETTING_KEYS, ...TEXT_SETTING_KEYS]) {
    const v = read(key);
    if (v?.length === 1) submitted[key] = v[0]!;
  }
  const enabled = read('mfa_enabled');
  if (enabled?.length === 1) submitted.mfa_enabled = enabled[0]!;
  else if (!enabled?.length && shown.includes('mfa_enabled')) submitted.mfa_enabled = 'false';
  for (const key of LIST_SETTING_KEYS) {
    const v = read(key);
    if (v?.length) submitted[key] = v.join(',');
    else if (shown.includes(key)) submitted[key] = '';
  }
  return submitted;
}

/** A validated form body as the settings texts it submits (only the settings it changes or sets). */
export function submittedSettings(body: SettingsFormBody): Record<string, string> {
  return collect((name) => {
    const value = (body as Record<string, unknown>)[name];
    if (value === undefined) return undefined;
    return Array.isArray(value) ? (value as string[]) : [value as string];
  });
}

/**
 * A body the route schema refused, read as well as it can be (to show the form again with
 * what was typed): only text values count.
 */
export function submittedSettingsLoosely(body: unknown): Record<string, string> {
  const fields = (body ?? {}) as Record<string, unknown>;
  return collect((name) => {
    if (!Object.hasOwn(fields, name)) return undefined;
    const value = fields[name];
    if (typeof value === 'string') return [value];
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
    return undefined;
  });
}

/**
 * The route schema's field errors under the setting they belong to (`mfa_methods.2` →
 * `mfa_methods`); errors of no setting (`shown`, the body as a whole) go under `_form`.
 */
export function settingErrors(fieldErrors: Record<string, string>): Partial<Record<SettingKey | '_form', string>> {
  const errors: Partial<Record<SettingKey | '_form', string>> = {};
  for (const [name, message] of Object.entries(fieldErrors)) {
    const key = name.split('.')[0]!;
    errors[isSettingKey(key) ? key : '_form'] ??= message;
  }
  return errors;
}
