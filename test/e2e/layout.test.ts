// The page frame in a real browser (Debian's Chromium) against the real HTTPS server: every page
// fits a 390 px phone and a 1280 px desktop without sideways scrolling of the page, passes axe
// (WCAG 2.1 AA), and the navigation collapses into a Menu that opens by keyboard and without
// JavaScript (issue 9). Screenshots land in test-artifacts/screenshots/<page>-<width>.png.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { runCommand } from '../../src/cli/commands.ts';
import { enqueueMail } from '../../src/mail/service.ts';
import { findUserByLogin } from '../../src/users/service.ts';
import { listNetworks } from '../../src/locations/service.ts';
import { listProviders } from '../../src/sso/service.ts';
import { launchBrowser, newContext } from '../helpers/browser.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));
const ADMIN = { login: 'ada', password: 'tulip7orbit-haven' };
const WIDTHS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;

// Long, unbroken values: the kind that used to push pages sideways.
const LONG_USERS = [
  {
    login: 'maximiliana.featherstonehaugh-worthington',
    name: 'Maximiliana Alexandrina Featherstonehaugh-Worthington-Cholmondeley',
    email: 'maximiliana.alexandrina.featherstonehaugh@very-long-department-name.legal-aid-society.example.org',
    role: 'Paralegal',
  },
  {
    login: 'bartholomew',
    name: 'Bartholomew-Featherstonehaugh-Cholmondeley-Worthington-Smythe-Jones',
    email: 'bartholomew.featherstonehaugh.cholmondeley.worthington@example.org',
    role: 'Attorney',
  },
  { login: 'pat', name: 'Pat Quill', email: 'pat@example.org', role: 'Intake Worker' },
];

let real: RealHaven;
let browser: Browser;
const contexts: BrowserContext[] = [];
let longUserId: string;
let networkId: string;
let providerId: string;

async function context(options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const created = await newContext(browser, real.baseUrl, options);
  contexts.push(created);
  return created;
}

async function logIn(page: Page): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Login name').fill(ADMIN.login);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
}

async function signedInPage(options: BrowserContextOptions): Promise<Page> {
  const page = await (await context(options)).newPage();
  await logIn(page);
  return page;
}

const pageWidth = (page: Page) => page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, viewport: window.innerWidth }));

async function expectNoSidewaysScroll(page: Page, what: string): Promise<void> {
  const { scroll, viewport } = await pageWidth(page);
  expect(scroll, `${what}: the page is ${scroll} px wide in a ${viewport} px window`).toBeLessThanOrEqual(viewport);
}

const usersLink = (page: Page) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users', exact: true });

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  [real, browser] = await Promise.all([startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir') }), launchBrowser()]);
  const app = real.haven.app;
  const created = await runCommand(app, {
    argv: ['users', 'create', '--login', 'ada', '--name', 'Ada Lovelace', '--email', 'ada@example.org', '--role', 'Site Administrator', '--password-stdin'],
    stdin: 'tulip7orbit-haven\n',
  });
  expect(created, created.stderr).toMatchObject({ code: 0 });
  for (const u of LONG_USERS) {
    const result = await runCommand(app, {
      argv: ['users', 'create', '--login', u.login, '--name', u.name, '--email', u.email, '--role', u.role, '--password-stdin'],
      stdin: 'copper4heron-marsh\n',
    });
    expect(result, result.stderr).toMatchObject({ code: 0 });
  }
  longUserId = (await findUserByLogin(app, LONG_USERS[0]!.login))!.id;
  // A network with a long name and long IPv6 ranges (not internal: sessions stay internal).
  const network = await runCommand(app, {
    argv: ['locations', 'add', '--name', 'Courthouse self-help centre, third floor public terminals', '--cidr', '2001:db8:4242:abcd::/64', '--cidr', '2001:db8:4242:abce:1234:5678::/96', '--timeout', '15', '--forced-role', 'Read Only'],
  });
  expect(network, network.stderr).toMatchObject({ code: 0 });
  networkId = (await listNetworks(app))[0]!.id;
  // An SSO provider with a long issuer and client id (SSO stays off: the login page is unchanged).
  const provider = await runCommand(app, {
    argv: ['sso', 'add', 'entra-main-office-tenant', '--kind', 'entra', '--issuer', 'https://login.microsoftonline.com/7f3c4a2e-1b5d-4c8e-9a0f-2d6b8e4c1a3f/v2.0', '--client-id', '3f2a9c1e-7b4d-4e8a-a1c5-9d0b6e2f4a7c', '--client-secret-stdin'],
    stdin: 'a-long-client-secret-value\n',
  });
  expect(provider, provider.stderr).toMatchObject({ code: 0 });
  providerId = (await listProviders(app))[0]!.id;
  // No SMTP server is configured: these stay queued and fill the mail queue's table.
  await enqueueMail(app, { to: LONG_USERS[0]!.email, subject: 'Haven verification code', text: 'Your code is 123456.' });
  await enqueueMail(app, {
    to: LONG_USERS[1]!.email,
    subject: 'Case 26-000123: the hearing moved to Monday, courtroom 4B, bring the lease and every notice from the landlord',
    text: 'Monday 10:00.',
  });
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await real?.stop();
});

const PAGES = [
  { name: 'dashboard', path: () => '/' },
  { name: 'users', path: () => '/admin/users' },
  { name: 'user-new', path: () => '/admin/users/new' },
  { name: 'user', path: () => `/admin/users/${longUserId}` },
  { name: 'mail-queue', path: () => '/mail/queue' },
  { name: 'users-report', path: () => '/reports/users' },
  { name: 'preferences', path: () => '/preferences' },
  { name: 'export', path: () => '/admin/export' },
  { name: 'locations', path: () => '/admin/locations' },
  { name: 'network', path: () => `/admin/locations/${networkId}` },
  { name: 'api-docs', path: () => '/api/v1/docs' },
  { name: 'sso', path: () => '/admin/sso' },
  { name: 'sso-provider', path: () => `/admin/sso/providers/${providerId}` },
];

describe.each(WIDTHS)('every page at $width px', (viewport) => {
  let page: Page;
  beforeAll(async () => {
    page = await signedInPage({ viewport });
  });

  test.each(PAGES)('$name: no sideways page scroll, axe-clean, screenshot', async ({ name, path }) => {
    const response = await page.goto(path());
    expect(response?.status()).toBe(200);
    await expectNoSidewaysScroll(page, name);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}${name}-${viewport.width}.png`, fullPage: true });
  });

  test('the current page is marked in the navigation; the name leads to My Preferences; Log out is there', async () => {
    await page.goto('/admin/users');
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.locator('a[href="/admin/users"]').getAttribute('aria-current')).toBe('page');
    expect(await nav.locator('a[href="/admin/roles"]').getAttribute('aria-current')).toBeNull();
    await page.goto(`/admin/users/${longUserId}`);
    expect(await nav.locator('a[href="/admin/users"]').getAttribute('aria-current')).toBe('true');
    expect(await nav.locator('a[href="/preferences"]').textContent()).toBe('Ada Lovelace');
    expect(await nav.locator('form[action="/logout"] button').textContent()).toBe('Log out');
    expect(await nav.locator('form[action="/logout"] input[name="_csrf"]').count()).toBe(1);
  });

  test('"Skip to content" is the first stop of the keyboard and leads to <main id="main">', async () => {
    await page.goto('/admin/users');
    await page.keyboard.press('Tab');
    const skip = await page.evaluate(() => ({ text: document.activeElement?.textContent, href: document.activeElement?.getAttribute('href') }));
    expect(skip).toEqual({ text: 'Skip to content', href: '#main' });
    expect(await page.getByRole('link', { name: 'Skip to content' }).isVisible()).toBe(true);
    await page.keyboard.press('Enter');
    // The same-document navigation may land a moment after the key press on a loaded machine.
    await expect.poll(() => new URL(page.url()).hash, { timeout: 5000 }).toBe('#main');
    expect(await page.locator('main#main').count()).toBe(1);
  });
});

describe('the navigation', () => {
  test('at 1280 px every link is in view, the Menu toggle is not, and the Admin group holds Users', async () => {
    const page = await signedInPage({ viewport: { width: 1280, height: 800 } });
    await page.goto('/');
    expect(await page.locator('.nav-toggle > summary').isVisible()).toBe(false);
    expect(await usersLink(page).isVisible()).toBe(true);
    expect(await page.getByRole('list', { name: 'Admin' }).getByRole('link').allTextContents()).toEqual([
      'Users',
      'Roles',
      'Locations',
      'Site Settings',
      'Single Sign On',
      'Intake setup',
      'Case lists',
      'Audit',
      'Mail queue',
      'Backups',
      'Export',
      'Users Report',
    ]);
    // The focus indicator is a visible outline, not Pico's faint shadow.
    await usersLink(page).focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    const outline = await usersLink(page).evaluate((el) => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth);
    expect(outline).toBe('solid 3px');
    await usersLink(page).click();
    await page.waitForURL(`${real.baseUrl}/admin/users`);
  });

  test('at 390 px the links fold into a Menu that opens by keyboard, and the page still fits', async () => {
    const page = await signedInPage({ viewport: { width: 390, height: 844 } });
    await page.goto('/');
    expect(await usersLink(page).isVisible()).toBe(false);
    const toggle = page.locator('.nav-toggle > summary');
    expect(await toggle.isVisible()).toBe(true);
    await toggle.focus();
    expect(await toggle.evaluate((el) => getComputedStyle(el).outlineStyle)).toBe('solid');
    await page.keyboard.press('Enter');
    await usersLink(page).waitFor({ state: 'visible', timeout: 5_000 });
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Ada Lovelace' }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Log out' }).isVisible()).toBe(true);
    await expectNoSidewaysScroll(page, 'the open menu');
    await expectAccessible(page, '/ with the menu open');
    await page.screenshot({ path: `${SCREENSHOTS}menu-open-390.png`, fullPage: true });
    // Tab reaches the links in the open menu.
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.getAttribute('href') === '/admin/users');
    }
    expect(reached, 'Tab reaches Users in the open menu').toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${real.baseUrl}/admin/users`);
    // Enter on the toggle closes it again.
    await toggle.focus();
    await page.keyboard.press('Enter');
    await usersLink(page).waitFor({ state: 'visible' });
    await page.keyboard.press('Enter');
    await usersLink(page).waitFor({ state: 'hidden' });
  });

  test('at 390 px without JavaScript the Menu opens and its links work', async () => {
    const page = await signedInPage({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
    await page.goto('/');
    expect(await usersLink(page).isVisible()).toBe(false);
    await page.locator('.nav-toggle > summary').click();
    await usersLink(page).waitFor({ state: 'visible', timeout: 5_000 });
    await usersLink(page).click();
    await page.waitForURL(`${real.baseUrl}/admin/users`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Users');
    await expectNoSidewaysScroll(page, '/admin/users without JavaScript');
    // Keyboard, still without JavaScript.
    await page.locator('.nav-toggle > summary').focus();
    await page.keyboard.press('Enter');
    await usersLink(page).waitFor({ state: 'visible', timeout: 5_000 });
  });
});

describe('the pages themselves', () => {
  test('wide tables scroll inside their own focusable, named region', async () => {
    const page = await signedInPage({ viewport: { width: 390, height: 844 } });
    for (const [path, label] of [
      ['/admin/users', 'Users'],
      ['/mail/queue', 'Mail messages'],
      ['/reports/users', 'Users report'],
    ] as const) {
      await page.goto(path);
      const region = page.getByRole('region', { name: label });
      expect(await region.getAttribute('tabindex')).toBe('0');
      const sizes = await region.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
      expect(sizes.scroll, `${path}: the table is wider than the phone, and scrolls in its box`).toBeGreaterThan(sizes.client);
      await region.focus();
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => region.evaluate((el) => el.scrollLeft)).toBeGreaterThan(0);
      await expectNoSidewaysScroll(page, path);
    }
  });

  test('the mail queue filter is a grid of labelled fields with a normal button, at both widths', async () => {
    for (const viewport of WIDTHS) {
      const page = await signedInPage({ viewport });
      await page.goto('/mail/queue');
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Mail queue');
      expect(await page.locator('main').textContent()).toContain('List Sent Mail');
      expect(await page.title()).toBe('Mail queue - Haven');
      const search = page.getByRole('search');
      for (const label of ['Subject contains', 'Recipient contains', 'Queued from (UTC)', 'Queued to (UTC)']) {
        const box = (await search.getByLabel(label).boundingBox())!;
        expect(box.x, label).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width, label).toBeLessThanOrEqual(viewport.width);
        expect(box.width, label).toBeGreaterThan(150);
      }
      const button = search.getByRole('button', { name: 'Filter' });
      const box = (await button.boundingBox())!;
      expect(box.width).toBeLessThan(200);
      expect(box.height).toBeLessThan(60);
      expect(await button.evaluate((el) => parseFloat(getComputedStyle(el).borderTopLeftRadius))).toBeLessThan(12);
      if (viewport.width === 1280) {
        // The four fields share one row on a desktop screen.
        const tops = await Promise.all(['Subject contains', 'Queued to (UTC)'].map(async (l) => (await search.getByLabel(l).boundingBox())!.y));
        expect(tops[0]).toBe(tops[1]);
      }
      await search.getByLabel('Subject contains').fill('verification code');
      await button.click();
      await page.waitForURL(/\/mail\/queue\?subject=verification\+code/);
      expect(await page.locator('tbody tr').count()).toBe(1);
      expect(await page.locator('main').textContent()).toContain('Showing 1 message, newest first.');
    }
  });

  test('a form error appears once, beside its field; the help keeps its colour; the field names both', async () => {
    const page = await signedInPage({ viewport: { width: 390, height: 844 } });
    await page.goto('/admin/users/new');
    await page.getByLabel('Login name').fill('shorty');
    await page.getByLabel('Full name').fill('Short Password');
    await page.getByLabel('E-mail').fill('short@example.org');
    await page.getByLabel('Role').selectOption({ label: 'Paralegal' });
    await page.getByLabel('Initial password').fill('abc');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.waitForLoadState();
    const password = page.getByLabel('Initial password');
    expect(await password.getAttribute('aria-invalid')).toBe('true');
    expect(await password.getAttribute('aria-describedby')).toBe('password-help password-error');
    const error = page.locator('#password-error');
    expect(await error.getAttribute('role')).toBe('alert');
    const help = page.locator('#password-help');
    expect(await help.textContent()).toBe('The user must change it at their first login.');
    expect(await help.getAttribute('role')).toBeNull();
    const colours = await page.evaluate(() => ({
      help: getComputedStyle(document.getElementById('password-help')!).color,
      error: getComputedStyle(document.getElementById('password-error')!).color,
    }));
    expect(colours.help).not.toBe(colours.error);
    // The error text is said once: in the alert, not also in the label.
    const errorText = (await error.textContent())!;
    expect(await page.locator('main').evaluate((el, t) => el.textContent!.split(t).length - 1, errorText)).toBe(1);
    expect(await page.locator('label[for="field-password"]').textContent()).toBe('Initial password');
    await expectAccessible(page, '/admin/users (refused)');
    await page.screenshot({ path: `${SCREENSHOTS}user-new-errors-390.png`, fullPage: true });
  });

  test('after saving a user the page says what was saved, by name', async () => {
    const page = await signedInPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`/admin/users/${longUserId}`);
    await page.getByLabel('Full name').fill('Maximiliana Featherstonehaugh');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(`${real.baseUrl}/admin/users/${longUserId}?done=saved`);
    expect(await page.getByRole('status').textContent()).toBe(`Changes to ${LONG_USERS[0]!.login} saved.`);
    expect(await page.getByRole('link', { name: 'Back to all users' }).first().getAttribute('href')).toBe('/admin/users');
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}user-saved-1280.png`, fullPage: true });
  });

  test('in the dark colour scheme every page is still axe-clean', async () => {
    const page = await signedInPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
    for (const { name, path } of PAGES) {
      await page.goto(path());
      await expectAccessible(page, `${path()} (dark)`);
      if (name === 'users' || name === 'mail-queue') await page.screenshot({ path: `${SCREENSHOTS}${name}-dark-1280.png`, fullPage: true });
    }
  });
});
