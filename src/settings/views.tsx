import { Csrf, FormError, Layout, type PageContext } from '../web/layout.tsx';
import {
  decodeSiteSettings,
  describeSettingValue,
  MFA_METHOD_LABELS,
  MFA_METHODS,
  passwordRuleSummary,
  SETTING_KEYS,
  SETTING_SECTIONS,
  SITE_SETTINGS,
  type SettingDefinition,
  type SettingKey,
} from '../security/site-settings.ts';
import type { SettingChange, SettingsRole } from './service.ts';

// Admin > Site Settings. A plain HTML form (see form.ts for what it sends): each control is
// labelled, its help and its error are tied to it with aria-describedby, checkbox groups are
// fieldsets with a legend, and each setting shows its key for `haven settings get|set`.

/** A comma list as its items, trimmed, empty ones dropped. */
function items(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function ids(...values: (string | false | undefined)[]): string | undefined {
  const list = values.filter((v): v is string => Boolean(v));
  return list.length ? list.join(' ') : undefined;
}

/** The setting's key, small, for the README and `haven settings set KEY VALUE`. */
function Key({ name }: { name: SettingKey }) {
  return (
    <small>
      {' '}
      <code>{name}</code>
    </small>
  );
}

function Help({ def }: { def: SettingDefinition }) {
  return <small id={`${def.key}-help`}>{def.help}</small>;
}

function ErrorText({ name, error }: { name: string; error?: string }) {
  return error ? (
    <small id={`${name}-error`} role="alert" class="field-error">
      {error}
    </small>
  ) : null;
}

function NumberSetting({ def, value, error, extraHelpId }: { def: SettingDefinition; value: string; error?: string; extraHelpId?: string }) {
  if (def.control.kind !== 'number') return null;
  const { min, max, step, unit } = def.control;
  return (
    <div>
      <label for={def.key}>
        {def.label} ({unit})
        <Key name={def.key} />
      </label>
      <input
        {...({
          type: 'number',
          id: def.key,
          name: def.key,
          value,
          min: String(min),
          max: String(max),
          step: String(step),
          required: true,
          'aria-invalid': error ? 'true' : undefined,
          'aria-describedby': ids(`${def.key}-help`, extraHelpId, error && `${def.key}-error`),
        } as Record<string, unknown>)}
      />
      <Help def={def} />
      <ErrorText name={def.key} error={error} />
    </div>
  );
}

function SwitchSetting({ def, value, error }: { def: SettingDefinition; value: string; error?: string }) {
  return (
    <div>
      <fieldset>
        <legend>
          {def.label}
          <Key name={def.key} />
        </legend>
        <input type="hidden" name="shown" value={def.key} />
        <label>
          <input
            {...({
              type: 'checkbox',
              role: 'switch',
              id: def.key,
              name: def.key,
              value: 'true',
              checked: value.trim().toLowerCase() === 'true',
              'aria-invalid': error ? 'true' : undefined,
              'aria-describedby': ids(`${def.key}-help`, error && `${def.key}-error`),
            } as Record<string, unknown>)}
          />
          Enabled
        </label>
      </fieldset>
      <Help def={def} />
      <ErrorText name={def.key} error={error} />
    </div>
  );
}

function CheckboxGroup({ def, options, chosen, error }: { def: SettingDefinition; options: { value: string; label: string; note?: string }[]; chosen: string[]; error?: string }) {
  const isChosen = (value: string) => chosen.some((c) => c.toLowerCase() === value.toLowerCase());
  return (
    <div>
      <fieldset id={def.key} aria-describedby={ids(`${def.key}-help`, error && `${def.key}-error`)}>
        <legend>
          {def.label}
          <Key name={def.key} />
        </legend>
        <input type="hidden" name="shown" value={def.key} />
        {options.map((o) => (
          <label>
            <input
              {...({ type: 'checkbox', name: def.key, value: o.value, checked: isChosen(o.value), 'aria-invalid': error ? 'true' : undefined } as Record<string, unknown>)}
            />
            {/* The span keeps the note from following the input directly (Pico styles `input + small` as a field's help). */}
            <span>{o.label}</span>
            {o.note && <small> ({o.note})</small>}
          </label>
        ))}
      </fieldset>
      <Help def={def} />
      <ErrorText name={def.key} error={error} />
    </div>
  );
}

function Setting({ name, values, stored, roles, errors }: { name: SettingKey; values: Record<string, string>; stored: Record<SettingKey, string>; roles: SettingsRole[]; errors: Record<string, string> }) {
  const def = SITE_SETTINGS[name];
  const value = values[name] ?? stored[name];
  const error = errors[name];
  switch (def.control.kind) {
    case 'number':
      if (name === 'password_min_length') {
        // A preview of what password forms say, with the saved minimum.
        return (
          <>
            <NumberSetting def={def} value={value} error={error} extraHelpId="password-rule-summary" />
            <p>
              <small id="password-rule-summary">Password forms say: “{passwordRuleSummary(decodeSiteSettings(stored))}”</small>
            </p>
          </>
        );
      }
      return <NumberSetting def={def} value={value} error={error} />;
    case 'switch':
      return <SwitchSetting def={def} value={value} error={error} />;
    case 'choice':
      return (
        <div>
          <label for={def.key}>
            {def.label}
            <Key name={def.key} />
          </label>
          <select
            {...({ id: def.key, name: def.key, 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': ids(`${def.key}-help`, error && `${def.key}-error`) } as Record<string, unknown>)}
          >
            {def.control.options.map((o) => (
              <option value={o.value} selected={o.value === value}>
                {o.label}
              </option>
            ))}
          </select>
          <Help def={def} />
          <ErrorText name={def.key} error={error} />
        </div>
      );
    case 'text':
      return (
        <div>
          <label for={def.key}>
            {def.label}
            <Key name={def.key} />
          </label>
          <input
            {...({
              type: 'text',
              id: def.key,
              name: def.key,
              value,
              placeholder: def.control.placeholder,
              autocomplete: 'off',
              'aria-invalid': error ? 'true' : undefined,
              'aria-describedby': ids(`${def.key}-help`, error && `${def.key}-error`),
            } as Record<string, unknown>)}
          />
          <Help def={def} />
          <ErrorText name={def.key} error={error} />
        </div>
      );
    case 'methods':
      return <CheckboxGroup def={def} options={MFA_METHODS.map((m) => ({ value: m, label: MFA_METHOD_LABELS[m] }))} chosen={items(value)} error={error} />;
    case 'roles': {
      const chosen = items(value);
      // A chosen name no role has (renamed since?) stays visible, so that saving does not drop it unseen.
      const missing = chosen.filter((c) => !roles.some((r) => r.name.toLowerCase() === c.toLowerCase()));
      const options = [
        ...roles.map((r) => ({ value: r.name, label: r.name, note: r.apiAccess ? 'has API Access, so not held to MFA' : undefined })),
        ...missing.map((m) => ({ value: m, label: m, note: 'no role has this name' })),
      ];
      return <CheckboxGroup def={def} options={options} chosen={chosen} error={error} />;
    }
  }
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

export function SiteSettingsPage({
  ctx,
  values,
  stored,
  roles,
  errors,
  warnings = [],
  saved,
  changes = [],
  fullSsnsStored = 0,
  truncated,
}: {
  ctx: PageContext;
  /** What the controls show: the stored texts, or what was just submitted over them. */
  values: Record<string, string>;
  /** The saved settings. */
  stored: Record<SettingKey, string>;
  /** The roles `mfa_required_roles` may name. */
  roles: SettingsRole[];
  errors: Record<string, string>;
  warnings?: string[];
  saved?: boolean;
  /** This administrator's latest changes, listed after "Settings saved.". */
  changes?: SettingChange[];
  /** Full SSNs still stored while ssn_digits is last4. */
  fullSsnsStored?: number;
  /** How many SSNs were just cut to four digits. */
  truncated?: number;
}) {
  const fieldErrors = SETTING_KEYS.filter((k) => errors[k]);
  const otherErrors = Object.entries(errors).filter(([k]) => !(SETTING_KEYS as readonly string[]).includes(k));
  return (
    <Layout title="Site Settings" ctx={ctx}>
      {saved && <p role="status">Settings saved.</p>}
      {saved && changes.length > 0 && (
        <ul id="settings-changes" aria-label="Your latest changes">
          {changes.map((c) => (
            <li>
              {SITE_SETTINGS[c.key].label}: from {describeSettingValue(c.key, c.before)} to {describeSettingValue(c.key, c.after)}
            </li>
          ))}
        </ul>
      )}
      {warnings.length > 0 && (
        <div class="warning" id="settings-warnings">
          {warnings.map((w) => (
            <p>
              <strong>Warning:</strong> {w}
            </p>
          ))}
        </div>
      )}
      {truncated !== undefined && <p role="status">{truncated === 1 ? '1 stored SSN was' : `${truncated} stored SSNs were`} cut to the last four digits.</p>}
      {fullSsnsStored > 0 && (
        <form method="post" action="/admin/site-settings/truncate-ssns" id="truncate-ssns">
          <Csrf token={ctx.csrfToken} />
          <p>
            Only the last four digits may be entered now, but {fullSsnsStored === 1 ? '1 client keeps a full number' : `${fullSsnsStored} clients keep full numbers`} stored from before. Cutting them cannot be undone.
          </p>
          <button type="submit" class="secondary">
            Cut stored SSNs to the last four digits
          </button>
        </form>
      )}
      <FormError message={fieldErrors.length || otherErrors.length ? 'Nothing was saved: correct the settings marked below.' : undefined} />
      {otherErrors.map(([, message]) => (
        <FormError message={message} />
      ))}
      <p>
        <small>
          Each setting shows its key, for <code>haven settings get KEY</code> and <code>haven settings set KEY VALUE</code>.
        </small>
      </p>
      <form method="post" action="/admin/site-settings">
        <Csrf token={ctx.csrfToken} />
        {SETTING_SECTIONS.map((section) => (
          <section aria-labelledby={`section-${slug(section)}`}>
            <h2 id={`section-${slug(section)}`}>{section}</h2>
            {SETTING_KEYS.filter((k) => SITE_SETTINGS[k].section === section).map((k) => (
              <Setting name={k} values={values} stored={stored} roles={roles} errors={errors} />
            ))}
          </section>
        ))}
        <button type="submit">Save settings</button>
      </form>
    </Layout>
  );
}
