import type { App } from '../context.ts';
import { roles, siteSettings } from '../db/schema.ts';
import type { Db } from '../db/client.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { mfaRequirementWarnings } from '../security/mfa.ts';
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
  return mfaRequirementWarnings(settings, allRoles);
}

/** Validates the whole submission first and saves all of it or none of it. */
export async function updateSiteSettings(app: App, submitted: Record<string, string>, actor: Actor | null, ip: string | null): Promise<SettingsUpdate> {
  const current = await getSettingTexts(app);
  const roleNames = (await app.db.select({ name: roles.name }).from(roles)).map((r) => r.name);
  const { values, errors } = validateSettings(submitted, { roleNames }, current);
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
