// Every page, on a desktop and on a phone (issue 9): each GET route of the access table that
// answers with a page, at 1280 px and at 390 px, signed in as a Site Administrator (and the
// public pages signed out): no horizontal scrolling of the page, no axe-core violation
// (WCAG 2.1 AA), and a screenshot kept under test-artifacts/screenshots/.
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { sql } from 'drizzle-orm';
import { launchBrowser, newContext } from '../helpers/browser.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { accessTable } from '../../src/web/access.ts';
import { TestClient } from '../helpers/client.ts';
import { APPLICANT, runIntake } from '../cases/helpers.ts';

const PASSWORD = 'tulip7orbit-haven';
const SCREENSHOTS = 'test-artifacts/screenshots';
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

let real: RealHaven;
let caseId: string;
let applicationId: string;
let browser: Browser;
const contexts: BrowserContext[] = [];

async function create(login: string, role: string, name: string): Promise<void> {
  const result = await runCommand(real.haven.app, {
    argv: ['users', 'create', '--login', login, '--email', `${login}@example.org`, '--role', role, '--name', name, '--password-stdin'],
    stdin: `${PASSWORD}\n`,
  });
  expect(result, result.stderr).toMatchObject({ code: 0 });
}

async function signedIn(viewport: (typeof VIEWPORTS)[number]): Promise<Page> {
  const ctx = await newContext(browser, real.baseUrl, { viewport: { width: viewport.width, height: viewport.height } });
  contexts.push(ctx);
  const page = await ctx.newPage();
  await page.goto('/login');
  await page.getByLabel('Login name').fill('root');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL(`${real.baseUrl}/`);
  return page;
}

async function expectNoHorizontalScroll(page: Page, what: string): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  expect(scrollWidth, `${what}: page is ${scrollWidth} px wide in a ${innerWidth} px window`).toBeLessThanOrEqual(innerWidth);
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  [real, browser] = await Promise.all([startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir') }), launchBrowser()]);
  await create('root', 'Site Administrator', 'Root Administrator');
  // Long names and addresses, as real offices have them, to find what does not wrap.
  await create('maria.fernanda.gonzalez-villanueva', 'Paralegal', 'María Fernanda González-Villanueva de la Cruz');
  await create('intake-desk-weekend-volunteers', 'Intake Worker', 'Intake desk (weekend volunteers, second floor)');
  // A little history for the audit log and the mail queue.
  await runCommand(real.haven.app, { argv: ['settings', 'set', 'session_timeout_minutes', '60'] });
  // A case with a conflict and an application in progress, so that /cases/:id and /intake/:id are real pages.
  const worker = new TestClient(real.haven.server);
  await worker.login('root', PASSWORD);
  caseId = (await runIntake(worker, APPLICANT)).url.split('/').pop()!;
  await runIntake(worker, { ...APPLICANT, first_name: 'Mariah', last_name: 'Gonzales', adverse_parties: 'Acme Property Management LLC of Greater Boston and Cambridge' });
  applicationId = (await worker.submit('/intake', { problem_code: '63', postal_code: '02139', county: 'Middlesex' })).location!.split('/').pop()!;
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await real?.stop();
});

/** Every GET route that answers with a page, with its parameters filled in. */
async function pageUrls(): Promise<string[]> {
  const [user] = await real.haven.app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login = 'maria.fernanda.gonzalez-villanueva'`);
  const skip = new Set(['/assets/:name', '/healthz', '/readyz', '/session/status', '/setup/:token', '/login/mfa', '/login']);
  return [
    ...new Set(
      accessTable(real.haven.server)
        // The API's JSON (/api/v1/…, declared `api`) is no page; its docs page is.
        .filter((r) => r.method === 'GET' && !skip.has(r.url) && !(r.url.startsWith('/api/') && r.url !== '/api/v1/docs'))
        .map((r) => r.url.replace(':id', r.url.startsWith('/cases/') ? caseId : r.url.startsWith('/intake/') ? applicationId : user!.id)),
    ),
  ].sort();
}

describe.each(VIEWPORTS)('every page at $width px ($name)', (viewport) => {
  test('signed out: the login page and an expired setup link', async () => {
    const ctx = await newContext(browser, real.baseUrl, { viewport: { width: viewport.width, height: viewport.height } });
    contexts.push(ctx);
    const page = await ctx.newPage();
    for (const [url, name] of [
      ['/login', 'login'],
      ['/login?reason=timeout', 'login-timeout'],
      ['/setup/not-a-valid-token', 'setup-expired'],
    ] as const) {
      await page.goto(url);
      await expectNoHorizontalScroll(page, `${url} at ${viewport.width}`);
      await expectAccessible(page, `${url} at ${viewport.width}`);
      await page.screenshot({ path: `${SCREENSHOTS}/${name}-${viewport.width}.png`, fullPage: true });
    }
  }, 120_000);

  test('signed in as a Site Administrator: every page of the access table', async () => {
    const page = await signedIn(viewport);
    const urls = await pageUrls();
    expect(urls.length).toBeGreaterThan(10);
    for (const url of urls) {
      const response = await page.goto(url);
      const landed = new URL(page.url()).pathname;
      const what = `${url} (${response?.status()}, at ${landed}) at ${viewport.width}`;
      expect(response?.status(), what).toBeLessThan(500);
      await expectNoHorizontalScroll(page, what);
      await expectAccessible(page, what);
      const name = url.replace(/^\//, '').replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '') || 'dashboard';
      await page.screenshot({ path: `${SCREENSHOTS}/${name}-${viewport.width}.png`, fullPage: true });
    }
    // An error page too.
    await page.goto('/no/such/page');
    await expectNoHorizontalScroll(page, '404');
    await expectAccessible(page, '404');
  }, 240_000);
});
