// A site administrator's first hour with Haven, in a real browser (Debian's Chromium) against
// the real server over HTTPS with the embedded database: first-admin setup, login, creating a
// user, that user's forced password change and missing admin rights, the idle-logout warning
// (with and without JavaScript) and logout. DESIGN §1.1, §1.2, §2.3.
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { expectOpenPagesAccessible } from '../helpers/axe.ts';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { sql } from 'drizzle-orm';
import { hashToken } from '../../src/security/tokens.ts';
import { SESSION_COOKIE } from '../../src/sessions/service.ts';
import { launchBrowser, newContext } from '../helpers/browser.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';

const ADMIN = { login: 'ada', fullName: 'Ada Lovelace', email: 'ada@example.org', password: 'tulip7orbit-analytical' };
const PARALEGAL = { login: 'pat', fullName: 'Pat Quill', email: 'pat@example.org', initial: '9lanterns-k-initial', changed: 'copper4heron-marsh' };

// Fake-clock steps (page.clock.fastForward is relative): the page warns five minutes before
// the default 90-minute idle timeout, at minute 85.
// (Playwright's time strings refuse minutes above 59, hence milliseconds.)
const MINUTE = 60_000;
const BEFORE_WARNING = 84 * MINUTE;
const INTO_WARNING = 2 * MINUTE; // minute 86
const PAST_TIMEOUT = 7 * MINUTE; // minute 91 after the extension at minute 84

let real: RealHaven;
let browser: Browser;
const contexts: BrowserContext[] = [];
const noScript = new Set<BrowserContext>();

async function context(options: Parameters<typeof newContext>[2] = {}): Promise<BrowserContext> {
  const created = await newContext(browser, real.baseUrl, options);
  contexts.push(created);
  if (options.javaScriptEnabled === false) noScript.add(created);
  return created;
}

function path(page: Page): string {
  const url = new URL(page.url());
  return url.pathname + url.search;
}

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

async function logIn(page: Page, login: string, password: string): Promise<void> {
  await page.goto('/login');
  // DESIGN §2.3: the login form's fields are named `login` and `password`.
  expect(await page.getByLabel('Login name').getAttribute('name')).toBe('login');
  expect(await page.getByLabel('Password').getAttribute('name')).toBe('password');
  await page.getByLabel('Login name').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
}

beforeAll(async () => {
  [real, browser] = await Promise.all([startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir') }), launchBrowser()]);
});

// Every page a step ends on passes axe-core (WCAG 2.1 AA), issue 9.
afterEach(async () => {
  // (Not the context without JavaScript: axe-core runs as a script in the page.)
  await expectOpenPagesAccessible(contexts.filter((c) => !noScript.has(c)));
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await real?.stop();
});

// The steps build on each other (vitest runs them in order): one administrator's journey.
describe('the administrator journey in a browser', () => {
  let adminPage: Page;
  let paralegalContext: BrowserContext;
  let paralegalPage: Page;

  test('the printed setup URL creates the first Site Administrator', async () => {
    expect(real.setupUrl).toMatch(new RegExp(`^${real.baseUrl}/setup/[A-Za-z0-9_-]{20,}$`));
    adminPage = await (await context()).newPage();
    await adminPage.goto(real.setupUrl!);
    expect(await adminPage.getByRole('heading', { level: 1 }).textContent()).toBe('Create the first administrator');

    await adminPage.getByLabel('Login name').fill(ADMIN.login);
    await adminPage.getByLabel('Full name').fill(ADMIN.fullName);
    await adminPage.getByLabel('E-mail').fill(ADMIN.email);
    await adminPage.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await adminPage.getByLabel('Password again').fill(ADMIN.password);
    await adminPage.getByRole('button', { name: 'Create administrator' }).click();

    await adminPage.waitForURL(`${real.baseUrl}/login?reason=setup`);
    expect(await text(adminPage, 'p.notice')).toBe('The administrator account was created. Log in with it now.');

    // One-time: the same link no longer works.
    const again = await (await context()).newPage();
    const response = await again.goto(real.setupUrl!);
    expect(response?.status()).toBe(404);
    expect(await again.getByRole('heading', { level: 1 }).textContent()).toBe('Setup link not valid');
  });

  test('the administrator logs in and sees the dashboard with their name', async () => {
    await logIn(adminPage, ADMIN.login, ADMIN.password);
    expect(path(adminPage)).toBe('/');
    expect(await adminPage.getByRole('heading', { level: 1 }).textContent()).toBe('Dashboard');
    expect(await text(adminPage, 'main')).toContain(`Welcome, ${ADMIN.fullName}. You are signed in as ${ADMIN.login} (Site Administrator).`);
    expect(await text(adminPage, 'nav')).toContain(ADMIN.fullName);
    await adminPage.screenshot({ path: '/tmp/haven-dashboard.png', fullPage: true });
  });

  test('Admin > Users > Create user makes a Paralegal', async () => {
    await adminPage.getByRole('link', { name: 'Users', exact: true }).click();
    await adminPage.waitForURL(`${real.baseUrl}/admin/users`);
    expect(await adminPage.getByRole('heading', { level: 1 }).textContent()).toBe('Users');

    await adminPage.getByRole('button', { name: 'Create user' }).click();
    await adminPage.waitForURL(`${real.baseUrl}/admin/users/new`);
    await adminPage.getByLabel('Login name').fill(PARALEGAL.login);
    await adminPage.getByLabel('Full name').fill(PARALEGAL.fullName);
    await adminPage.getByLabel('E-mail').fill(PARALEGAL.email);
    await adminPage.getByLabel('Role').selectOption({ label: 'Paralegal' });
    await adminPage.getByLabel('Initial password').fill(PARALEGAL.initial);
    await adminPage.getByRole('button', { name: 'Create user' }).click();

    await adminPage.waitForURL(/\/admin\/users\/[0-9a-f-]{36}\?done=created$/);
    expect(await adminPage.getByRole('status').textContent()).toBe(`User ${PARALEGAL.login} created.`);
    expect(await adminPage.getByRole('heading', { level: 1 }).textContent()).toBe(`User ${PARALEGAL.login}`);
    expect(await adminPage.getByLabel('Full name').inputValue()).toBe(PARALEGAL.fullName);
    expect(await adminPage.getByLabel('E-mail').inputValue()).toBe(PARALEGAL.email);
    const role = adminPage.getByLabel('Role');
    expect(await role.locator('option:checked').textContent()).toBe('Paralegal');

    await adminPage.getByRole('link', { name: 'Users', exact: true }).click();
    const row = adminPage.getByRole('row').filter({ hasText: PARALEGAL.email });
    expect(await row.getByRole('cell').allTextContents()).toEqual([PARALEGAL.login, PARALEGAL.fullName, PARALEGAL.email, 'Paralegal', 'Yes', 'never']);
  });

  test('the administrator logs out', async () => {
    await adminPage.getByRole('button', { name: 'Log out' }).click();
    await adminPage.waitForURL(`${real.baseUrl}/login?reason=logout`);
    expect(await text(adminPage, 'p.notice')).toBe('You have logged out.');
    await adminPage.goto('/admin/users');
    expect(path(adminPage)).toBe('/login?next=%2Fadmin%2Fusers');
  });

  test('the new user must change the password first, then has no admin pages', async () => {
    paralegalContext = await context();
    paralegalPage = await paralegalContext.newPage();
    await logIn(paralegalPage, PARALEGAL.login, PARALEGAL.initial);

    expect(path(paralegalPage)).toBe('/password/change');
    expect(await paralegalPage.getByRole('status').textContent()).toBe('Your password must be changed before you continue.');
    // Nothing else is reachable before the change.
    await paralegalPage.goto('/');
    expect(path(paralegalPage)).toBe('/password/change');

    await paralegalPage.getByLabel('Current password').fill(PARALEGAL.initial);
    await paralegalPage.getByLabel(/^New password(?! again)/).fill(PARALEGAL.changed);
    await paralegalPage.getByLabel('New password again').fill(PARALEGAL.changed);
    await paralegalPage.getByRole('button', { name: 'Change password' }).click();

    await paralegalPage.waitForURL(`${real.baseUrl}/?done=password-changed`);
    expect(await paralegalPage.getByRole('status').textContent()).toBe('Password changed. Your other sessions were signed out.');
    expect(await text(paralegalPage, 'main')).toContain(`Welcome, ${PARALEGAL.fullName}. You are signed in as ${PARALEGAL.login} (Paralegal).`);
    expect(await paralegalPage.getByRole('link', { name: 'Users', exact: true }).count()).toBe(0);

    const response = await paralegalPage.goto('/admin/users');
    expect(response?.status()).toBe(403);
    expect(await paralegalPage.getByRole('heading', { level: 1 }).textContent()).toBe('Not allowed');
    expect(await text(paralegalPage, 'body')).not.toContain(ADMIN.email);
  });

  test('the idle-logout warning appears, "Extend Login" works without a reload, and the page logs out at the timeout', async () => {
    const page = await paralegalContext.newPage();
    // The page's timer runs on the browser's clock; the server keeps the real one.
    await page.clock.install();
    await page.goto('/');
    const banner = page.locator('#session-warning');
    expect(await banner.getAttribute('data-timeout-seconds')).toBe(String(90 * 60));
    expect(await banner.isVisible()).toBe(false);
    await page.evaluate(() => {
      (window as unknown as { havenMarker: string }).havenMarker = 'same page';
    });

    await page.clock.fastForward(BEFORE_WARNING);
    expect(await banner.isVisible()).toBe(false);

    await page.clock.fastForward(INTO_WARNING);
    await banner.waitFor({ state: 'visible', timeout: 5_000 });
    expect(await text(page, '#session-warning p')).toMatch(/^Your session will end in [34]:[0-5]\d because of inactivity\.$/);
    const extend = page.getByRole('button', { name: 'Extend Login' });
    expect(await extend.getAttribute('id')).toBe('extend-login');

    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/session/extend' && r.request().method() === 'POST'),
      extend.click(),
    ]);
    expect(response.status()).toBe(200);
    expect(await response.json()).toEqual({ secondsLeft: 90 * 60 });
    await banner.waitFor({ state: 'hidden', timeout: 5_000 });
    expect(await page.evaluate(() => (window as unknown as { havenMarker?: string }).havenMarker)).toBe('same page');
    expect(path(page)).toBe('/');

    // The extension restarted the countdown: 84 minutes later (170 since the page loaded), no
    // warning yet...
    await page.clock.fastForward(BEFORE_WARNING);
    expect(await banner.isVisible()).toBe(false);
    expect(path(page)).toBe('/');
    // ...and past the timeout the page asks the server, which (the session really being idle
    // now: aged on the server, whose clock is the real one) sends it to the login page.
    const token = (await page.context().cookies()).find((c) => c.name === SESSION_COOKIE)!.value;
    await real.haven.app.database.rows(sql`UPDATE sessions SET last_seen_at = last_seen_at - interval '2 hours' WHERE id = ${hashToken(token)}`);
    await page.clock.fastForward(PAST_TIMEOUT);
    await page.waitForURL(/\/login\?.*reason=timeout/, { timeout: 10_000 });
    expect(await text(page, 'p.notice')).toBe('You were logged out after a period of inactivity.');
    await page.close();
    // The timed-out session was this context's only one: sign in again for the next step.
    await logIn(paralegalPage, PARALEGAL.login, PARALEGAL.changed);
  });

  test('logging out ends the session: / then leads to the login page', async () => {
    await paralegalPage.goto('/');
    expect(path(paralegalPage)).toBe('/');
    const session = (await paralegalContext.cookies()).find((c) => c.name === SESSION_COOKIE);
    expect(session, 'the session cookie').toMatchObject({ secure: true, httpOnly: true, sameSite: 'Lax', path: '/' });

    await paralegalPage.getByRole('button', { name: 'Log out' }).click();
    await paralegalPage.waitForURL(`${real.baseUrl}/login?reason=logout`);
    await paralegalPage.goto('/');
    expect(path(paralegalPage)).toBe('/login?next=%2F');

    // The session is gone on the server, not only from this browser's cookie jar.
    const replay = await context();
    await replay.addCookies([{ ...session!, domain: 'localhost', path: '/' }]);
    const page = await replay.newPage();
    await page.goto('/');
    expect(path(page)).toBe('/login?next=%2F');
  });

  test('without JavaScript the warning is revealed by CSS and "Extend Login" is a plain form', async () => {
    const noJs = await context({ javaScriptEnabled: false });
    const page = await noJs.newPage();
    await logIn(page, ADMIN.login, ADMIN.password);
    await page.goto('/admin/users');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Users');

    const banner = page.locator('#session-warning');
    expect(await banner.getAttribute('class')).toBe('session-warning'); // no js-timer: session.js did not run
    expect(await banner.isVisible()).toBe(false);
    const style = await page.locator('style[nonce]').textContent();
    const delay = Number(/#session-warning\{animation-delay:(\d+(?:\.\d+)?)s\}/.exec(style ?? '')?.[1]);
    expect(delay).toBeGreaterThan(5100 - 30);
    expect(delay).toBeLessThanOrEqual(5100);
    expect(await banner.evaluate((el) => getComputedStyle(el).animationName)).toBe('haven-reveal');

    // Let the document's animations run 100,000 times faster: the 85-minute delay passes in ~50 ms.
    const cdp = await noJs.newCDPSession(page);
    await cdp.send('Animation.enable');
    await cdp.send('Animation.setPlaybackRate', { playbackRate: 100_000 });
    await banner.waitFor({ state: 'visible', timeout: 5_000 });

    const [request] = await Promise.all([
      page.waitForRequest((r) => new URL(r.url()).pathname === '/session/extend' && r.method() === 'POST'),
      page.getByRole('button', { name: 'Extend Login' }).click(),
    ]);
    const form = new URLSearchParams(request.postData() ?? '');
    expect(form.get('return')).toBe('/admin/users');
    expect(form.get('_csrf')).toBeTruthy();
    await page.waitForURL(`${real.baseUrl}/admin/users`);
    expect((await request.response())?.status()).toBe(303);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Users');
  });
});
