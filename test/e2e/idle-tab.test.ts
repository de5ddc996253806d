// A tab left open signs out at the idle timeout (issue 8, defect 5), in a real browser (Debian's
// Chromium) against the real HTTPS server, with both clocks under the test's control and no real
// waiting: the server runs on a ManualClock, the page on Playwright's fake clock (installed for
// the whole browser context, so every tab of a context shares it). When the page's countdown
// ends it asks GET /session/status, which does not count as activity: an untouched tab signs
// out; a tab whose session another tab kept alive counts again from what the server says.
// DESIGN §1.2.
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { expectAccessible } from '../helpers/axe.ts';
import type { Browser, BrowserContext, Page, Request, Response } from 'playwright-core';
import { sql } from 'drizzle-orm';
import { runCommand } from '../../src/cli/commands.ts';
import { ManualClock } from '../../src/clock.ts';
import { hashToken } from '../../src/security/tokens.ts';
import { updateSiteSettings } from '../../src/settings/service.ts';
import { SESSION_COOKIE } from '../../src/web/cookies.ts';
import { launchBrowser, newContext } from '../helpers/browser.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';

const PASSWORD = 'tulip7orbit-haven';
// (Playwright's time strings refuse minutes above 59, hence milliseconds.)
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
// The smallest idle timeout the site settings accept.
const TIMEOUT_MINUTES = 6;
const TIMEOUT_NOTICE = 'You were logged out after a period of inactivity.';
// Bounds every wait on something the clocks set off (a request, a navigation).
const WAIT = { timeout: 10_000 };

let real: RealHaven;
let browser: Browser;
const clock = new ManualClock();
const contexts: BrowserContext[] = [];

async function context(): Promise<BrowserContext> {
  const created = await newContext(browser, real.baseUrl);
  contexts.push(created);
  return created;
}

function pathOf(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
}

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

/** Creates an active user whose password needs no change, with the code `haven users create` runs. */
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
}

/** Opens `/` and waits until the page and everything it loads (style, script, icon) have arrived. */
async function openDashboard(page: Page): Promise<void> {
  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  expect(pathOf(page.url())).toBe('/');
  await page.waitForLoadState('networkidle');
  // session.js ran: it marks the banner as driven by the timer.
  expect(await page.locator('#session-warning').getAttribute('class')).toContain('js-timer');
  expect(await page.locator('#session-warning').getAttribute('data-timeout-seconds')).toBe(String(TIMEOUT_MINUTES * 60));
}

/**
 * Stops the page clock (shared by the context's tabs) a moment after now: from here on the
 * pages' time moves only when the test moves it. The pause lands 1 s plus the time the page took
 * to load after its server answer, so page time runs that far (a few seconds at most) ahead of
 * the server's; every step below leaves a margin of 10 s.
 */
async function pausePageClock(page: Page): Promise<void> {
  const now = await page.evaluate(() => Date.now());
  await page.clock.pauseAt(now + SECOND);
}

async function sessionToken(ctx: BrowserContext): Promise<string | undefined> {
  return (await ctx.cookies()).find((c) => c.name === SESSION_COOKIE)?.value;
}

async function lastSeenAt(token: string): Promise<string | null> {
  const rows = await real.haven.app.database.rows<{ last_seen_at: string | Date }>(sql`SELECT last_seen_at FROM sessions WHERE id = ${hashToken(token)}`);
  return rows[0] ? new Date(rows[0].last_seen_at).toISOString() : null;
}

/** Moves the server's clock, then the pages' (whose timers may then ask the server). */
async function advanceBoth(ctx: BrowserContext, ms: number): Promise<void> {
  clock.advance(ms);
  await ctx.clock.fastForward(ms);
}

const isStatus = (r: Request | Response) => new URL(r.url()).pathname === '/session/status';

interface StatusAnswer {
  status: number;
  body: unknown;
}

/**
 * The answers the page gets to GET /session/status, status and body. The page leaves for the
 * login page as soon as it has read a 401, and the body of a response of a page that is gone
 * cannot be read any more; so each answer is read on the way in (CDP Fetch, paused at the
 * response stage), before the page sees it, and then passed on to the page unchanged.
 */
async function statusAnswers(page: Page): Promise<StatusAnswer[]> {
  const answers: StatusAnswer[] = [];
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Fetch.requestPaused', async (event) => {
    try {
      const { body, base64Encoded } = await cdp.send('Fetch.getResponseBody', { requestId: event.requestId });
      answers.push({ status: event.responseStatusCode ?? 0, body: JSON.parse(base64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body) });
    } finally {
      await cdp.send('Fetch.continueRequest', { requestId: event.requestId }).catch(() => {});
    }
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*/session/status', requestStage: 'Response' }] });
  return answers;
}

/** Every request a page makes from now on, by path. */
function recordRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (r) => seen.push(pathOf(r.url())));
  return seen;
}

beforeAll(async () => {
  [real, browser] = await Promise.all([startRealHaven({ clock, pgliteTemplateDir: inject('pgliteTemplateDir') }), launchBrowser()]);
  const saved = await updateSiteSettings(real.haven.app, { session_timeout_minutes: String(TIMEOUT_MINUTES) }, null, null);
  expect(saved).toMatchObject({ ok: true });
  await createUser('idle');
  await createUser('twotabs');
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await real?.stop();
});

describe('a tab left open', () => {
  test('is signed out at the idle timeout, and asking the server how long is left does not extend the session', async () => {
    const ctx = await context();
    await ctx.clock.install({ time: clock.now() });
    const page = await ctx.newPage();
    await logIn(page, 'idle');
    await openDashboard(page);
    const token = (await sessionToken(ctx))!;
    expect(token).toBeTruthy();
    const loggedInAt = clock.now().toISOString();
    expect(await lastSeenAt(token)).toBe(loggedInAt);
    expect(await page.locator('#session-warning').getAttribute('data-seconds-left')).toBe(String(TIMEOUT_MINUTES * 60));
    await pausePageClock(page);
    const requests = recordRequests(page);
    const answers = await statusAnswers(page);

    // 5 min 50 s without a touch: the warning counts down the last seconds, nothing else happens.
    await advanceBoth(ctx, 5 * MINUTE + 50 * SECOND);
    const banner = page.locator('#session-warning');
    expect(await banner.isVisible()).toBe(true);
    // tick() writes the time left only while some is left; at zero it asks the server instead.
    expect(await text(page, '#session-warning-remaining')).toMatch(/^0:0[1-9]$/);
    expect(await page.evaluate(() => location.pathname + location.search)).toBe('/');
    expect(requests).toEqual([]);
    expect(await lastSeenAt(token)).toBe(loggedInAt);

    // The page's clock runs a little ahead of the server's: its countdown ends first and it asks
    // GET /session/status while the session is still alive (10 s left, and last seen more than
    // 15 s ago, so that any ordinary request would touch it). The answer is the truth, and the
    // asking leaves last_seen_at alone.
    const [early] = await Promise.all([page.waitForResponse(isStatus, WAIT), ctx.clock.fastForward(15 * SECOND)]);
    expect(early.status()).toBe(200);
    expect(answers).toEqual([{ status: 200, body: { secondsLeft: 10 } }]);
    expect(early.request().headers()['accept']).toBe('application/json');
    expect(await lastSeenAt(token)).toBe(loggedInAt);
    expect(await page.evaluate(() => location.pathname + location.search)).toBe('/');

    // Both clocks past the timeout: the page counted the 10 s again, asks again, and is told
    // the session has ended.
    const [ended] = await Promise.all([page.waitForResponse(isStatus, WAIT), advanceBoth(ctx, 20 * SECOND)]);
    expect(ended.status()).toBe(401);
    expect(answers[1]).toEqual({ status: 401, body: { error: 'session_ended', reason: 'timeout' } });
    await page.waitForURL(`${real.baseUrl}/login?next=%2F&reason=timeout`, WAIT);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Log in');
    expect(await text(page, 'p.notice')).toBe(TIMEOUT_NOTICE);
    // The page the tab lands on passes axe-core (its timers run again for axe's own).
    await page.clock.resume();
    await expectAccessible(page, 'login after the timeout');
    // Logging in again returns to the page that was left open.
    expect(await page.locator('input[name="next"]').inputValue()).toBe('/');
    // Two questions, then the login page (and what it loads): nothing else went to the server.
    expect(requests.slice(0, 3)).toEqual(['/session/status', '/session/status', '/login?next=%2F&reason=timeout']);
    expect(requests.slice(3).filter((p) => p.startsWith('/session/'))).toEqual([]);

    // Ended on the server, not only in this browser: the row is gone, the cookie was cleared,
    // and the old cookie, sent again, leads to the login page.
    expect(await lastSeenAt(token)).toBeNull();
    expect(await sessionToken(ctx)).toBeUndefined();
    const replay = await context();
    await replay.addCookies([{ name: SESSION_COOKIE, value: token, url: real.baseUrl, secure: true, httpOnly: true, sameSite: 'Lax' }]);
    const replayPage = await replay.newPage();
    const [sent] = await Promise.all([replayPage.waitForRequest((r) => pathOf(r.url()) === '/', WAIT), replayPage.goto('/')]);
    expect((await sent.allHeaders())['cookie']).toContain(`${SESSION_COOKIE}=${token}`);
    expect(pathOf(replayPage.url())).toBe('/login?next=%2F');
  });

  test('is kept signed in while another tab of the same browser is in use, and counts again', async () => {
    const ctx = await context();
    await ctx.clock.install({ time: clock.now() });
    const idle = await ctx.newPage();
    await logIn(idle, 'twotabs');
    await openDashboard(idle);
    const active = await ctx.newPage();
    await openDashboard(active);
    const token = (await sessionToken(ctx))!;
    const loggedInAt = clock.now();
    expect(await lastSeenAt(token)).toBe(loggedInAt.toISOString());
    await pausePageClock(idle);
    const idleRequests = recordRequests(idle);
    const activeRequests = recordRequests(active);
    const idleAnswers = await statusAnswers(idle);
    const activeAnswers = await statusAnswers(active);

    // Three minutes on, the other tab is used: its request counts as activity.
    await advanceBoth(ctx, 3 * MINUTE);
    await openDashboard(active);
    const touchedAt = clock.now().toISOString();
    expect(touchedAt).toBe(new Date(loggedInAt.getTime() + 3 * MINUTE).toISOString());
    expect(await lastSeenAt(token)).toBe(touchedAt);
    expect(await active.locator('#session-warning').getAttribute('data-seconds-left')).toBe(String(TIMEOUT_MINUTES * 60));
    activeRequests.length = 0;

    // 6 min 10 s after the idle tab loaded, its countdown has ended: it asks, and the server
    // says the session has 170 s left (6 min from the other tab's request at minute 3). It stays.
    const [answer] = await Promise.all([idle.waitForResponse(isStatus, WAIT), advanceBoth(ctx, 3 * MINUTE + 10 * SECOND)]);
    expect(answer.status()).toBe(200);
    expect(idleAnswers).toEqual([{ status: 200, body: { secondsLeft: 170 } }]);
    expect(await lastSeenAt(token)).toBe(touchedAt);
    expect(idleRequests).toEqual(['/session/status']);
    expect(activeRequests).toEqual([]);
    expect(await idle.evaluate(() => location.pathname + location.search)).toBe('/');
    expect(await active.evaluate(() => location.pathname + location.search)).toBe('/');

    // It counts again from those 170 s: 2 min 40 s later it shows 10 s left and asks nothing.
    await advanceBoth(ctx, 2 * MINUTE + 40 * SECOND);
    expect(await idle.locator('#session-warning').isVisible()).toBe(true);
    // (Both deadlines were set while the page clock stood still: exactly 10 s are left.)
    expect(await text(idle, '#session-warning-remaining')).toBe('0:10');
    expect(await text(active, '#session-warning-remaining')).toBe('0:10');
    expect(idleRequests).toEqual(['/session/status']);
    expect(activeRequests).toEqual([]);
    expect(await idle.evaluate(() => location.pathname + location.search)).toBe('/');

    // Once neither tab is used for the whole timeout, both are signed out.
    const [idleEnded, activeEnded] = await Promise.all([idle.waitForResponse(isStatus, WAIT), active.waitForResponse(isStatus, WAIT), advanceBoth(ctx, 20 * SECOND)]);
    expect([idleEnded.status(), activeEnded.status()]).toEqual([401, 401]);
    // The question that reaches the server first finds the session timed out and removes it
    // (reason "timeout"); the other, unless the two were read side by side, finds no session at
    // all (no reason given; the page then assumes the timeout).
    expect([idleAnswers.length, activeAnswers.length]).toEqual([2, 1]);
    const ends = [idleAnswers[1]!.body, activeAnswers[0]!.body];
    expect(ends).toContainEqual({ error: 'session_ended', reason: 'timeout' });
    for (const body of ends) expect([{ error: 'session_ended', reason: 'timeout' }, { error: 'session_ended' }]).toContainEqual(body);
    await idle.waitForURL(`${real.baseUrl}/login?next=%2F&reason=timeout`, WAIT);
    await active.waitForURL(`${real.baseUrl}/login?next=%2F&reason=timeout`, WAIT);
    expect(await text(idle, 'p.notice')).toBe(TIMEOUT_NOTICE);
    expect(await text(active, 'p.notice')).toBe(TIMEOUT_NOTICE);
    expect(await lastSeenAt(token)).toBeNull();
  });
});
