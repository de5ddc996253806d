// Admin > Site Settings as people use it (issue 9): real controls (a switch, checkboxes, number
// inputs with their range), sections, keys, errors beside their fields, and a plain HTML form
// whose unchecked boxes still mean something. Both databases, in process.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient, type TestResponse } from '../helpers/client.ts';
import { getSettingTexts, getSiteSettings, updateSiteSettings } from '../../src/settings/service.ts';
import { listRoles } from '../../src/roles/service.ts';
import { SETTING_KEYS, SITE_SETTINGS } from '../../src/security/site-settings.ts';

type Attributes = Record<string, string>;

function decode(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function attributesOf(tag: string): Attributes {
  const attributes: Attributes = {};
  for (const m of tag.replace(/^<\w+/, '').matchAll(/([\w:-]+)(?:="([^"]*)")?/g)) attributes[m[1]!] = decode(m[2] ?? '');
  return attributes;
}

/** The settings form of a page: its HTML and its inputs. */
function settingsForm(html: string): { html: string; inputs: Attributes[] } {
  const match = /<form method="post" action="\/admin\/site-settings">([\s\S]*?)<\/form>/.exec(html);
  expect(match, 'the settings form').not.toBeNull();
  return { html: match![1]!, inputs: [...match![1]!.matchAll(/<input\b[^>]*>/g)].map((m) => attributesOf(m[0])) };
}

/** What a browser sends for the form as the page shows it: hidden and number fields, checked boxes. */
function browserFields(html: string): [string, string][] {
  return settingsForm(html)
    .inputs.filter((i) => i.name && (i.type !== 'checkbox' || 'checked' in i))
    .map((i) => [i.name!, i.value ?? '']);
}

function byId(html: string, id: string): string | undefined {
  const m = new RegExp(`<(\\w+)[^>]*\\bid="${id}"[^>]*>([\\s\\S]*?)</\\1>`).exec(html);
  return m ? decode(m[2]!.replace(/<[^>]+>/g, '')) : undefined;
}

describe.each(DB_KINDS)('Admin > Site Settings page (%s)', (kind) => {
  let haven: TestHaven;
  let admin: TestClient;
  const defaults = Object.fromEntries(SETTING_KEYS.map((k) => [k, SITE_SETTINGS[k].defaultValue]));

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('root', 'Site Administrator');
    admin = haven.client({ ip: '192.0.2.40' });
    expect((await admin.login('root', TEST_PASSWORD)).status).toBe(303);
  });
  afterAll(() => haven?.close());
  afterEach(async () => {
    const reset = await updateSiteSettings(haven.app, defaults, null, null);
    expect(reset.ok).toBe(true);
  });

  /** Opens the page, lets `edit` change what a browser would send, and submits it. */
  async function submitForm(edit: (fields: [string, string][]) => [string, string][]): Promise<TestResponse> {
    const page = await admin.get('/admin/site-settings');
    expect(page.status).toBe(200);
    const body = new URLSearchParams(edit(browserFields(page.body)));
    const fields: Record<string, string[]> = {};
    for (const [k, v] of body) (fields[k] ??= []).push(v);
    return admin.post('/admin/site-settings', fields);
  }
  const without = (name: string, value?: string) => (fields: [string, string][]) => fields.filter(([k, v]) => !(k === name && (value === undefined || v === value)));
  const setting = (name: string, value: string) => (fields: [string, string][]) => fields.map(([k, v]): [string, string] => [k, k === name ? value : v]);

  test('the page has real controls: a switch, method and role checkboxes, number inputs with their range, sections and keys', async () => {
    const page = await admin.get('/admin/site-settings');
    expect(page.status).toBe(200);
    const { html, inputs } = settingsForm(page.body);

    const enabled = inputs.filter((i) => i.name === 'mfa_enabled');
    expect(enabled).toHaveLength(1);
    expect(enabled[0]).toMatchObject({ type: 'checkbox', role: 'switch', value: 'true', checked: '' });

    const methods = inputs.filter((i) => i.name === 'mfa_methods');
    expect(methods.map((m) => [m.type, m.value, 'checked' in m])).toEqual([
      ['checkbox', 'email', true],
      ['checkbox', 'app', true],
      ['checkbox', 'passkey', true],
    ]);
    for (const label of ['E-mail code', 'Authenticator app', 'Passkey or security key']) expect(html).toContain(label);

    const roleNames = (await listRoles(haven.app)).map((r) => r.name).sort();
    const roleBoxes = inputs.filter((i) => i.name === 'mfa_required_roles');
    expect(roleBoxes.every((r) => r.type === 'checkbox' && !('checked' in r))).toBe(true);
    expect(roleBoxes.map((r) => r.value).sort()).toEqual(roleNames);
    expect(html).toMatch(/API Client<\/span><small> \(has API Access, so not held to MFA\)<\/small>/);

    // The groups a browser may send nothing for are marked as shown.
    expect(inputs.filter((i) => i.name === 'shown').map((i) => [i.type, i.value])).toEqual([
      ['hidden', 'mfa_enabled'],
      ['hidden', 'mfa_methods'],
      ['hidden', 'mfa_required_roles'],
    ]);

    const numbers = Object.fromEntries(inputs.filter((i) => i.type === 'number').map((i) => [i.name, i]));
    expect(numbers).toMatchObject({
      password_min_length: { min: '8', max: '64', step: '1', value: '8', id: 'password_min_length' },
      password_expiration_days: { min: '0', max: '3650', step: '1', value: '0' },
      session_timeout_minutes: { min: '6', max: '1440', step: '1', value: '90' },
      session_max_hours: { min: '1', max: '168', step: '1', value: '12' },
    });
    expect(byId(html, 'session_timeout_minutes-help')).toMatch(/^From 6 to 1440 minutes\. Default 90\./);
    expect(html).toMatch(/<label for="session_timeout_minutes">Automatic logout after inactivity \(minutes\)<small> <code>session_timeout_minutes<\/code><\/small><\/label>/);
    expect(html).toContain('(characters)');
    expect(html).toContain('(hours)');
    expect(html).toContain('(days)');

    // Every control has a label, and every description it points to exists.
    for (const input of inputs.filter((i) => i.type !== 'hidden')) {
      const labelled = (input.id && html.includes(`<label for="${input.id}"`)) || input.type === 'checkbox';
      expect(labelled, JSON.stringify(input)).toBe(true);
      for (const id of (input['aria-describedby'] ?? '').split(' ').filter(Boolean)) expect(page.body, id).toContain(`id="${id}"`);
    }
    for (const key of SETTING_KEYS) expect(html, key).toContain(`<code>${key}</code>`);
    expect(html.match(/<legend>/g)?.length).toBe(3);
    for (const section of ['Passwords', 'Sessions', 'Multifactor authentication']) expect(page.body).toContain(`>${section}</h2>`);

    // The Content-Security-Policy forbids inline styles and scripts: none here.
    expect(page.body).not.toMatch(/\sstyle="/);
    expect(page.body).not.toMatch(/<script(?![^>]*\ssrc=)/);
  });

  test('the switch turns MFA off and back on; the page says what changed', async () => {
    const off = await submitForm(without('mfa_enabled'));
    expect(off.status, alerts(off.body).join()).toBe(303);
    expect(off.location).toBe('/admin/site-settings?saved=1');
    expect((await getSiteSettings(haven.app)).mfa_enabled).toBe(false);
    const saved = await admin.get(off.location!);
    expect(saved.body).toContain('<p role="status">Settings saved.</p>');
    expect(byId(saved.body, 'settings-changes')).toContain('Multifactor authentication for the site: from on to off');
    expect(settingsForm(saved.body).inputs.find((i) => i.name === 'mfa_enabled')).not.toHaveProperty('checked');

    const on = await submitForm((fields) => [...fields, ['mfa_enabled', 'true']]);
    expect(on.status, alerts(on.body).join()).toBe(303);
    expect((await getSiteSettings(haven.app)).mfa_enabled).toBe(true);
  });

  test('unchecking every method is refused beside the group ("Offer at least one method") and saves nothing', async () => {
    const before = await getSettingTexts(haven.app);
    const r = await submitForm((fields) => setting('session_timeout_minutes', '60')(without('mfa_methods')(fields)));
    expect(r.status).toBe(400);
    expect(byId(r.body, 'mfa_methods-error')).toMatch(/^Offer at least one method/);
    expect(alerts(r.body).filter((a) => a.startsWith('Offer at least one method'))).toHaveLength(1);
    expect(r.body).toMatch(/<fieldset id="mfa_methods" aria-describedby="mfa_methods-help mfa_methods-error">/);
    // The form shows what was sent: no method checked, the new timeout kept for correction.
    const { inputs } = settingsForm(r.body);
    expect(inputs.filter((i) => i.name === 'mfa_methods').every((i) => !('checked' in i) && i['aria-invalid'] === 'true')).toBe(true);
    expect(inputs.find((i) => i.name === 'session_timeout_minutes')?.value).toBe('60');
    expect(await getSettingTexts(haven.app)).toEqual(before);
  });

  test('some methods only: the checked ones are stored in catalogue order', async () => {
    const r = await submitForm(without('mfa_methods', 'email'));
    expect(r.status, alerts(r.body).join()).toBe(303);
    expect((await getSettingTexts(haven.app)).mfa_methods).toBe('app,passkey');
  });

  test('required roles are chosen with checkboxes, and unchecking them all clears the setting', async () => {
    const chosen = await submitForm((fields) => [...fields, ['mfa_required_roles', 'Paralegal'], ['mfa_required_roles', 'Attorney']]);
    expect(chosen.status, alerts(chosen.body).join()).toBe(303);
    expect((await getSiteSettings(haven.app)).mfa_required_roles).toEqual(['Paralegal', 'Attorney']);
    const page = await admin.get('/admin/site-settings');
    expect(settingsForm(page.body).inputs.filter((i) => i.name === 'mfa_required_roles' && 'checked' in i).map((i) => i.value).sort()).toEqual(['Attorney', 'Paralegal']);

    // MFA cannot be required while it is off: refused beside the roles, nothing saved.
    const conflict = await submitForm(without('mfa_enabled'));
    expect(conflict.status).toBe(400);
    expect(byId(conflict.body, 'mfa_required_roles-error')).toMatch(/not enabled/);
    expect((await getSiteSettings(haven.app)).mfa_enabled).toBe(true);

    const cleared = await submitForm(without('mfa_required_roles'));
    expect(cleared.status, alerts(cleared.body).join()).toBe(303);
    expect((await getSiteSettings(haven.app)).mfa_required_roles).toEqual([]);
  });

  test('an API Access role among the required ones is saved with the warning block', async () => {
    const r = await submitForm((fields) => [...fields, ['mfa_required_roles', 'API Client']]);
    expect(r.status, alerts(r.body).join()).toBe(303);
    const page = await admin.get('/admin/site-settings');
    expect(page.body).toContain('id="settings-warnings"');
    expect(page.body).toContain('The role &quot;API Client&quot; has API Access');
  });

  test('a bad number shows one error, beside its field, and nothing is saved', async () => {
    const before = await getSettingTexts(haven.app);
    const r = await submitForm((fields) => setting('session_timeout_minutes', '5')(setting('password_min_length', '12')(without('mfa_enabled')(fields))));
    expect(r.status).toBe(400);
    const message = 'Must be a whole number from 6 to 1440.';
    expect(byId(r.body, 'session_timeout_minutes-error')).toBe(message);
    expect(r.body.split(message)).toHaveLength(2);
    expect(alerts(r.body)).toEqual(['Nothing was saved: correct the settings marked below.', message]);
    const input = settingsForm(r.body).inputs.find((i) => i.name === 'session_timeout_minutes')!;
    expect(input).toMatchObject({ 'aria-invalid': 'true', 'aria-describedby': 'session_timeout_minutes-help session_timeout_minutes-error', value: '5' });
    expect(settingsForm(r.body).inputs.find((i) => i.name === 'password_min_length')).not.toHaveProperty('aria-invalid');
    expect(await getSettingTexts(haven.app)).toEqual(before);
  });

  test('a refused field shape and a bad number are reported together, each beside its field', async () => {
    await admin.get('/admin/site-settings');
    const r = await admin.post('/admin/site-settings', { mfa_enabled: 'maybe', session_max_hours: '0', password_min_length: '10' });
    expect(r.status).toBe(400);
    expect(byId(r.body, 'mfa_enabled-error')).toBe('Must be true (on) or false (off).');
    expect(byId(r.body, 'session_max_hours-error')).toBe('Must be a whole number from 1 to 168.');
    expect((await getSettingTexts(haven.app)).password_min_length).toBe('8');
    const bogus = await admin.post('/admin/site-settings', { shown: 'password_min_length', password_min_length: '10' });
    expect(bogus.status).toBe(400);
    expect(alerts(bogus.body)).toHaveLength(2);
    expect((await getSettingTexts(haven.app)).password_min_length).toBe('8');
  });

  test('a client that leaves a whole group out keeps that setting; a group marked shown and left empty is cleared', async () => {
    await updateSiteSettings(haven.app, { mfa_required_roles: 'Attorney', mfa_methods: 'app' }, null, null);
    await admin.get('/admin/site-settings');
    const r = await admin.post('/admin/site-settings', { session_timeout_minutes: '60' });
    expect(r.status, alerts(r.body).join()).toBe(303);
    expect(await getSettingTexts(haven.app)).toMatchObject({ session_timeout_minutes: '60', mfa_enabled: 'true', mfa_methods: 'app', mfa_required_roles: 'Attorney' });

    const cleared = await admin.post('/admin/site-settings', { shown: 'mfa_required_roles' });
    expect(cleared.status, alerts(cleared.body).join()).toBe(303);
    expect(await getSettingTexts(haven.app)).toMatchObject({ mfa_enabled: 'true', mfa_methods: 'app', mfa_required_roles: '' });
  });

  test('the CLI forms still work on the wire: true/false, comma lists, numbers as text', async () => {
    await admin.get('/admin/site-settings');
    const r = await admin.post('/admin/site-settings', { mfa_methods: 'passkey, email', mfa_required_roles: 'attorney,Paralegal', session_max_hours: '24' });
    expect(r.status, alerts(r.body).join()).toBe(303);
    expect(await getSettingTexts(haven.app)).toMatchObject({ mfa_methods: 'email,passkey', mfa_required_roles: 'Attorney,Paralegal', session_max_hours: '24' });
    expect((await admin.post('/admin/site-settings', { mfa_required_roles: '', mfa_enabled: 'false' })).status).toBe(303);
    expect(await getSettingTexts(haven.app)).toMatchObject({ mfa_enabled: 'false', mfa_required_roles: '' });
  });

  test('the password rules preview states the configured minimum', async () => {
    const r = await submitForm(setting('password_min_length', '12'));
    expect(r.status, alerts(r.body).join()).toBe(303);
    const page = await admin.get(r.location!);
    const preview = byId(page.body, 'password-rule-summary');
    expect(preview).toMatch(/At least 12 characters, with a letter and a digit/);
    expect(preview).toMatch(/last 5 passwords/);
    expect(settingsForm(page.body).inputs.find((i) => i.name === 'password_min_length')?.['aria-describedby']).toContain('password-rule-summary');
    expect(byId(page.body, 'settings-changes')).toContain('Minimum password length: from 8 characters to 12 characters');
  });
});
