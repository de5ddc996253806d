// Admin > Site Settings in a real browser (Debian's Chromium) against the real HTTPS server:
// the controls are found by their labels and roles, the page passes axe (WCAG 2.1 AA), and
// the form works the same with JavaScript off (issue 9).
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, newContext } from '../helpers/browser.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { getSettingTexts } from '../../src/settings/service.ts';

const ADMIN = 'sadie';
const PASSWORD = 'tulip7orbit-settings';

let real: RealHaven;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [real, browser] = await Promise.all([startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir') }), launchBrowser()]);
  const created = await runCommand(real.haven.app, {
    argv: ['users', 'create', '--login', ADMIN, '--email', `${ADMIN}@example.org`, '--role', 'Site Administrator', '--name', 'Sadie Admin', '--password-stdin'],
    stdin: `${PASSWORD}\n`,
  });
  expect(created, created.stderr).toMatchObject({ code: 0 });
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await real?.stop();
});

async function signedIn(javaScriptEnabled: boolean): Promise<Page> {
  const context = await newContext(browser, real.baseUrl, { javaScriptEnabled });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto('/login');
  await page.locator('input[name="login"]').fill(ADMIN);
  await page.locator('input[name="password"]').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
  await page.goto('/admin/site-settings');
  return page;
}

async function save(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.waitForURL(`${real.baseUrl}/admin/site-settings?saved=1`);
}

describe.each([true, false])('the settings form in Chromium (JavaScript %s)', (javaScriptEnabled) => {
  test('every control is reachable by its label, and a save applies exactly what was changed', async () => {
    const page = await signedIn(javaScriptEnabled);
    if (javaScriptEnabled) await expectAccessible(page);

    const mfa = page.getByRole('switch', { name: 'Enabled' });
    expect(await mfa.isChecked()).toBe(true);
    await page.getByRole('group', { name: /Methods offered/ }).getByLabel('E-mail code').uncheck();
    await page.getByRole('group', { name: /Roles that must use MFA/ }).getByLabel('Attorney').check();
    await page.getByLabel(/Automatic logout after inactivity/).fill('45');
    await save(page);
    expect(await page.getByRole('status').first().textContent()).toBe('Settings saved.');
    expect(await getSettingTexts(real.haven.app)).toMatchObject({
      mfa_enabled: 'true',
      mfa_methods: 'app,passkey',
      mfa_required_roles: 'Attorney',
      session_timeout_minutes: '45',
    });

    // Turning MFA off while a role requires it is refused beside the roles; nothing is saved.
    await page.getByRole('switch', { name: 'Enabled' }).uncheck();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.waitForLoadState();
    expect(await page.locator('#mfa_required_roles-error').textContent()).toMatch(/not enabled/);
    if (javaScriptEnabled) await expectAccessible(page, 'the settings form with an error');
    expect((await getSettingTexts(real.haven.app)).mfa_enabled).toBe('true');

    // Unchecking the role and the switch together is accepted.
    await page.getByRole('group', { name: /Roles that must use MFA/ }).getByLabel('Attorney').uncheck();
    await page.getByRole('switch', { name: 'Enabled' }).uncheck();
    await save(page);
    expect(await getSettingTexts(real.haven.app)).toMatchObject({ mfa_enabled: 'false', mfa_required_roles: '' });

    // Back to the defaults, through the page.
    await page.getByRole('switch', { name: 'Enabled' }).check();
    await page.getByRole('group', { name: /Methods offered/ }).getByLabel('E-mail code').check();
    await page.getByLabel(/Automatic logout after inactivity/).fill('90');
    await save(page);
    expect(await getSettingTexts(real.haven.app)).toMatchObject({ mfa_enabled: 'true', mfa_methods: 'email,app,passkey', session_timeout_minutes: '90' });
  });
});
