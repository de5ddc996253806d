// The administrator's first hour (issue 9), in Chromium against the real server with a real
// SMTP peer: setup → the dashboard's checklist → a test message → require MFA for
// administrators → add a user; then that user's first login → forced password change →
// confirmation. A new administrator gets the site ready by following the dashboard alone.
// axe-core checks every page visited.
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, newContext } from '../helpers/browser.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';
import { startSmtpPeer, type SmtpPeer } from '../helpers/smtp.ts';

const ADMIN = { login: 'grace', fullName: 'Grace Hopper', email: 'grace@example.org', password: 'tulip7orbit-compiler' };
const STAFF = { login: 'lin', fullName: 'Lin Ortega', email: 'lin@example.org', initial: 'copper4heron-first', changed: 'granite6willow-own' };

let real: RealHaven;
let peer: SmtpPeer;
let browser: Browser;
const contexts: BrowserContext[] = [];

async function context(): Promise<BrowserContext> {
  const created = await newContext(browser, real.baseUrl);
  contexts.push(created);
  return created;
}

const text = async (page: Page, selector: string) => ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ').trim();
const state = (page: Page, key: string) => text(page, `#checklist-${key} .checklist-state`);

beforeAll(async () => {
  peer = await startSmtpPeer();
  [real, browser] = await Promise.all([
    startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir'), env: { HAVEN_SMTP_URL: peer.url } }),
    launchBrowser(),
  ]);
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await real?.stop();
  await peer?.stop();
});

describe("the administrator's first hour", () => {
  let admin: Page;

  test('setup, then the dashboard lists what is left to do, each step linking to where it is done', async () => {
    admin = await (await context()).newPage();
    await admin.goto(real.setupUrl!);
    await expectAccessible(admin, 'setup');
    await admin.getByLabel('Login name').fill(ADMIN.login);
    await admin.getByLabel('Full name').fill(ADMIN.fullName);
    await admin.getByLabel('E-mail').fill(ADMIN.email);
    await admin.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await admin.getByLabel('Password again').fill(ADMIN.password);
    await admin.getByRole('button', { name: 'Create administrator' }).click();
    await admin.waitForURL(/\/login\?reason=setup$/);
    await expectAccessible(admin, 'login');
    await admin.getByLabel('Login name').fill(ADMIN.login);
    await admin.getByLabel('Password').fill(ADMIN.password);
    await admin.getByRole('button', { name: 'Log in', exact: true }).click();
    await admin.waitForURL(`${real.baseUrl}/`);
    await expectAccessible(admin, 'dashboard');
    expect(await admin.getByRole('heading', { name: 'Getting started' }).count()).toBe(1);
    expect(await state(admin, 'mail')).toBe('To do');
    expect(await state(admin, 'mfa-required')).toBe('To do');
    expect(await state(admin, 'own-mfa')).toBe('To do');
    expect(await state(admin, 'second-admin')).toBe('To do');
    expect(await state(admin, 'backups')).toBe('To do');
  });

  test('mail: a test message from the checklist is delivered, and the step is done', async () => {
    await admin.getByRole('button', { name: 'Send me a test message' }).click();
    await admin.waitForURL(`${real.baseUrl}/?done=test-mail`);
    expect(await admin.getByRole('status').first().textContent()).toMatch(/test message is on its way/);
    const mail = await peer.waitForMail((m) => m.to.includes(ADMIN.email) && m.subject === 'Haven test message');
    expect(mail.secure).toBe(true);
    // The sender records the delivery a moment after the peer has the message.
    await expect.poll(async () => {
      await admin.goto('/');
      return state(admin, 'mail');
    }, { timeout: 10_000 }).toBe('Done');
  });

  test('require MFA for administrators: the checklist links to the setting, and the step is done', async () => {
    await admin.locator('#checklist-mfa-required').getByRole('link', { name: 'Do this now' }).click();
    await admin.waitForURL(/\/admin\/site-settings/);
    await expectAccessible(admin, 'site settings');
    await admin.getByRole('checkbox', { name: 'Site Administrator' }).check();
    await admin.getByRole('button', { name: /Save/ }).click();
    await admin.waitForURL(/\/admin\/site-settings\?saved=1/);
    expect(await admin.getByRole('status').first().textContent()).toMatch(/Settings saved/);
    await admin.goto('/');
    expect(await state(admin, 'mfa-required')).toBe('Done');
  });

  test('add a user: "User lin created", with links to the user and to the list', async () => {
    await admin.goto('/admin/users/new');
    await expectAccessible(admin, 'new user');
    await admin.getByLabel('Login name').fill(STAFF.login);
    await admin.getByLabel('Full name').fill(STAFF.fullName);
    await admin.getByLabel('E-mail').fill(STAFF.email);
    await admin.getByLabel('Role').selectOption({ label: 'Paralegal' });
    await admin.getByLabel('Initial password').fill(STAFF.initial);
    await admin.getByRole('button', { name: 'Create user' }).click();
    await admin.waitForURL(/\/admin\/users\/[0-9a-f-]{36}\?/);
    await expectAccessible(admin, 'user created');
    expect(await admin.getByRole('status').first().textContent()).toContain(`User ${STAFF.login} created`);
    expect(await admin.getByRole('link', { name: /all users|list of users|Users/ }).count()).toBeGreaterThan(0);
  });

  test("the user's first login: forced password change, then a confirmation", async () => {
    const page = await (await context()).newPage();
    await page.goto('/login');
    await page.getByLabel('Login name').fill(STAFF.login);
    await page.getByLabel('Password').fill(STAFF.initial);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.waitForURL(`${real.baseUrl}/password/change`);
    await expectAccessible(page, 'forced password change');
    await page.getByLabel('Current password').fill(STAFF.initial);
    await page.getByLabel(/^New password(?! again)/).fill(STAFF.changed);
    await page.getByLabel('New password again').fill(STAFF.changed);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForURL(`${real.baseUrl}/?done=password-changed`);
    await expectAccessible(page, 'dashboard after the change');
    expect(await page.getByRole('status').first().textContent()).toContain('Password changed.');
    // Not an administrator: no checklist, and only the places this role opens.
    expect(await page.getByRole('heading', { name: 'Getting started' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'My Preferences' }).count()).toBeGreaterThan(0);
    expect(await page.locator('main').getByRole('link', { name: 'Change site settings' }).count()).toBe(0);
  });
});
