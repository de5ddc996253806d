import { Csrf, Field, FormError, Layout, type PageContext } from '../web/layout.tsx';
import { SETTING_KEYS, SITE_SETTINGS } from '../security/site-settings.ts';

export function SiteSettingsPage({
  ctx,
  values,
  errors,
  warnings = [],
  saved,
}: {
  ctx: PageContext;
  values: Record<string, string>;
  errors: Record<string, string>;
  warnings?: string[];
  saved?: boolean;
}) {
  const sections = [...new Set(SETTING_KEYS.map((k) => SITE_SETTINGS[k].section))];
  return (
    <Layout title="Site Settings" ctx={ctx}>
      {saved && <p role="status">Settings saved.</p>}
      {warnings.length > 0 && (
        <div class="warning" id="settings-warnings">
          {warnings.map((w) => (
            <p>
              <strong>Warning:</strong> {w}
            </p>
          ))}
        </div>
      )}
      <FormError message={Object.keys(errors).length ? 'Nothing was saved: correct the fields marked below.' : undefined} />
      <form method="post" action="/admin/site-settings">
        <Csrf token={ctx.csrfToken} />
        {sections.map((section) => (
          <fieldset>
            <legend>
              <strong>{section}</strong>
            </legend>
            {SETTING_KEYS.filter((k) => SITE_SETTINGS[k].section === section).map((k) => (
              <Field name={k} label={SITE_SETTINGS[k].label} value={values[k]} error={errors[k]} help={SITE_SETTINGS[k].help} required={SITE_SETTINGS[k].defaultValue !== ''} />
            ))}
          </fieldset>
        ))}
        <button type="submit">Save settings</button>
      </form>
    </Layout>
  );
}
