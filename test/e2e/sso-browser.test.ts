// Single sign-on in a browser. A Site Administrator adds an Okta provider on Admin > Single Sign
// On (a refused issuer shown beside its field, what was typed kept), turns single sign-on on;
// an Attorney signs in with Okta (a real OpenID Connect provider over HTTPS, see
// helpers/oidc-idp.ts), links the identity with the Haven password once, then signs in with the
// Okta button alone; the administrator sees the linked identity. axe (WCAG 2.1 AA) on each page,
// the link page at 390 px too.
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, newContext, signInThroughPage } from '../helpers/browser.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';
import { startTestIdp, testCa, trustTestCa, type TestIdp } from '../helpers/oidc-idp.ts';
import { runCommand } from '../../src/cli/commands.ts';

const PASSWORD = 'tulip7orbit-haven';
const CLIENT_ID = 'haven-okta';
const CLIENT_SECRET = 'okta-client-secret-for-haven-0123456789';

describe('single sign-on in a browser', () => {
  let real: RealHaven;
  let idp: TestIdp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  async function context(options: { width?: number; height?: number } = {}): Promise<BrowserContext> {
    const made = await newContext(browser, real.baseUrl, { viewport: { width: options.width ?? 1280, height: options.height ?? 800 } });
    contexts.push(made);
    return made;
  }

  /** The page's scroll width fits its window (no sideways scrolling). */
  async function expectNoSidewaysScroll(page: Page): Promise<void> {
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
  }

  beforeAll(async () => {
    // Haven runs in this process: its openid-client uses this process's global fetch, which must
    // trust the IdP's test CA before Haven fetches discovery.
    trustTestCa(await testCa());
    [real, browser] = await Promise.all([startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir') }), launchBrowser()]);
    idp = await startTestIdp({
      kind: 'okta',
      clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${real.baseUrl}/login/sso/okta/callback`] }],
    });
    for (const [login, name, role] of [
      ['root', 'Rosa Root', 'Site Administrator'],
      ['ada', 'Ada Lovelace', 'Attorney'],
    ] as const) {
      const created = await runCommand(real.haven.app, {
        argv: ['users', 'create', '--login', login, '--name', name, '--email', `${login}@example.org`, '--role', role, '--password-stdin'],
        stdin: `${PASSWORD}\n`,
      });
      expect(created.code, created.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    for (const made of contexts) await made.close().catch(() => {});
    await browser?.close();
    await idp?.close();
    await real?.stop();
  });

  let admin: Page;

  test('an administrator adds the Okta provider and turns single sign-on on', async () => {
    admin = await (await context()).newPage();
    await signInThroughPage(admin, real.baseUrl, 'root', PASSWORD);
    await admin.getByRole('list', { name: 'Admin' }).getByRole('link', { name: 'Single Sign On' }).click();
    await admin.waitForURL(`${real.baseUrl}/admin/sso`);
    expect(await admin.locator('#no-providers').textContent()).toContain('No providers yet.');
    expect(await admin.locator('#sso-policy').innerText()).toContain('Off: password login only');
    await expectAccessible(admin, 'Single Sign On, no providers yet');

    // A plain http:// issuer: refused beside its field, what was typed kept, nothing saved.
    const plainIssuer = idp.issuer.replace(/^https:/, 'http:');
    await admin.getByLabel('Name', { exact: true }).fill('okta');
    await admin.getByLabel('Kind', { exact: true }).selectOption({ label: 'Okta' });
    await admin.getByLabel('Issuer URL').fill(plainIssuer);
    await admin.getByLabel('Client id').fill(CLIENT_ID);
    await admin.getByLabel('Client secret').fill(CLIENT_SECRET);
    await admin.getByRole('button', { name: 'Add provider' }).click();
    const issuerError = admin.locator('#issuer-error');
    await expect.poll(() => issuerError.textContent()).toBe('The issuer must be an https:// address.');
    expect(await issuerError.getAttribute('role')).toBe('alert');
    expect(await admin.getByLabel('Issuer URL').getAttribute('aria-describedby')).toContain('issuer-error');
    expect(await admin.getByLabel('Issuer URL').getAttribute('aria-invalid')).toBe('true');
    expect(await admin.getByLabel('Name', { exact: true }).inputValue()).toBe('okta');
    expect(await admin.getByLabel('Issuer URL').inputValue()).toBe(plainIssuer);
    expect(await admin.getByLabel('Client id').inputValue()).toBe(CLIENT_ID);
    expect(await admin.getByLabel('Kind', { exact: true }).inputValue()).toBe('okta');
    // The secret is never sent back to the browser.
    expect(await admin.getByLabel('Client secret').inputValue()).toBe('');
    expect(await admin.locator('#no-providers').count()).toBe(1);
    await expectAccessible(admin, 'Single Sign On with a refused issuer');

    await admin.getByLabel('Issuer URL').fill(idp.issuer);
    await admin.getByLabel('Client secret').fill(CLIENT_SECRET);
    await admin.getByRole('button', { name: 'Add provider' }).click();
    await admin.waitForURL(`${real.baseUrl}/admin/sso?saved=added`);
    expect(await admin.getByRole('status').first().textContent()).toContain('Provider added.');
    const row = admin.locator('#sso-providers tbody tr');
    expect(await row.count()).toBe(1);
    const rowText = (await row.first().innerText()).replace(/\s+/g, ' ');
    expect(rowText).toContain('okta Okta');
    expect(rowText).toContain(idp.issuer);
    expect(rowText).toContain(`${real.baseUrl}/login/sso/okta/callback`);

    await admin.getByLabel('Single sign-on', { exact: true }).selectOption({ label: 'Enabled: password login and single sign-on' });
    await admin.getByRole('button', { name: 'Save policy' }).click();
    await admin.waitForURL(`${real.baseUrl}/admin/sso?saved=policy`);
    expect(await admin.getByRole('status').first().textContent()).toContain('Policy saved.');
    expect(await admin.locator('#sso-policy').innerText()).toContain('Enabled: password login and single sign-on');
    await expectAccessible(admin, 'Single Sign On with a provider, enabled');
  });

  test('a user signs in with Okta, links the account once with the Haven password, then signs in with Okta alone', async () => {
    const page = await (await context()).newPage();
    await page.goto('/login');
    const oktaButton = page.getByRole('button', { name: 'Sign in with Okta' });
    expect(await oktaButton.getAttribute('href')).toBe('/login/sso/okta');
    await expectAccessible(page, 'the login page with single sign-on');

    // Through the IdP and back, with no form there: Haven asks for the Haven password once.
    idp.nextLogin({ sub: 'okta-ada', email: 'ada@example.org', email_verified: true, name: 'Ada' });
    const tokensBefore = idp.tokenRequests();
    await oktaButton.click();
    await page.waitForURL(`${real.baseUrl}/login/sso/link`);
    expect(idp.tokenRequests()).toBe(tokensBefore + 1);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('Link your account');
    expect(await page.locator('main').innerText()).toContain('Okta signed you in as ada@example.org');
    await expectAccessible(page, 'the link page');
    await page.setViewportSize({ width: 390, height: 844 });
    await expectAccessible(page, 'the link page at 390 px');
    await expectNoSidewaysScroll(page);
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.getByLabel('Haven login name').fill('ada');
    await page.getByLabel('Haven password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Link and sign in' }).click();
    await page.waitForURL(`${real.baseUrl}/`);
    const signedInAs = page.getByRole('navigation', { name: 'Main' }).locator('.nav-user');
    await expect.poll(() => signedInAs.innerText()).toBe('Ada Lovelace');
    await expect.poll(async () => (await page.context().cookies()).some((c) => c.name === '__Host-haven_sso_link')).toBe(false);

    // Log out (header), then only the Okta button: straight to the dashboard, no link page.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${real.baseUrl}/login?reason=logout`);
    expect(await page.getByLabel('Login name').count()).toBe(1);
    const visited: string[] = [];
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) visited.push(new URL(frame.url()).pathname);
    });
    await page.getByRole('button', { name: 'Sign in with Okta' }).click();
    await page.waitForURL(`${real.baseUrl}/`);
    expect(visited).not.toContain('/login/sso/link');
    expect(idp.tokenRequests()).toBe(tokensBefore + 2);
    // Really signed in as ada: her name in the header, and a page only a signed-in user sees.
    await expect.poll(() => signedInAs.innerText()).toBe('Ada Lovelace');
    await page.goto('/preferences');
    expect(page.url()).toBe(`${real.baseUrl}/preferences`);
  });

  test('the administrator sees the identity under Linked identities', async () => {
    await admin.goto('/admin/sso');
    const identities = admin.locator('#sso-identities tbody tr');
    await expect.poll(() => identities.count()).toBe(1);
    const text = (await identities.first().innerText()).replace(/\s+/g, ' ');
    expect(text).toMatch(/^ada okta ada@example\.org their password \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
    expect(await admin.getByRole('button', { name: 'Unlink ada at okta' }).count()).toBe(1);
    expect((await admin.locator('#sso-providers tbody tr').first().innerText()).replace(/\s+/g, ' ')).toMatch(/ 1$/);
    await expectAccessible(admin, 'Single Sign On with a linked identity');
  });
});
