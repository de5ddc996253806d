// Who sees which case, in a browser (DESIGN §1.4, §2.4; issue 10), against the real HTTPS server
// with the embedded database. A Supervisor takes two applications (Main Office cases). An
// Attorney limited to another office finds neither and gets the 404 page for the case's URL; an
// unrestricted Attorney finds one by name, by a sounds-alike spelling and by case number, adds a
// note, accepts it and closes it. A Pro Bono volunteer assigned to one of the two sees only
// that one: the other is missing from the lists and the search, and its URL is a 404.
// Every page a step ends on passes axe-core (WCAG 2.1 AA) at 1280 px; the case page and the
// case list also at 390 px, with no horizontal scrolling of the page.
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { sql } from 'drizzle-orm';
import { launchBrowser, newContext } from '../helpers/browser.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';
import { runCommand } from '../../src/cli/commands.ts';

const PASSWORD = 'tulip7orbit-haven';
const SUPERVISOR = 'sam';
const ATTORNEY = 'amy';
const OTHER_OFFICE_ATTORNEY = 'olga';
const PRO_BONO = 'pat';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

interface Applicant {
  first_name: string;
  last_name: string;
  date_of_birth: string;
  postal_code: string;
  county: string;
  adverse_parties: string;
}

const KATHERINE: Applicant = { first_name: 'Katherine', last_name: 'Whitfield', date_of_birth: '1979-11-02', postal_code: '02139', county: 'Middlesex', adverse_parties: 'Cambridge Realty Trust' };
const DMITRI: Applicant = { first_name: 'Dmitri', last_name: 'Volkov', date_of_birth: '1985-04-17', postal_code: '02134', county: 'Suffolk', adverse_parties: 'Allston Rentals Inc' };

let real: RealHaven;
let browser: Browser;
const contexts: BrowserContext[] = [];
/** The two cases the Supervisor creates: their ids (URL) and numbers. */
const cases: Record<'katherine' | 'dmitri', { id: string; number: string }> = { katherine: { id: '', number: '' }, dmitri: { id: '', number: '' } };

const squash = (s: string | null) => (s ?? '').replace(/\s+/g, ' ').trim();
const text = async (p: Page, selector: string) => squash(await p.locator(selector).first().textContent());
const path = (p: Page) => new URL(p.url()).pathname;

async function expectNoHorizontalScroll(p: Page, what: string): Promise<void> {
  const { scrollWidth, innerWidth } = await p.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  expect(scrollWidth, `${what}: page is ${scrollWidth} px wide in a ${innerWidth} px window`).toBeLessThanOrEqual(innerWidth);
}

/** The page as it is now: axe at 1280 px, then (for `phone`) no horizontal scroll and axe at 390 px. */
async function checkPage(p: Page, what: string, phone = false): Promise<void> {
  await expectNoHorizontalScroll(p, `${what} at ${DESKTOP.width} px`);
  await expectAccessible(p, `${what} at ${DESKTOP.width} px`);
  if (!phone) return;
  await p.setViewportSize(PHONE);
  try {
    await expectNoHorizontalScroll(p, `${what} at ${PHONE.width} px`);
    await expectAccessible(p, `${what} at ${PHONE.width} px`);
  } finally {
    await p.setViewportSize(DESKTOP);
  }
}

async function createUser(login: string, role: string, name: string): Promise<void> {
  const result = await runCommand(real.haven.app, {
    argv: ['users', 'create', '--login', login, '--email', `${login}@example.org`, '--role', role, '--name', name, '--password-stdin'],
    stdin: `${PASSWORD}\n`,
  });
  expect(result, result.stderr).toMatchObject({ code: 0 });
}

async function signIn(login: string): Promise<Page> {
  const context = await newContext(browser, real.baseUrl, { viewport: DESKTOP });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Login name').fill(login);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL(`${real.baseUrl}/`);
  return page;
}

/** Clicks a submit button; the server answers the POST with a redirect (303), then the page loads. */
async function submit(p: Page, button: string): Promise<void> {
  const posted = p.waitForResponse((r) => r.request().method() === 'POST' && r.request().isNavigationRequest());
  await p.getByRole('button', { name: button, exact: true }).click();
  const response = await posted;
  if (response.status() !== 303) {
    await p.waitForLoadState('load');
    const alerts = (await p.getByRole('alert').allTextContents()).map(squash);
    expect.fail(`POST ${new URL(response.url()).pathname} answered ${response.status()} instead of a redirect: ${alerts.join(' | ')}`);
  }
  await p.waitForURL(new URL(response.headers().location!, response.url()).href);
}

/** An application through every stage (no conflicts expected); returns the new case. */
async function intake(p: Page, a: Applicant): Promise<{ id: string; number: string }> {
  await p.goto('/intake');
  await p.getByLabel('Legal problem').selectOption('63');
  await p.getByLabel('Postal code').fill(a.postal_code);
  await p.getByLabel('County').fill(a.county);
  await submit(p, 'Continue');
  await p.getByLabel('People in the household').fill('2');
  await p.getByLabel('Household income per year (whole dollars)').fill('17000');
  await submit(p, 'Check eligibility');
  await p.getByLabel('First name').fill(a.first_name);
  await p.getByLabel('Last name').fill(a.last_name);
  await p.locator('[name="date_of_birth"]').fill(a.date_of_birth);
  await submit(p, 'Continue');
  await p.getByLabel('Adverse parties (one full name per line)').fill(a.adverse_parties);
  await submit(p, 'Run the conflict check');
  expect(await p.locator('#conflicts tbody tr').count()).toBe(0);
  await submit(p, 'Create the case');
  const id = new RegExp(`^/cases/(${UUID})$`).exec(path(p))?.[1];
  expect(id, p.url()).toBeTruthy();
  return { id: id!, number: await text(p, '#case-number') };
}

/** Searches with the form on /cases (field `q`) and returns the case numbers listed. */
async function search(p: Page, q: string): Promise<string[]> {
  if (path(p) !== '/cases') await p.goto('/cases');
  await p.locator('form[role="search"] [name="q"]').fill(q);
  await p.getByRole('button', { name: 'Search', exact: true }).click();
  await p.waitForURL((url) => url.pathname === '/cases' && url.searchParams.get('q') === q);
  return listedNumbers(p);
}

/** The case numbers linked from the page's main content. */
async function listedNumbers(p: Page): Promise<string[]> {
  return (await p.locator('main a[href^="/cases/"]').allTextContents()).map(squash);
}

async function expectNotFound(p: Page, id: string): Promise<void> {
  const response = await p.goto(`/cases/${id}`);
  expect(response?.status()).toBe(404);
  expect(await p.getByRole('heading', { level: 1 }).textContent()).toBe('Not found');
  expect(await p.locator('#case-number').count()).toBe(0);
  for (const name of [KATHERINE.last_name, DMITRI.last_name]) expect(await text(p, 'body')).not.toContain(name);
}

beforeAll(async () => {
  [real, browser] = await Promise.all([startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir') }), launchBrowser()]);
  await createUser(SUPERVISOR, 'Supervisor', 'Sam Supervisor');
  await createUser(ATTORNEY, 'Attorney', 'Amy Attorney');
  await createUser(OTHER_OFFICE_ATTORNEY, 'Attorney', 'Olga Otheroffice');
  await createUser(PRO_BONO, 'Pro Bono Restricted Access', 'Pat Probono');
  // Olga's cases are those of an office that has none of them (new cases go to Main Office).
  await real.haven.app.database.rows(sql`UPDATE users SET offices = '{"Other Office"}' WHERE login = ${OTHER_OFFICE_ATTORNEY}`);
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await real?.stop();
});

// Under a minute of browser time on an idle machine; the timeout leaves room for a loaded one.
describe('case access in a browser', { timeout: 150_000 }, () => {
  let supervisor: Page;

  test('a Supervisor takes two applications: two Pending Main Office cases', async () => {
    supervisor = await signIn(SUPERVISOR);
    cases.katherine = await intake(supervisor, KATHERINE);
    cases.dmitri = await intake(supervisor, DMITRI);
    expect(cases.katherine.number).toMatch(/^\d{2}-000001$/);
    expect(cases.dmitri.number).toMatch(/^\d{2}-000002$/);
    expect(await text(supervisor, '#disposition')).toBe('Pending');
    expect(await text(supervisor, 'dt:text-is("Office / program") + dd')).toBe('Main Office / General Civil');
    await checkPage(supervisor, 'the new case');
  });

  test('an Attorney limited to another office finds nothing, and the case URL is the 404 page', async () => {
    const olga = await signIn(OTHER_OFFICE_ATTORNEY);
    await olga.goto('/cases');
    expect(await listedNumbers(olga)).toEqual([]);
    expect(await text(olga, 'main')).toContain('No cases yet.');

    expect(await search(olga, `${KATHERINE.first_name} ${KATHERINE.last_name}`)).toEqual([]);
    expect(await olga.getByRole('heading', { level: 2 }).first().textContent()).toBe('No cases found');
    expect(await search(olga, cases.katherine.number)).toEqual([]);
    await checkPage(olga, 'an empty search');

    await expectNotFound(olga, cases.katherine.id);
    await checkPage(olga, 'the 404 page');
  });

  describe('an unrestricted Attorney', () => {
    let amy: Page;

    test('finds the case by name, by a sounds-alike spelling and by case number', async () => {
      amy = await signIn(ATTORNEY);
      expect(await search(amy, 'Whitfield')).toEqual([cases.katherine.number]);
      // Neither word is spelled as on file: both match by sound.
      expect(await search(amy, 'Catherine Whitfeild')).toEqual([cases.katherine.number]);
      expect(await search(amy, cases.katherine.number)).toEqual([cases.katherine.number]);
      const row = amy.locator('main tbody tr');
      expect((await row.locator('td').allTextContents()).map(squash).slice(0, 4)).toEqual([cases.katherine.number, 'Katherine Whitfield', '63 Private Landlord/Tenant', 'Pending']);
      await checkPage(amy, 'search results', true);
    });

    test('opens it and adds a note, which appears with its author and time', async () => {
      await amy.getByRole('link', { name: cases.katherine.number, exact: true }).click();
      await amy.waitForURL(`${real.baseUrl}/cases/${cases.katherine.id}`);
      expect(await text(amy, '#case-number')).toBe(cases.katherine.number);
      expect(await text(amy, '#disposition')).toBe('Pending');

      const note = 'Called the client: the hearing is on the 14th. She will bring the lease.';
      const before = new Date();
      await amy.getByLabel('Add a note').fill(note);
      expect(await amy.getByLabel('Add a note').getAttribute('name')).toBe('note');
      await submit(amy, 'Add note');
      expect(path(amy) + new URL(amy.url()).search).toBe(`/cases/${cases.katherine.id}?done=note`);
      expect(await amy.getByRole('status').first().textContent()).toBe('Note added.');

      const entries = amy.locator('#notes > li');
      expect(await entries.count()).toBe(1);
      expect(await text(amy, '#notes > li .note-text')).toBe(note);
      const meta = /^(\S+) · (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC$/.exec(await text(amy, '#notes > li .note-meta'));
      expect(meta?.[1]).toBe(ATTORNEY);
      const at = new Date(`${meta![2]!.replace(' ', 'T')}:00Z`).getTime();
      expect(at).toBeGreaterThanOrEqual(Math.floor(before.getTime() / 60_000) * 60_000);
      expect(at).toBeLessThanOrEqual(Date.now());
      await checkPage(amy, 'the case with a note', true);
    });

    test('accepts it (Open), then closes it with closing code A (Closed)', async () => {
      const dispositionForm = amy.locator(`form[action="/cases/${cases.katherine.id}/disposition"]`);
      await dispositionForm.locator('input[name="action"][value="accept"]').check();
      await submit(amy, 'Apply');
      expect(await amy.getByRole('status').first().textContent()).toBe('Disposition changed.');
      expect(await text(amy, '#disposition')).toBe('Open');
      await checkPage(amy, 'the accepted case');

      await dispositionForm.locator('input[name="action"][value="close"]').check();
      await amy.getByLabel('Closing code').selectOption('A');
      expect(await amy.getByLabel('Closing code').getAttribute('name')).toBe('closing_code');
      await submit(amy, 'Apply');
      expect(await text(amy, '#disposition')).toBe('Closed');
      expect(await text(amy, 'dd:has(#disposition)')).toContain('closing code A: Counsel and Advice');
      await checkPage(amy, 'the closed case', true);
    });
  });

  test('a Supervisor assigns a Pro Bono volunteer (field `assignee`) to one of the two cases', async () => {
    await supervisor.goto(`/cases/${cases.dmitri.id}`);
    const assignee = supervisor.getByLabel('Assign a user (login)');
    expect(await assignee.getAttribute('name')).toBe('assignee');
    await assignee.fill(PRO_BONO);
    await submit(supervisor, 'Assign');
    expect(await supervisor.getByRole('status').first().textContent()).toBe('Assignment saved.');
    expect(await text(supervisor, '#assignees')).toContain(`Pat Probono (${PRO_BONO})`);
    await checkPage(supervisor, 'the case after assignment');
  });

  test('the volunteer sees only that case: the other is in no list, no search, and its URL is the 404 page', async () => {
    const pat = await signIn(PRO_BONO);
    await pat.goto('/cases');
    // "Assigned to you" and "Recently opened" both list that one case, and nothing else.
    expect(await listedNumbers(pat)).toEqual([cases.dmitri.number, cases.dmitri.number]);
    expect(await text(pat, 'main')).not.toContain(KATHERINE.last_name);
    await checkPage(pat, 'the volunteer’s case list', true);

    expect(await search(pat, KATHERINE.last_name)).toEqual([]);
    expect(await search(pat, cases.katherine.number)).toEqual([]);
    expect(await search(pat, DMITRI.last_name)).toEqual([cases.dmitri.number]);

    await expectNotFound(pat, cases.katherine.id);

    await pat.goto(`/cases/${cases.dmitri.id}`);
    expect(await text(pat, '#case-number')).toBe(cases.dmitri.number);
    await checkPage(pat, 'the assigned case', true);
  });
});
