// Read-only mode in a browser (issue 12): a real Haven on PostgreSQL; an operator runs
// `haven failover read-only on`; the running server's monitor picks it up. A Paralegal signs in,
// reads, and tries to change her password: the banner is on every page, the save is refused
// calmly, and nothing is lost once the site takes writes again. axe (WCAG 2.1 AA) at 390 px.
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, newContext } from '../helpers/browser.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';
import { createDatabase } from '../helpers/postgres.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { runFailoverCommand } from '../../src/failover/cli.ts';
import { isReadOnly } from '../../src/failover/state.ts';

const PASSWORD = 'tulip7orbit-haven';

describe('read-only mode in a browser', () => {
  let real: RealHaven;
  let browser: Browser;
  let context: BrowserContext;

  async function failover(...args: string[]): Promise<void> {
    const err: string[] = [];
    expect(await runFailoverCommand(real.haven.app.config, args, () => {}, (l) => err.push(l)), err.join('\n')).toBe(0);
  }

  beforeAll(async () => {
    real = await startRealHaven({ databaseUrl: await createDatabase(inject('pgClusterUrl')) });
    const created = await runCommand(real.haven.app, { argv: ['users', 'create', '--login', 'pia', '--email', 'pia@example.org', '--role', 'Paralegal', '--password-stdin'], stdin: `${PASSWORD}\n` });
    expect(created.code, created.stderr).toBe(0);
    browser = await launchBrowser();
    context = await newContext(browser, real.baseUrl, { viewport: { width: 390, height: 844 } });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await real?.stop();
  });

  test('the banner is on every page, sign-in works, a save is refused calmly, and the site takes writes again', async () => {
    await failover('read-only', 'on');
    await expect.poll(() => isReadOnly(real.haven.app), { timeout: 10_000, interval: 100 }).toBe(true);

    const page = await context.newPage();
    await page.goto('/login');
    await expect.poll(() => page.locator('#read-only-banner').count()).toBe(1);
    expect(await page.locator('#read-only-banner').textContent()).toMatch(/read-only for now/);
    await expectAccessible(page, 'login while read-only');
    await page.getByLabel('Login name').fill('pia');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.waitForURL(`${real.baseUrl}/`);
    expect(await page.locator('#read-only-banner').count()).toBe(1);
    await expectAccessible(page, 'dashboard while read-only');

    await page.goto('/password/change');
    expect(await page.locator('#read-only-banner').count()).toBe(1);
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill('a-new-and-longer-passphrase-7');
    await page.getByLabel('New password again').fill('a-new-and-longer-passphrase-7');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForLoadState();
    expect(await page.locator('h1').textContent()).toBe('Read-only for now');
    expect(await page.locator('#read-only-banner').count()).toBe(1);
    expect(await page.getByRole('alert').textContent()).toMatch(/nothing was saved/);
    await expectAccessible(page, 'a refused save');

    await failover('read-only', 'off');
    await expect.poll(() => isReadOnly(real.haven.app), { timeout: 10_000, interval: 100 }).toBe(false);
    // The read-only session ended with read-only mode: sign in again, and the banner is gone.
    await page.goto('/');
    await page.waitForURL(/\/login/);
    expect(await page.locator('#read-only-banner').count()).toBe(0);
    await page.getByLabel('Login name').fill('pia');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.waitForURL(`${real.baseUrl}/`);
    expect(await page.locator('#read-only-banner').count()).toBe(0);
    // The refused change changed nothing: the old password still signs in (above).
  }, 120_000);

  test('a passkey holder signs in while read-only: the challenge travels in the sealed session', async () => {
    const created = await runCommand(real.haven.app, { argv: ['users', 'create', '--login', 'kim', '--email', 'kim@example.org', '--role', 'Attorney', '--password-stdin'], stdin: `${PASSWORD}\n` });
    expect(created.code, created.stderr).toBe(0);
    const authenticator = async (page: Page) => {
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
      });
      return { cdp, authenticatorId };
    };
    const logIn = async (page: Page) => {
      await page.goto('/login');
      await page.getByLabel('Login name').fill('kim');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in', exact: true }).click();
    };

    const enrolling = await context.newPage();
    const first = await authenticator(enrolling);
    await logIn(enrolling);
    await enrolling.waitForURL(`${real.baseUrl}/`);
    await enrolling.goto('/preferences');
    await enrolling.locator('#enable-mfa').click();
    await enrolling.waitForURL(`${real.baseUrl}/mfa/enrol`);
    await enrolling.locator('input[name="method"][value="passkey"]').check();
    await enrolling.getByRole('button', { name: 'Continue' }).click();
    await enrolling.waitForURL(`${real.baseUrl}/mfa/enrol`);
    await enrolling.locator('#passkey-register').click();
    await enrolling.waitForURL(`${real.baseUrl}/mfa/recovery-codes`);
    const { credentials } = await first.cdp.send('WebAuthn.getCredentials', { authenticatorId: first.authenticatorId });
    expect(credentials).toHaveLength(1);

    await failover('read-only', 'on');
    await expect.poll(() => isReadOnly(real.haven.app), { timeout: 10_000, interval: 100 }).toBe(true);
    // Another browser (it has not passed MFA lately) whose authenticator holds the credential.
    const elsewhere = await browser.newContext({ baseURL: real.baseUrl, ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 } });
    try {
      const page = await elsewhere.newPage();
      const second = await authenticator(page);
      await second.cdp.send('WebAuthn.addCredential', { authenticatorId: second.authenticatorId, credential: credentials[0]! });
      await logIn(page);
      await page.waitForURL(`${real.baseUrl}/login/mfa`);
      expect(await page.locator('#read-only-banner').count()).toBe(1);
      const [assertion] = await Promise.all([
        page.waitForRequest((r) => new URL(r.url()).pathname === '/login/mfa/passkey' && r.method() === 'POST'),
        page.locator('#passkey-login').click(),
      ]);
      await page.waitForURL(`${real.baseUrl}/`);
      expect(await page.locator('#read-only-banner').count()).toBe(1);
      // Signed in as kim (the account link in the navigation names the user).
      expect(await page.locator('.nav-user').textContent()).toContain('kim');

      // Someone who knows the password and captured that assertion replays it at the code step
      // of a session of their own: refused (another challenge), and they stay at the code step.
      const thief = await elsewhere.newPage();
      await elsewhere.clearCookies();
      await logIn(thief);
      await thief.waitForURL(`${real.baseUrl}/login/mfa`);
      const headers = { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': await thief.locator('form[data-webauthn] input[name="_csrf"]').inputValue() };
      expect((await thief.request.post('/login/mfa/passkey/options', { headers, data: '{}' })).status()).toBe(200);
      const replay = await thief.request.post('/login/mfa/passkey', { headers, data: assertion.postData()! });
      expect(replay.status()).toBe(400);
      await thief.goto('/');
      expect(new URL(thief.url()).pathname).toBe('/login/mfa');
    } finally {
      await elsewhere.close();
      await failover('read-only', 'off');
    }
  }, 120_000);
});
