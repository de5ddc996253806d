// Admin > Roles and Admin > Audit in a real browser (Debian's Chromium) against the real server:
// on a 390 px phone and on a desktop, the page itself never scrolls sideways (wide tables scroll
// in their own box), with a disclosure open, a long unbroken value and an IPv6 address in the
// log, and axe-core finds no WCAG 2.1 AA violation (issue 9).
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, newContext } from '../helpers/browser.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { findRoleByName } from '../../src/roles/service.ts';
import { createUser } from '../../src/users/service.ts';
import { recordAudit } from '../../src/audit/service.ts';

const PASSWORD = 'tulip7orbit-analytical';

let real: RealHaven;
let browser: Browser;

beforeAll(async () => {
  [real, browser] = await Promise.all([startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir') }), launchBrowser()]);
  const app = real.haven.app;
  const role = (await findRoleByName(app, 'Site Administrator'))!;
  const created = await createUser(app, { login: 'ada', fullName: 'Ada Lovelace', email: 'ada@example.org', roleId: role.id, password: PASSWORD }, { actor: null, ip: null, mustChangePassword: false });
  if (!created.ok) throw new Error('could not create ada');
  const ada = { id: created.id, login: 'ada' };
  await recordAudit(app, {
    action: 'role.permissions_changed',
    actor: ada,
    target: 'Attorney',
    ip: '2001:db8:85a3:0000:0000:8a2e:0370:7334',
    details: { before: { internal: ['login_internal', 'cases_view_all', 'cases_edit', 'cases_create', 'intake'], external: [] }, after: { internal: ['audit_view', 'login_internal'], external: ['login_external'] } },
  });
  await recordAudit(app, { action: 'mfa.passkey_failure', actor: ada, target: 'ada', ip: '192.0.2.1', details: { step: 'registration', error: `unbroken${'x'.repeat(120)}` } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await real?.stop();
});

test.each([390, 1280])('at %i px wide the Roles and Audit pages do not scroll sideways, and pass axe', async (width) => {
  const context = await newContext(browser, real.baseUrl, { viewport: { width, height: 800 } });
  try {
    const page = await context.newPage();
    await page.goto('/login');
    await page.getByLabel('Login name').fill('ada');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.waitForURL((url) => url.pathname !== '/login');
    for (const url of ['/admin/roles', '/admin/audit', '/admin/audit?from=2026-13-45']) {
      const response = await page.goto(url);
      expect(response!.status(), url).toBe(url.includes('2026-13-45') ? 400 : 200);
      if (url === '/admin/roles') {
        await page.locator('details.role-section summary').first().click();
        // The checkboxes keep their names; the permission's readable row describes them.
        const box = page.getByRole('checkbox', { name: 'audit_view internal', exact: true }).first();
        expect(await box.getAttribute('value')).toBe('audit_view');
        expect(await box.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby')!)?.textContent)).toContain('Audit log');
      }
      if (url === '/admin/audit') await page.locator('details.audit-details summary').first().click();
      const pageWidth = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(pageWidth, `${url} at ${width} px`).toBeLessThanOrEqual(width);
      await expectAccessible(page, url);
    }
  } finally {
    await context.close();
  }
}, 180_000);
