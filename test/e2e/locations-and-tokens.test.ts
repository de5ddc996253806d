// Issue 13 in a browser. Admin > Locations: a Site Administrator defines the office network,
// is stopped by a clear message from locking themselves out, fixes a range the page refused
// beside its field, and gives the network a shorter timeout that their own session then
// follows. My Preferences > API tokens: a user makes a token, sees it once, uses it, and
// revokes it. axe (WCAG 2.1 AA) at 1280 and 390 px.
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchBrowser, newContext, signInThroughPage } from '../helpers/browser.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';
import { runCommand } from '../../src/cli/commands.ts';

const PASSWORD = 'tulip7orbit-haven';

describe('Admin > Locations in a browser', () => {
  let real: RealHaven;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    real = await startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir') });
    const created = await runCommand(real.haven.app, { argv: ['users', 'create', '--login', 'root', '--email', 'root@example.org', '--role', 'Site Administrator', '--password-stdin'], stdin: `${PASSWORD}\n` });
    expect(created.code, created.stderr).toBe(0);
    const integration = await runCommand(real.haven.app, { argv: ['users', 'create', '--login', 'ivan', '--name', 'Ivan Integrations', '--email', 'ivan@example.org', '--role', 'API Client', '--password-stdin'], stdin: `${PASSWORD}\n` });
    expect(integration.code, integration.stderr).toBe(0);
    browser = await launchBrowser();
    context = await newContext(browser, real.baseUrl, { viewport: { width: 1280, height: 800 } });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await real?.stop();
  });

  test('an administrator defines the office network through the page', async () => {
    const page = await context.newPage();
    await signInThroughPage(page, real.baseUrl, 'root', PASSWORD);
    await page.getByRole('list', { name: 'Admin' }).getByRole('link', { name: 'Locations' }).click();
    await page.waitForURL(`${real.baseUrl}/admin/locations`);
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/You are connected from 127\.0\.0\.1.*No network is marked internal yet/);
    await expectAccessible(page, 'locations, none yet');

    // An internal network that leaves out the administrator's own address: refused, nothing saved.
    await page.getByLabel('Name').fill('Main office');
    await page.getByLabel('Address ranges').fill('10.0.0.0/8');
    await page.getByLabel('Internal network').check();
    await page.getByRole('button', { name: 'Add network' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/would lock you out: your address 127\.0\.0\.1/);
    expect(await page.locator('#no-networks').count()).toBe(1);

    // Adding the address with a typing mistake: the error is beside the field, what was typed is kept.
    await page.getByLabel('Address ranges').fill('10.0.0.0/8\n127.0.0.1/8');
    await page.getByRole('button', { name: 'Add network' }).click();
    const rangesError = page.locator('#ranges-error');
    await expect.poll(() => rangesError.textContent()).toMatch(/"127\.0\.0\.1\/8" has bits set after the first 8; the range is written 127\.0\.0\.0\/8/);
    expect(await page.getByLabel('Address ranges').getAttribute('aria-describedby')).toContain('ranges-error');
    expect(await page.getByLabel('Name').inputValue()).toBe('Main office');
    await expectAccessible(page, 'locations with a refused range');

    await page.getByLabel('Address ranges').fill('10.0.0.0/8\n127.0.0.0/8');
    await page.getByLabel('Internal network').check();
    await page.getByLabel('Automatic logout after inactivity (minutes)').fill('30');
    await page.getByRole('button', { name: 'Add network' }).click();
    await page.waitForURL(`${real.baseUrl}/admin/locations?saved=added`);
    expect(await page.getByRole('status').first().textContent()).toContain('Network added.');
    const row = page.locator('#networks tbody tr');
    expect(await row.count()).toBe(1);
    expect((await row.first().innerText()).replace(/\s+/g, ' ')).toMatch(/Main office 10\.0\.0\.0\/8 127\.0\.0\.0\/8 Internal 30 min/);
    await expect.poll(() => page.getByRole('status').nth(1).textContent()).toMatch(/in network Main office: your session uses the Internal permissions/);
    // The administrator's own session now follows the network's 30 minutes.
    // (A real clock: activity is recorded every 15 seconds, so a few seconds may have gone.)
    const left = Number(await page.locator('[data-seconds-left]').first().getAttribute('data-seconds-left'));
    expect(left).toBeGreaterThan(1740);
    expect(left).toBeLessThanOrEqual(1800);
    await expectAccessible(page, 'locations with a network');

    await page.setViewportSize({ width: 390, height: 844 });
    await expectAccessible(page, 'locations at 390 px');
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);

    // The command sees what the page saved.
    const listed = await runCommand(real.haven.app, { argv: ['locations', 'list'] });
    expect(listed.stdout).toBe('Main office\tinternal\t10.0.0.0/8,127.0.0.0/8\ttimeout=30\tforced-role=-\n');
  });

  test('a user makes an API token, sees it once, uses it, and revokes it', async () => {
    const tokenContext = await newContext(browser, real.baseUrl, { viewport: { width: 390, height: 844 } });
    try {
      const page = await tokenContext.newPage();
      await signInThroughPage(page, real.baseUrl, 'ivan', PASSWORD);
      await page.goto('/preferences');
      await expectAccessible(page, 'preferences with API tokens at 390 px');
      await page.getByLabel('Token name').fill('Court e-filing sync');
      await page.getByLabel('Expires after (days)').fill('90');
      await page.getByRole('button', { name: 'Create token' }).click();
      await page.waitForURL(/\/preferences\?done=token-created/);
      const token = ((await page.locator('#new-token').textContent()) ?? '').trim();
      expect(token).toMatch(/^hvn_[A-Za-z0-9_-]{43}$/);
      await expectAccessible(page, 'the new token, shown once');
      const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
      expect(scrollWidth).toBeLessThanOrEqual(innerWidth);

      // The token works against the real server, over HTTPS, from outside the browser.
      const me = await page.request.get('/api/v1/me', { headers: { authorization: `Bearer ${token}` } });
      expect(me.status()).toBe(200);
      expect(await me.json()).toMatchObject({ login: 'ivan', role: 'API Client' });

      // Shown once: a reload does not show it again; the list says when it was last used.
      await page.goto('/preferences');
      expect(await page.locator('#new-token').count()).toBe(0);
      const row = page.locator('#api-token-list tbody tr', { hasText: 'Court e-filing sync' });
      expect(await row.innerText()).toMatch(/UTC from 127\.0\.0\.1/);
      await row.getByRole('button', { name: 'Revoke Court e-filing sync' }).click();
      await page.waitForURL(/done=token-revoked/);
      expect(await page.getByRole('status').first().textContent()).toContain('The token is revoked');
      expect(await page.locator('#api-token-list tbody tr', { hasText: 'Court e-filing sync' }).innerText()).toMatch(/Revoked/);
      const refused = await page.request.get('/api/v1/me', { headers: { authorization: `Bearer ${token}` } });
      expect(refused.status()).toBe(401);
      expect(await refused.json()).toEqual({ error: 'token_revoked' });
      await expectAccessible(page, 'preferences after revoking');
    } finally {
      await tokenContext.close();
    }
  });
});
