import { and, asc, desc, eq, gte } from 'drizzle-orm';
import type { App } from '../context.ts';
import { auditLog, roles, siteSettings } from '../db/schema.ts';
import type { Db } from '../db/client.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { mfaRequirementWarnings } from '../security/mfa.ts';
import { hasPermission } from '../security/permissions.ts';
import { countFullSsns } from '../clients/service.ts';
import { decodeSiteSettings, isSettingKey, SETTING_KEYS, SITE_SETTINGS, validateSettings, type SettingKey, type SiteSettings } from '../security/site-settings.ts';

/** Every setting's canonical text (stored values over the defaults in code), as the CLI and the form show them. */
export async function getSettingTexts(app: App, db: Db = app.db): Promise<Record<SettingKey, string>> {
  const texts = Object.fromEntries(SETTING_KEYS.map((k) => [k, SITE_SETTINGS[k].defaultValue])) as Record<SettingKey, string>;
  for (const row of await db.select().from(siteSettings)) if (isSettingKey(row.key)) texts[row.key] = row.value;
  return texts;
}

/** Every site setting, typed. */
export async function getSiteSettings(app: App, db: Db = app.db): Promise<SiteSettings> {
  return decodeSiteSettings(await getSettingTexts(app, db));
}

export type SettingsUpdate = { ok: true; changed: SettingKey[]; warnings: string[] } | { ok: false; errors: Record<string, string> };

/** What an administrator should know about the settings as they stand (shown with the form, printed by the CLI). */
export async function settingsWarnings(app: App, db: Db = app.db): Promise<string[]> {
  const [settings, allRoles] = await Promise.all([getSiteSettings(app, db), db.select().from(roles)]);
  const warnings = mfaRequirementWarnings(settings, allRoles);
  // The one way to strand users: e-mail offered alone with nowhere to send the codes.
  if (settings.mfa_enabled && settings.mfa_methods.length === 1 && settings.mfa_methods[0] === 'email' && !app.config.smtpUrl) {
    warnings.push(
      'E-mail codes are the only method offered, but no mail server is configured (HAVEN_SMTP_URL): nobody can enrol, and users of roles that require MFA cannot get past enrolment. Offer the authenticator app or passkeys too, or configure mail.',
    );
  }
  warnings.push(...(await ssnWarnings(app, settings)));
  return warnings;
}

/** Full SSNs left behind by a switch to last4: Haven never cuts them by itself (issue 10). */
async function ssnWarnings(app: App, settings: SiteSettings): Promise<string[]> {
  if (settings.ssn_digits !== 'last4') return [];
  const n = await countFullSsns(app);
  if (!n) return [];
  return [
    `${n} ${n === 1 ? 'client still has a full Social Security number' : 'clients still have full Social Security numbers'} stored from before ssn_digits was last4. Haven does not cut them by itself: use "Cut stored SSNs to the last four digits" on Admin > Site Settings, or run "haven ssn truncate".`,
  ];
}

/** A role as the settings form lists it for `mfa_required_roles`. */
export interface SettingsRole {
  name: string;
  /** Its users are not held to MFA whatever the setting says (DESIGN §1.3). */
  apiAccess: boolean;
}

export interface SettingsPageData {
  values: Record<SettingKey, string>;
  roles: SettingsRole[];
  warnings: string[];
  /** Full SSNs still stored while ssn_digits is last4: the page offers to cut them. */
  fullSsnsStored: number;
}

/** Everything Admin > Site Settings shows: the settings, the roles to choose from, the warnings. */
export async function getSettingsPageData(app: App): Promise<SettingsPageData> {
  const [values, allRoles] = await Promise.all([getSettingTexts(app), app.db.select().from(roles).orderBy(asc(roles.name))]);
  const settings = decodeSiteSettings(values);
  return {
    values,
    roles: allRoles.map((r) => ({ name: r.name, apiAccess: hasPermission(r.internalPermissions, 'api_access') || hasPermission(r.externalPermissions, 'api_access') })),
    warnings: [...mfaRequirementWarnings(settings, allRoles), ...(await ssnWarnings(app, settings))],
    fullSsnsStored: settings.ssn_digits === 'last4' ? await countFullSsns(app) : 0,
  };
}

async function validateAgainstSite(app: App, submitted: Record<string, string>) {
  const current = await getSettingTexts(app);
  const roleNames = (await app.db.select({ name: roles.name }).from(roles)).map((r) => r.name);
  return { current, ...validateSettings(submitted, { roleNames }, current) };
}

/** What would be wrong with a submission, saving nothing (to report every problem of a form at once). */
export async function checkSiteSettings(app: App, submitted: Record<string, string>): Promise<Record<string, string>> {
  return (await validateAgainstSite(app, submitted)).errors;
}

/** Validates the whole submission first and saves all of it or none of it. */
export async function updateSiteSettings(app: App, submitted: Record<string, string>, actor: Actor | null, ip: string | null): Promise<SettingsUpdate> {
  const { current, values, errors } = await validateAgainstSite(app, submitted);
  if (Object.keys(errors).length) return { ok: false, errors };
  const changed = (Object.keys(values) as SettingKey[]).filter((k) => String(current[k]) !== values[k]);
  if (!changed.length) return { ok: true, changed, warnings: await settingsWarnings(app) };
  const now = app.clock.now();
  await app.db.transaction(async (tx) => {
    for (const key of changed) {
      await tx
        .insert(siteSettings)
        .values({ key, value: values[key]!, updatedAt: now })
        .onConflictDoUpdate({ target: siteSettings.key, set: { value: values[key]!, updatedAt: now } });
    }
    await recordAudit(
      app,
      {
        action: 'settings.changed',
        actor,
        ip,
        details: Object.fromEntries(changed.map((k) => [k, { before: String(current[k]), after: values[k] }])),
      },
      tx,
    );
  });
  return { ok: true, changed, warnings: await settingsWarnings(app) };
}

export interface SettingChange {
  key: SettingKey;
  before: string;
  after: string;
}

/** How recent a change must be for "Settings saved." to list it: the redirect after the save, not a later visit. */
const RECENT_CHANGE_MS = 60_000;

/**
 * The changes of this administrator's latest settings save, if it was made within the last
 * minute (read from the audit log, which records every save with before and after).
 */
export async function recentSettingsChange(app: App, actorId: string): Promise<SettingChange[]> {
  const since = new Date(app.clock.now().getTime() - RECENT_CHANGE_MS);
  const [entry] = await app.db
    .select({ details: auditLog.details })
    .from(auditLog)
    .where(and(eq(auditLog.action, 'settings.changed'), eq(auditLog.actorId, actorId), gte(auditLog.at, since)))
    .orderBy(desc(auditLog.seq))
    .limit(1);
  const details = (entry?.details ?? {}) as Record<string, { before?: unknown; after?: unknown } | undefined>;
  return SETTING_KEYS.flatMap((key) => {
    const change = details[key];
    return change && typeof change.before === 'string' && typeof change.after === 'string' ? [{ key, before: change.before, after: change.after }] : [];
  });
}
