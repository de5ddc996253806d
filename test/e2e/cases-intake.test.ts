// Intake in a browser (DESIGN §1.5, §2.4; issue 10): an Intake Worker runs applications in
// Chromium against the real HTTPS server with the embedded database. One application halts at
// the first stage (outside the service area) before any identity field was shown; two more
// become cases, the second with a nickname conflict (Bob Smith / Robert Smith) left for review.
// Every page a step ends on passes axe-core (WCAG 2.1 AA) at 1280 px, and every intake stage and
// case page also at 390 px, with no horizontal scrolling of the page.
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { sql } from 'drizzle-orm';
import { launchBrowser, newContext } from '../helpers/browser.ts';
import { expectAccessible } from '../helpers/axe.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { updateSiteSettings } from '../../src/settings/service.ts';

const PASSWORD = 'tulip7orbit-haven';
const WORKER = { login: 'ivy', name: 'Ivy Intake' };
const SUPERVISOR = { login: 'sam', name: 'Sam Supervisor' };
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** Case numbers are the clock's year (two digits), a dash, six digits (DESIGN §2.4: `26-000123`). */
const YEAR = String(new Date().getUTCFullYear() % 100).padStart(2, '0');
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

interface Applicant {
  problem_code: string;
  postal_code: string;
  county: string;
  household_size: string;
  annual_income: string;
  first_name: string;
  last_name: string;
  date_of_birth: string;
  ssn: string;
  phone: string;
  email: string;
  adverse_parties: string;
}

const ROBERT: Applicant = {
  problem_code: '63',
  postal_code: '02139',
  county: 'Middlesex',
  household_size: '3',
  annual_income: '21000',
  first_name: 'Robert',
  last_name: 'Smith',
  date_of_birth: '1971-06-14',
  ssn: '123-45-6789',
  phone: '(617) 555-0101',
  email: 'robert.smith@example.org',
  adverse_parties: 'Acme Property Management',
};

// Another person: other birth date, phone and landlord; only the name links them (a nickname).
const BOB: Applicant = {
  ...ROBERT,
  postal_code: '02134',
  county: 'Suffolk',
  household_size: '1',
  annual_income: '14000',
  first_name: 'Bob',
  date_of_birth: '1990-02-03',
  ssn: '512-34-4321',
  phone: '(617) 555-0199',
  email: 'bob.smith@example.org',
  adverse_parties: 'Harbor View Apartments LLC',
};

let real: RealHaven;
let browser: Browser;
const contexts: BrowserContext[] = [];
let page: Page;
/** Bob Smith's case page (path), for the Supervisor's step. */
let bobCase = '';

const squash = (s: string | null) => (s ?? '').replace(/\s+/g, ' ').trim();
const text = async (p: Page, selector: string) => squash(await p.locator(selector).first().textContent());
const path = (p: Page) => new URL(p.url()).pathname;

async function expectNoHorizontalScroll(p: Page, what: string): Promise<void> {
  const { scrollWidth, innerWidth } = await p.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  expect(scrollWidth, `${what}: page is ${scrollWidth} px wide in a ${innerWidth} px window`).toBeLessThanOrEqual(innerWidth);
}

/** The page as it is now: axe at 1280 px, then (for `phone`) no horizontal scroll and axe at 390 px. */
async function checkPage(p: Page, what: string, phone: boolean): Promise<void> {
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

/**
 * Clicks a submit button and waits for the page after it. DESIGN §2.3/§2.4: the form posts to
 * the page it is on, and the server answers with a redirect (303), never a page.
 */
async function submit(p: Page, button: string): Promise<Response> {
  const from = path(p);
  const form = p.locator('main form[method="post"]').filter({ has: p.getByRole('button', { name: button, exact: true }) });
  expect(await form.getAttribute('action'), `the form on ${from} posts to its own page`).toBe(from);
  const posted = p.waitForResponse((r) => r.request().method() === 'POST' && r.request().isNavigationRequest());
  await p.getByRole('button', { name: button, exact: true }).click();
  const response = await posted;
  if (response.status() !== 303) {
    await p.waitForLoadState('load');
    const alerts = (await p.getByRole('alert').allTextContents()).map(squash);
    expect.fail(`POST ${from} answered ${response.status()} instead of a redirect: ${alerts.join(' | ')}`);
  }
  const target = new URL(response.headers().location!, response.url()).href;
  await p.waitForURL(target);
  return response;
}

async function signIn(login: string): Promise<Page> {
  const context = await newContext(browser, real.baseUrl, { viewport: DESKTOP });
  contexts.push(context);
  const p = await context.newPage();
  await p.goto('/login');
  await p.getByLabel('Login name').fill(login);
  await p.getByLabel('Password').fill(PASSWORD);
  await p.getByRole('button', { name: 'Log in', exact: true }).click();
  await p.waitForURL(`${real.baseUrl}/`);
  return p;
}

/** The intake stage this page shows, recognised by its fields (DESIGN §2.4). */
async function stageOf(p: Page): Promise<'problem' | 'eligibility' | 'identity' | 'adverse' | 'conflicts' | 'halted' | 'case'> {
  if (/^\/cases\//.test(path(p))) return 'case';
  if (await p.locator('#intake-halted').count()) return 'halted';
  for (const [field, stage] of [
    ['problem_code', 'problem'],
    ['household_size', 'eligibility'],
    ['first_name', 'identity'],
    ['adverse_parties', 'adverse'],
  ] as const) {
    if (await p.locator(`main [name="${field}"]`).count()) return stage;
  }
  if (await p.locator('#conflicts').count()) return 'conflicts';
  throw new Error(`not an intake stage: ${p.url()}`);
}

interface IntakeRun {
  /** The stages shown, in order, ending with `halted` or `case`. */
  stages: string[];
  /** Whether any page before the last showed a `first_name` input. */
  identityShownBeforeEnd: boolean;
  applicationId: string | null;
}

/**
 * Runs one application from /intake, a stage at a time, checking each page (at 1280 px, and
 * with `phone` at 390 px too). `atConflicts` inspects the conflict stage before the case is created.
 */
async function runIntake(p: Page, applicant: Applicant, options: { phone: boolean; atConflicts?: (p: Page) => Promise<void> }): Promise<IntakeRun> {
  const run: IntakeRun = { stages: [], identityShownBeforeEnd: false, applicationId: null };
  await p.goto('/intake');
  for (let step = 0; step < 8; step++) {
    const stage = await stageOf(p);
    run.stages.push(stage);
    const m = new RegExp(`^/intake/(${UUID})$`).exec(path(p));
    if (m) run.applicationId = m[1]!;
    await checkPage(p, `intake stage ${stage} (${path(p)})`, options.phone);
    if (stage === 'halted' || stage === 'case') return run;
    if (await p.locator('main [name="first_name"]').count()) run.identityShownBeforeEnd = true;
    switch (stage) {
      case 'problem':
        await p.getByLabel('Legal problem').selectOption(applicant.problem_code);
        await p.getByLabel('Postal code').fill(applicant.postal_code);
        await p.getByLabel('County').fill(applicant.county);
        await submit(p, 'Continue');
        break;
      case 'eligibility':
        await p.getByLabel('People in the household').fill(applicant.household_size);
        await p.getByLabel('Household income per year (whole dollars)').fill(applicant.annual_income);
        await submit(p, 'Check eligibility');
        break;
      case 'identity':
        await p.getByLabel('First name').fill(applicant.first_name);
        await p.getByLabel('Last name').fill(applicant.last_name);
        await p.locator('[name="date_of_birth"]').fill(applicant.date_of_birth);
        await p.getByLabel('Social Security number').fill(applicant.ssn);
        await p.getByLabel('Phone').fill(applicant.phone);
        await p.getByLabel('E-mail').fill(applicant.email);
        await submit(p, 'Continue');
        break;
      case 'adverse':
        await p.getByLabel('Adverse parties (one full name per line)').fill(applicant.adverse_parties);
        await submit(p, 'Run the conflict check');
        break;
      case 'conflicts':
        await options.atConflicts?.(p);
        await submit(p, 'Create the case');
        break;
    }
  }
  throw new Error('the intake did not end');
}

/** The cells of `#conflicts`' body rows, as text. */
async function conflictRows(p: Page): Promise<string[][]> {
  const rows = p.locator('#conflicts tbody tr');
  const out: string[][] = [];
  for (let i = 0; i < (await rows.count()); i++) out.push((await rows.nth(i).locator('td').allTextContents()).map(squash));
  return out;
}

beforeAll(async () => {
  [real, browser] = await Promise.all([startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir') }), launchBrowser()]);
  const created = await runCommand(real.haven.app, {
    argv: ['users', 'create', '--login', WORKER.login, '--email', `${WORKER.login}@example.org`, '--role', 'Intake Worker', '--name', WORKER.name, '--password-stdin'],
    stdin: `${PASSWORD}\n`,
  });
  expect(created, created.stderr).toMatchObject({ code: 0 });
  const supervisor = await runCommand(real.haven.app, {
    argv: ['users', 'create', '--login', SUPERVISOR.login, '--email', `${SUPERVISOR.login}@example.org`, '--role', 'Supervisor', '--name', SUPERVISOR.name, '--password-stdin'],
    stdin: `${PASSWORD}\n`,
  });
  expect(supervisor, supervisor.stderr).toMatchObject({ code: 0 });
  // The service area: postal codes beginning 021 (Boston, Cambridge); 90210 is elsewhere.
  const settings = await updateSiteSettings(real.haven.app, { intake_postal_codes: '021', ssn_digits: 'full' }, null, null);
  expect(settings).toMatchObject({ ok: true });

  page = await signIn(WORKER.login);
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await real?.stop();
});

// Under a minute of browser time on an idle machine; the timeout leaves room for a loaded one.
describe('an Intake Worker runs applications in a browser', { timeout: 150_000 }, () => {
  test('an applicant from outside the service area is stopped at the first stage, before any identity field', async () => {
    const run = await runIntake(page, { ...ROBERT, first_name: 'Never', last_name: 'Asked', postal_code: '90210', county: 'Los Angeles' }, { phone: true });
    expect(run.stages).toEqual(['problem', 'halted']);
    expect(run.identityShownBeforeEnd).toBe(false);
    expect(run.applicationId).not.toBeNull();
    expect(path(page)).toBe(`/intake/${run.applicationId}`);

    const halted = page.locator('#intake-halted');
    expect(await halted.isVisible()).toBe(true);
    expect(await text(page, '#intake-halted')).toContain("Postal code 90210 is outside this program's service area.");
    expect(await text(page, '#halt-referral')).toMatch(/^Referral: .*lawyer referral service/);
    expect(await page.locator('[name="first_name"], [name="last_name"], [name="ssn"], [name="date_of_birth"]').count()).toBe(0);

    // And on the server: the application halted holding no identity.
    const [row] = await real.haven.app.database.rows<{ status: string; halt_reason: string; identity: unknown }>(
      sql`SELECT status, halt_reason, identity_sealed AS identity FROM intake_applications WHERE id = ${run.applicationId}`,
    );
    expect(row).toEqual({ status: 'halted', halt_reason: 'out_of_area', identity: null });
  });

  // (At 1280 px only: the next application goes through the same stages at both widths.)
  test("Robert Smith's application becomes a Pending case with no possible conflict", async () => {
    const run = await runIntake(page, ROBERT, {
      phone: false,
      atConflicts: async (p) => {
        expect(await p.locator('#no-conflicts').isVisible()).toBe(true);
        expect(await conflictRows(p)).toEqual([]);
      },
    });
    expect(run.stages).toEqual(['problem', 'eligibility', 'identity', 'adverse', 'conflicts', 'case']);
    expect(path(page)).toMatch(new RegExp(`^/cases/${UUID}$`));
    expect(await page.getByRole('status').first().textContent()).toBe('Case created from the application.');
    expect(await text(page, '#case-number')).toBe(`${YEAR}-000001`);
    expect(await text(page, '#disposition')).toBe('Pending');
    // An Intake Worker has no ssn_view_full: the number is masked.
    expect(await text(page, '#client-ssn')).toBe('***-**-6789');
    expect(await conflictRows(page)).toEqual([]);
  });

  test('Bob Smith: the conflict check finds Robert Smith by nickname, the worker leaves it for review, the case shows it', async () => {
    let atIntake: string[][] = [];
    const run = await runIntake(page, BOB, {
      phone: true,
      atConflicts: async (p) => {
        atIntake = await conflictRows(p);
        // The one row's decision control: a select per row, "Review needed" chosen by default.
        const select = p.locator('#conflicts tbody tr select[name="conflict_decision"]');
        expect(await select.count()).toBe(1);
        expect(await select.inputValue()).toBe('review');
        expect(await select.locator('option:checked').textContent()).toBe('Review needed');
        expect(await p.getByLabel('Decision on Robert Smith').count()).toBe(1);
      },
    });
    expect(run.stages).toEqual(['problem', 'eligibility', 'identity', 'adverse', 'conflicts', 'case']);

    expect(atIntake).toHaveLength(1);
    const [checked, matches, score, why] = atIntake[0]!;
    expect(checked).toBe('Bob Smith (applicant)');
    expect(matches).toBe('Robert Smith (client)');
    expect(Number(score)).toBeGreaterThanOrEqual(4);
    expect(Number(score)).toBeLessThanOrEqual(5);
    expect(why).toContain('Nickname of the same name');

    expect(path(page)).toMatch(new RegExp(`^/cases/${UUID}$`));
    expect(await text(page, '#case-number')).toBe(`${YEAR}-000002`);
    expect(await text(page, '#case-number')).toMatch(/^\d{2}-\d{6}$/);
    expect(await text(page, '#disposition')).toBe('Pending');
    expect(await text(page, '#client-ssn')).toBe('***-**-4321');
    const onCase = await conflictRows(page);
    expect(onCase).toHaveLength(1);
    expect(onCase[0]![1]).toBe('Robert Smith (client)');
    expect(onCase[0]![2]).toBe(score);
    expect(onCase[0]![4]).toBe('Review needed');
    bobCase = path(page);
  });

  test('a Supervisor records "No conflict" on that row from the case page', async () => {
    const sam = await signIn(SUPERVISOR.login);
    await sam.goto(bobCase);
    // A Supervisor (cases_edit) also gets a form per row, folded under "Change a decision".
    await sam.locator('details.conflict-decide > summary').click();
    const decide = sam.getByLabel(/^Bob Smith ↔ Robert Smith \(score \d\)/);
    expect(await decide.inputValue()).toBe('review');
    await checkPage(sam, 'the case page with the decision form open', true);

    await decide.selectOption('no_conflict');
    const posted = sam.waitForResponse((r) => r.request().method() === 'POST' && r.request().isNavigationRequest());
    await sam.locator('details.conflict-decide form').getByRole('button', { name: 'Record', exact: true }).click();
    expect((await posted).status()).toBe(303);
    await sam.waitForURL(`${real.baseUrl}${bobCase}?done=conflict`);
    expect(await sam.getByRole('status').first().textContent()).toBe('Conflict decision recorded.');
    expect((await conflictRows(sam))[0]![4]).toBe('No conflict');
    await checkPage(sam, 'the case after the decision', false);
  });

  test('the Supervisor uploads a document on the case page and downloads exactly the same bytes, as a file', async () => {
    const sam = await signIn(SUPERVISOR.login);
    await sam.goto(bobCase);
    const bytes = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(400_000, 42), Buffer.from('\n%%EOF\n')]);
    await sam.getByLabel('Add a document').setInputFiles({ name: 'Lease — signed.pdf', mimeType: 'application/pdf', buffer: bytes });
    const posted = sam.waitForResponse((r) => r.request().method() === 'POST' && r.request().isNavigationRequest());
    await sam.getByRole('button', { name: 'Upload', exact: true }).click();
    expect((await posted).status()).toBe(303);
    await sam.waitForURL(`${real.baseUrl}${bobCase}?done=document`);
    expect(await sam.getByRole('status').first().textContent()).toBe('Document uploaded.');
    const link = sam.locator('#documents a', { hasText: 'Lease — signed.pdf' });
    expect(await link.count()).toBe(1);
    await checkPage(sam, 'the case with a document', true);
    const [download] = await Promise.all([sam.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('Lease — signed.pdf');
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(await download.path())).equals(bytes)).toBe(true);
  });
});
