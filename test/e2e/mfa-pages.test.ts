// The MFA pages and My Preferences in a real browser (Debian's Chromium) against the real HTTPS
// server without a mail relay, on a ManualClock (so that a re-authentication can be made due
// without waiting): the QR code's drawn size at 1280 and 390 px, the copy buttons (clipboard)
// and their absence without JavaScript, the recovery codes' text file, and axe-core (WCAG 2.1 AA)
// on every page of the journey. Issue 9; DESIGN §1.3, §2.3.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { runCommand } from '../../src/cli/commands.ts';
import { ManualClock } from '../../src/clock.ts';
import { EMAIL_UNAVAILABLE_REASON } from '../../src/security/mfa.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { launchBrowser, newContext } from '../helpers/browser.ts';
import { appCode } from '../helpers/mfa.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';

const PASSWORD = 'tulip7orbit-haven';
const MINUTE = 60_000;
const RECOVERY_CODE = /^[a-z2-9]{5}-[a-z2-9]{5}$/;

let real: RealHaven;
let browser: Browser;
const clock = new ManualClock();
const contexts: BrowserContext[] = [];

async function newPage(options: BrowserContextOptions = {}): Promise<Page> {
  const created = await newContext(browser, real.baseUrl, options);
  contexts.push(created);
  return created.newPage();
}

function path(page: Page): string {
  const url = new URL(page.url());
  return url.pathname + url.search;
}

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

async function createUser(login: string): Promise<void> {
  const result = await runCommand(real.haven.app, {
    argv: ['users', 'create', '--login', login, '--email', `${login}@example.org`, '--role', 'Paralegal', '--name', `User ${login}`, '--password-stdin'],
    stdin: `${PASSWORD}\n`,
  });
  expect(result, result.stderr).toMatchObject({ code: 0 });
}

async function logIn(page: Page, login: string): Promise<void> {
  await page.goto('/login');
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
  expect(path(page)).toBe('/');
}

async function submitCode(page: Page, code: string): Promise<void> {
  const field = page.locator('input[name="code"]');
  await field.fill(code);
  await Promise.all([page.waitForNavigation(), field.press('Enter')]);
}

/** Enable MFA → the chooser (no e-mail: no relay) → the app page. */
async function toAppPage(page: Page, options: { axe?: boolean } = {}): Promise<void> {
  await page.goto('/mfa/enrol');
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Enable multifactor authentication');
  expect(await page.locator('input[name="method"][value="email"]').count()).toBe(0);
  expect(await text(page, 'main')).toContain(EMAIL_UNAVAILABLE_REASON);
  expect(await page.locator('input[name="method"][value="app"]').isChecked()).toBe(true);
  if (options.axe) await expectAccessible(page, '/mfa/enrol (choose a method)');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${real.baseUrl}/mfa/enrol`);
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Set up your authenticator app');
}

/** The QR code as drawn: an image with a name, between 200 and 260 px wide and as tall. */
async function expectQrSize(page: Page): Promise<void> {
  const qr = page.getByRole('img', { name: /QR code/ });
  expect(await qr.count()).toBe(1);
  await qr.scrollIntoViewIfNeeded();
  expect(await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
  const box = (await qr.boundingBox())!;
  expect(box.width).toBeGreaterThanOrEqual(200);
  expect(box.width).toBeLessThanOrEqual(260);
  expect(Math.abs(box.height - box.width)).toBeLessThan(1);
  // It fits the screen, and so does the key beside it.
  const viewport = page.viewportSize()!.width;
  expect(box.x + box.width).toBeLessThanOrEqual(viewport);
  const key = (await page.locator('#mfa-manual-key').boundingBox())!;
  expect(key.x + key.width).toBeLessThanOrEqual(viewport);
}

const clipboard = (page: Page) => page.evaluate(() => navigator.clipboard.readText());

beforeAll(async () => {
  [real, browser] = await Promise.all([startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir'), clock }), launchBrowser()]);
  expect(real.haven.app.config.smtpUrl).toBeUndefined();
  await Promise.all(['lena', 'milo', 'nils'].map(createUser));
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await real?.stop();
});

describe('MFA pages at 1280 px, with JavaScript and the clipboard', () => {
  let page: Page;
  let secret: string;

  test('My Preferences, the chooser and the app page are accessible; the QR code is 200–260 px; "Copy key" copies the exact key', async () => {
    page = await newPage({ viewport: { width: 1280, height: 800 }, permissions: ['clipboard-read', 'clipboard-write'] });
    await logIn(page, 'lena');
    await page.goto('/preferences');
    expect(await text(page, '#mfa-status')).toBe('Off: you sign in with your password only.');
    await expectAccessible(page, '/preferences (MFA off)');
    await toAppPage(page, { axe: true });
    await expectAccessible(page, '/mfa/enrol (authenticator app)');
    await expectQrSize(page);

    secret = await text(page, '#mfa-manual-key');
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    // The key in groups of four for the eye.
    expect(await text(page, '.manual-key-groups')).toBe(secret.match(/.{4}/g)!.join(' '));
    const copy = page.getByRole('button', { name: 'Copy key' });
    expect(await copy.isVisible()).toBe(true);
    await copy.click();
    await expect.poll(() => text(page, '#mfa-manual-key-copied')).toBe('Copied');
    expect(await clipboard(page)).toBe(secret);
  });

  test('the recovery codes: accessible, "Copy all" copies the ten, the text file holds them; My Preferences then says so', async () => {
    await submitCode(page, appCode(secret, clock.now()));
    expect(path(page)).toBe('/mfa/recovery-codes');
    expect(await text(page, '[role="status"]')).toBe('Multifactor authentication is on.');
    const codes = await page.locator('#recovery-codes code').allTextContents();
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(RECOVERY_CODE);
    await expectAccessible(page, '/mfa/recovery-codes (the codes)');

    expect(await page.getByRole('button', { name: 'Print' }).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Copy all' }).click();
    await expect.poll(() => text(page, '#recovery-codes-copied')).toBe('Copied');
    expect(await clipboard(page)).toBe(codes.join('\n'));

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download as text file' }).click()]);
    expect(download.suggestedFilename()).toBe('haven-recovery-codes-lena.txt');
    const file = await readFile((await download.path())!, 'utf8');
    expect(file).toContain('Account: lena');
    expect(file).toContain(`Site: ${real.baseUrl}`);
    expect(file.split('\n').filter((l) => RECOVERY_CODE.test(l))).toEqual(codes);

    await page.getByRole('link', { name: 'Go to My Preferences' }).click();
    await page.waitForURL(`${real.baseUrl}/preferences`);
    expect(await text(page, '#mfa-status')).toBe('On, with an authenticator app.');
    expect(await text(page, '#recovery-code-count')).toBe('10 unused recovery codes.');
    await expectAccessible(page, '/preferences (MFA on)');
  });

  test('new recovery codes after a re-authentication (password, then code): each page accessible', async () => {
    clock.advance(6 * MINUTE);
    await page.getByRole('link', { name: 'Recovery codes' }).click();
    await page.waitForURL(`${real.baseUrl}/mfa/recovery-codes`);
    expect(await text(page, '#recovery-code-count')).toMatch(/^You have 10 unused recovery codes\./);
    await expectAccessible(page, '/mfa/recovery-codes (count)');
    await page.getByRole('button', { name: 'Make ten new codes' }).click();
    await page.waitForURL(/\/reauth\?next=/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe("Confirm it's you");
    await expectAccessible(page, '/reauth (password)');
    await page.getByLabel('Password').fill(PASSWORD);
    await Promise.all([page.waitForNavigation(), page.getByLabel('Password').press('Enter')]);
    expect(await page.locator('input[name="code"]').count()).toBe(1);
    await expectAccessible(page, '/reauth (code)');
    clock.advance(30_000);
    await submitCode(page, appCode(secret, clock.now()));
    expect(path(page)).toBe('/mfa/recovery-codes');
    await page.getByRole('button', { name: 'Make ten new codes' }).click();
    await page.waitForURL(`${real.baseUrl}/mfa/recovery-codes?done=new-codes`);
    expect(await text(page, '[role="status"]')).toBe('New recovery codes made: the old ones no longer work.');
    expect(await page.locator('#recovery-codes code').count()).toBe(10);
  });
});

describe('MFA pages at 390 px', () => {
  test('the QR code keeps its 200–260 px and fits; the app page is accessible', async () => {
    const page = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await logIn(page, 'milo');
    await toAppPage(page);
    await expectQrSize(page);
    await expectAccessible(page, '/mfa/enrol (authenticator app, 390 px)');
  });
});

describe('MFA pages without JavaScript', () => {
  test('no copy or print button is shown; the key and the codes are there, and the text file downloads', async () => {
    const page = await newPage({ viewport: { width: 1280, height: 800 }, javaScriptEnabled: false });
    await logIn(page, 'nils');
    await toAppPage(page);
    await expectQrSize(page);
    expect(await page.locator('button[data-copy-target]').count()).toBe(1);
    expect(await page.locator('button[data-copy-target]').isVisible()).toBe(false);
    const secret = await text(page, '#mfa-manual-key');
    expect(await page.locator('#mfa-manual-key').isVisible()).toBe(true);
    await submitCode(page, appCode(secret, clock.now()));
    expect(path(page)).toBe('/mfa/recovery-codes');
    const codes = await page.locator('#recovery-codes code').allTextContents();
    expect(codes).toHaveLength(10);
    for (const name of ['Print', 'Copy all']) expect(await page.getByRole('button', { name }).count()).toBe(0);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download as text file' }).click()]);
    const file = await readFile((await download.path())!, 'utf8');
    expect(file.split('\n').filter((l) => RECOVERY_CODE.test(l))).toEqual(codes);
  });
});
