// Admin > Backups in a browser (issue 12): a Site Administrator of a site on the embedded
// database presses "Back up now", the page follows the backup and its restore test by itself,
// and ends on the verified result and the backup's row. axe (WCAG 2.1 AA) at 1280 and 390 px.
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchBrowser, newContext, signInThroughPage } from '../helpers/browser.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';
import { runCommand } from '../../src/cli/commands.ts';

const PASSWORD = 'tulip7orbit-haven';

describe('Admin > Backups in a browser', () => {
  let real: RealHaven;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    real = await startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir') });
    const created = await runCommand(real.haven.app, { argv: ['users', 'create', '--login', 'root', '--email', 'root@example.org', '--role', 'Site Administrator', '--password-stdin'], stdin: `${PASSWORD}\n` });
    expect(created.code, created.stderr).toBe(0);
    browser = await launchBrowser();
    context = await newContext(browser, real.baseUrl, { viewport: { width: 1280, height: 800 } });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await real?.stop();
  });

  test('"Back up now" shows its progress and ends on the verified backup', async () => {
    const page = await context.newPage();
    await signInThroughPage(page, real.baseUrl, 'root', PASSWORD);
    await page.getByRole('list', { name: 'Admin' }).getByRole('link', { name: 'Backups' }).click();
    await page.waitForURL(`${real.baseUrl}/admin/backups`);
    expect(await page.locator('#backups').count()).toBe(0);
    await expectAccessible(page, 'backups before any');
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.waitForURL(`${real.baseUrl}/admin/backups`);
    // The page reloads itself every 2 seconds while a backup or its restore test runs.
    const seen: string[] = [];
    await expect
      .poll(
        async () => {
          const progress = page.locator('#backup-progress');
          if (await progress.count()) seen.push((await progress.textContent()) ?? '');
          return page.getByText(/The restore test of backup \S+ passed/).count();
        },
        { timeout: 60_000, interval: 200 },
      )
      .toBe(1);
    expect(seen.length, 'the progress was shown while the backup ran').toBeGreaterThan(0);
    expect(seen[0]).toMatch(/(Backup|Restore test) under way since/);
    const row = page.locator('#backups tbody tr');
    expect(await row.count()).toBe(1);
    expect(await row.first().textContent()).toMatch(/Verified/);
    await expectAccessible(page, 'backups after a verified backup');
    await page.setViewportSize({ width: 390, height: 844 });
    await expectAccessible(page, 'backups at 390 px');
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
  });
});
