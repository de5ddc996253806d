import type { App } from '../app.ts';
import { siteSettings } from '../db/schema.ts';
import type { Db } from '../db/client.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { defaultSiteSettings, SETTING_KEYS, validateSettings, type SettingKey, type SiteSettings } from '../security/site-settings.ts';

/** Every site setting: stored values over the defaults in code. */
export async function getSiteSettings(app: App, db: Db = app.db): Promise<SiteSettings> {
  const settings = defaultSiteSettings();
  for (const row of await db.select().from(siteSettings)) {
    if ((SETTING_KEYS as readonly string[]).includes(row.key)) settings[row.key as SettingKey] = Number(row.value);
  }
  return settings;
}

export type SettingsUpdate = { ok: true; changed: SettingKey[] } | { ok: false; errors: Record<string, string> };

/** Validates the whole submission first and saves all of it or none of it. */
export async function updateSiteSettings(app: App, submitted: Record<string, string>, actor: Actor | null, ip: string | null): Promise<SettingsUpdate> {
  const { values, errors } = validateSettings(submitted);
  if (Object.keys(errors).length) return { ok: false, errors };
  const current = await getSiteSettings(app);
  const changed = (Object.keys(values) as SettingKey[]).filter((k) => String(current[k]) !== values[k]);
  if (!changed.length) return { ok: true, changed };
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
      tx as unknown as Db,
    );
  });
  return { ok: true, changed };
}
