// Multifactor authentication as users live it, in a real browser (Debian's Chromium) against the
// real HTTPS server (embedded database, system clock) and a real SMTP peer with STARTTLS:
// enrolment with an authenticator app, by e-mail and with a passkey (Chromium's virtual
// authenticator over CDP), the 24-hour device cookie, an administrator turning a user's MFA off,
// and enrolment forced by the user's role. DESIGN §1.3, §1.9, §2.3.
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { expectOpenPagesAccessible } from '../helpers/axe.ts';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { sql } from 'drizzle-orm';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { runCommand } from '../../src/cli/commands.ts';
import { MFA_DEVICE_COOKIE } from '../../src/auth/steps.ts';
import { VERIFICATION_SUBJECT } from '../../src/mfa/service.ts';
import { findUserByLogin } from '../../src/users/service.ts';
import { launchBrowser, newContext } from '../helpers/browser.ts';
import { appCode, sixDigitCode } from '../helpers/mfa.ts';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';
import { startSmtpPeer, type ReceivedMail, type SmtpPeer } from '../helpers/smtp.ts';

const PASSWORD = 'tulip7orbit-haven';
const ADMIN = 'ada';
const RECOVERY_CODE = /^[a-z2-9]{5}-[a-z2-9]{5}$/;

let real: RealHaven;
let peer: SmtpPeer;
let browser: Browser;
const contexts: BrowserContext[] = [];

async function context(): Promise<BrowserContext> {
  const created = await newContext(browser, real.baseUrl);
  contexts.push(created);
  return created;
}

async function newPage(): Promise<Page> {
  return (await context()).newPage();
}

function path(page: Page): string {
  const url = new URL(page.url());
  return url.pathname + url.search;
}

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

/** Creates an active user whose password needs no change, with the code `haven users create` runs. */
async function createUser(login: string, role: string): Promise<void> {
  const result = await runCommand(real.haven.app, {
    argv: ['users', 'create', '--login', login, '--email', `${login}@example.org`, '--role', role, '--name', `User ${login}`, '--password-stdin'],
    stdin: `${PASSWORD}\n`,
  });
  expect(result, result.stderr).toMatchObject({ code: 0 });
}

/** Signs in on the login page: a fresh one, or the one the page is on (keeping its `next`). */
async function logIn(page: Page, login: string, options: { here?: boolean } = {}): Promise<void> {
  if (!options.here) await page.goto('/login');
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
}

async function logOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${real.baseUrl}/login?reason=logout`);
}

/** Types a code into the page's `code` field (DESIGN §2.3) and submits its form. */
async function submitCode(page: Page, code: string): Promise<void> {
  const field = page.locator('input[name="code"]');
  await field.fill(code);
  await Promise.all([page.waitForNavigation(), field.press('Enter')]);
}

/** My Preferences → Actions > Enable MFA → the method chooser → the chosen method's page. */
async function chooseMethod(page: Page, method: 'app' | 'email' | 'passkey', from: 'preferences' | 'here' = 'preferences'): Promise<void> {
  if (from === 'preferences') {
    await page.goto('/preferences');
    expect(await text(page, '#mfa-status')).toBe('Off: you sign in with your password only.');
    await page.locator('#enable-mfa').click();
    await page.waitForURL(`${real.baseUrl}/mfa/enrol`);
  }
  await page.locator(`input[name="method"][value="${method}"]`).check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${real.baseUrl}/mfa/enrol`);
}

/**
 * The dark modules of a QR code drawn by the page's SVG image (one path of `M x y`, `m dx 0`,
 * `h n` runs, as the qrcode library writes it), compared with a QR code made here of `text` at
 * any error-correction level: the picture holds exactly that text.
 */
function qrHolds(svg: { viewBox: string; d: string }, text: string): boolean {
  const dark = new Set<string>();
  let x = 0;
  let y = 0;
  let margin: number | undefined;
  for (const [, cmd, a, b] of svg.d.matchAll(/([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?/g)) {
    const n = Number(a);
    if (cmd === 'M') [x, y, margin] = [n, Math.floor(Number(b)), margin ?? n];
    else if (cmd === 'm') x += n;
    else for (const end = x + n; x < end; x++) dark.add(`${x},${y}`);
  }
  const size = Number(svg.viewBox.split(' ')[2]) - 2 * (margin ?? 0);
  return (['L', 'M', 'Q', 'H'] as const).some((level) => {
    const modules = QRCode.create(text, { errorCorrectionLevel: level }).modules;
    if (modules.size !== size) return false;
    for (let row = 0; row < size; row++) {
      for (let col = 0; col < size; col++) {
        if (Boolean(modules.get(row, col)) !== dark.has(`${col + margin!},${row + margin!}`)) return false;
      }
    }
    return true;
  });
}

/** The app page: QR code and manual key; the code computed from the key is typed. Returns both. */
async function enrolWithApp(page: Page, login: string): Promise<{ secret: string; code: string }> {
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Set up your authenticator app');
  const secret = await text(page, '#mfa-manual-key');
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  // The QR code is an SVG image (a data: URL) of the otpauth:// URI (RFC 6238 SHA-1, 6 digits,
  // 30 s) of that same key, labelled with the issuer and the user's login.
  const img = page.locator('.qr-code > img');
  expect(await img.count()).toBe(1);
  expect(await img.isVisible()).toBe(true);
  const src = (await img.getAttribute('src')) ?? '';
  expect(src).toMatch(/^data:image\/svg\+xml;base64,/);
  const svg = Buffer.from(src.slice(src.indexOf(',') + 1), 'base64').toString();
  const drawn = { viewBox: /viewBox="([^"]*)"/.exec(svg)?.[1] ?? '', d: /<path[^>]*\bstroke="[^"]*"[^>]*\bd="([^"]*)"/.exec(svg)?.[1] ?? '' };
  const uri = new TOTP({ issuer: 'Haven', label: login, algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).toString();
  expect(uri).toMatch(/^otpauth:\/\/totp\/Haven:/);
  expect(qrHolds(drawn, uri), `the QR code holds ${uri}`).toBe(true);
  const code = appCode(secret, new Date());
  await submitCode(page, code);
  return { secret, code };
}

/** The recovery codes page right after enrolment: ten codes, shown once. */
async function expectRecoveryCodes(page: Page): Promise<string[]> {
  expect(path(page)).toBe('/mfa/recovery-codes');
  const codes = await page.locator('#recovery-codes code').allTextContents();
  expect(codes).toHaveLength(10);
  for (const code of codes) expect(code).toMatch(RECOVERY_CODE);
  expect(new Set(codes).size).toBe(10);
  return codes;
}

async function expectDashboard(page: Page, login: string, role: string): Promise<void> {
  expect(path(page)).toBe('/');
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Dashboard');
  expect(await text(page, 'main')).toContain(`You are signed in as ${login} (${role}).`);
}

/**
 * A TOTP code the server has not accepted yet. Every accepted step is remembered and every step
 * at or before it refused, and the enrolment (or the last login) used the current step at the
 * latest; the next step's code is inside the ±1 window, so it is accepted now.
 */
function nextStepCode(secret: string): string {
  return appCode(secret, new Date(Date.now() + 30_000));
}

let adminPage: Page | undefined;

/** The administrator's browser, signed in once for the whole file (they have no MFA). */
async function admin(): Promise<Page> {
  if (!adminPage) {
    adminPage = await newPage();
    await logIn(adminPage, ADMIN);
    expect(path(adminPage)).toBe('/');
  }
  return adminPage;
}

async function deviceCookie(ctx: BrowserContext) {
  return (await ctx.cookies()).find((c) => c.name === MFA_DEVICE_COOKIE);
}

beforeAll(async () => {
  peer = await startSmtpPeer();
  [real, browser] = await Promise.all([
    startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir'), env: { HAVEN_SMTP_URL: peer.url } }),
    launchBrowser(),
  ]);
  // WebAuthn needs a domain name as relying party: the server and the browser use localhost.
  expect(real.baseUrl).toBe(`https://localhost:${real.haven.httpsPort}`);
  expect(real.haven.app.config.baseUrl).toBe(real.baseUrl);
  await createUser(ADMIN, 'Site Administrator');
});

// Every page a step ends on passes axe-core (WCAG 2.1 AA), issue 9.
afterEach(async () => {
  await expectOpenPagesAccessible(contexts);
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await real?.stop();
  await peer?.stop();
});

describe('MFA with an authenticator app', () => {
  const USER = 'nora';
  let secret: string;
  let enrolmentCode: string;
  let first: Page;

  test('enrolment: Enable MFA, the QR code and manual key, a code from the key, ten recovery codes', async () => {
    await createUser(USER, 'Paralegal');
    first = await newPage();
    await logIn(first, USER);
    expect(path(first)).toBe('/');
    await chooseMethod(first, 'app');
    ({ secret, code: enrolmentCode } = await enrolWithApp(first, USER));
    await expectRecoveryCodes(first);

    // The enrolling browser is remembered for 24 hours.
    expect(await deviceCookie(first.context())).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Lax', path: '/' });
    await first.goto('/preferences');
    expect(await text(first, '#mfa-status')).toBe('On, with an authenticator app.');
    expect(await text(first, '#recovery-code-count')).toBe('10 unused recovery codes.');
    await logOut(first);
  });

  test('a new browser is asked for a code at /login/mfa; the same browser is not', async () => {
    const other = await newPage();
    await logIn(other, USER);
    expect(path(other)).toBe('/login/mfa');
    expect(await other.getByRole('heading', { level: 1 }).textContent()).toBe("Verify it's you");
    // Nothing else is reachable before the code.
    await other.goto('/');
    expect(path(other)).toBe('/login/mfa');
    // The code that confirmed the enrolment was used up then: typed again, it is refused.
    await submitCode(other, enrolmentCode);
    expect(path(other)).toBe('/login/mfa');
    expect(await text(other, 'small[role="alert"]')).toBe('That code is not valid, has expired or was already used.');
    await submitCode(other, nextStepCode(secret));
    await expectDashboard(other, USER, 'Paralegal');
    expect(await deviceCookie(other.context())).toBeDefined();

    // The browser that enrolled still holds its mfa_daily_secret_key: no code asked.
    expect(await deviceCookie(first.context())).toBeDefined();
    await logIn(first, USER);
    await expectDashboard(first, USER, 'Paralegal');
  });
});

describe('MFA by e-mail, codes read from the SMTP peer', () => {
  const USER = 'emil';
  const EMAIL = `${USER}@example.org`;
  let seen = 0;

  /** The next verification mail to the user that this test has not read yet. */
  async function nextCodeMail(): Promise<ReceivedMail> {
    const mail = await peer.waitForMail((m) => m.to.includes(EMAIL) && m.subject === VERIFICATION_SUBJECT && peer.messages.indexOf(m) >= seen);
    seen = peer.messages.indexOf(mail) + 1;
    return mail;
  }

  test('enrolment: choose e-mail, type the 6-digit code from "Haven verification code"', async () => {
    await createUser(USER, 'Paralegal');
    const page = await newPage();
    await logIn(page, USER);
    await chooseMethod(page, 'email');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Confirm your e-mail address');
    expect(await text(page, 'main')).toContain('We sent a 6-digit code to e***@example.org.');

    const mail = await nextCodeMail();
    expect(mail.subject).toBe('Haven verification code');
    expect(mail.secure).toBe(true); // STARTTLS
    expect(mail.text).not.toMatch(/https?:/i); // a code to type, never a link
    await submitCode(page, sixDigitCode(mail.text));
    await expectRecoveryCodes(page);
    await logOut(page);
  });

  test('a later login in a new browser sends a login code by mail; typing it signs in', async () => {
    const page = await newPage();
    await logIn(page, USER);
    expect(path(page)).toBe('/login/mfa');
    expect(await text(page, 'main')).toContain('We sent a 6-digit code to e***@example.org.');
    const mail = await nextCodeMail();
    await submitCode(page, sixDigitCode(mail.text));
    await expectDashboard(page, USER, 'Paralegal');
  });

  test('the administrator finds both mails in /mail/queue filtered by subject "verification code"', async () => {
    const page = await admin();
    await page.goto('/mail/queue');
    await page.getByLabel('Subject contains').fill('verification code');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/\/mail\/queue\?subject=verification\+code/);
    const rows = page.locator('tbody tr').filter({ hasText: EMAIL });
    // Recipient, subject and status; "sent" is written just after the peer acknowledged.
    await expect
      .poll(
        async () => {
          await page.reload();
          return (await rows.all()).length === 2 ? await Promise.all((await rows.all()).map((r) => r.locator('td').allTextContents())) : null;
        },
        { timeout: 10_000 },
      )
      .toEqual([expect.arrayContaining([EMAIL, VERIFICATION_SUBJECT, 'sent']), expect.arrayContaining([EMAIL, VERIFICATION_SUBJECT, 'sent'])]);
    for (const subject of await page.locator('tbody tr td:nth-child(3)').allTextContents()) expect(subject).toContain('verification code');
  });
});

describe('MFA with a passkey (Chromium virtual authenticator)', () => {
  const USER = 'pia';

  async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    return { cdp, authenticatorId };
  }

  test('enrol with a passkey, then sign in from another browser holding the same credential; a replayed or relayed assertion is refused', async () => {
    await createUser(USER, 'Attorney');
    const page = await newPage();
    const first = await virtualAuthenticator(page);
    await logIn(page, USER);
    await chooseMethod(page, 'passkey');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Register a passkey');
    await page.locator('#passkey-register').click();
    await page.waitForURL(`${real.baseUrl}/mfa/recovery-codes`);
    await expectRecoveryCodes(page);

    const { credentials } = await first.cdp.send('WebAuthn.getCredentials', { authenticatorId: first.authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.rpId).toBe('localhost');
    await page.goto('/preferences');
    expect(await text(page, '#mfa-status')).toBe('On, with a passkey or security key.');
    expect(await text(page, '#recovery-code-count')).toBe('10 unused recovery codes.');
    await logOut(page);

    // Another browser (no mfa_daily_secret_key) whose authenticator holds the same credential.
    const other = await newPage();
    const second = await virtualAuthenticator(other);
    await second.cdp.send('WebAuthn.addCredential', { authenticatorId: second.authenticatorId, credential: credentials[0]! });
    await logIn(other, USER);
    expect(path(other)).toBe('/login/mfa');
    const [assertion] = await Promise.all([
      other.waitForRequest((r) => new URL(r.url()).pathname === '/login/mfa/passkey' && r.method() === 'POST'),
      other.locator('#passkey-login').click(),
    ]);
    await other.waitForURL(`${real.baseUrl}/`);
    await expectDashboard(other, USER, 'Attorney');
    expect(await deviceCookie(other.context())).toBeDefined();
    // The authenticator signed once more.
    const { credentials: after } = await second.cdp.send('WebAuthn.getCredentials', { authenticatorId: second.authenticatorId });
    expect(after[0]!.signCount).toBeGreaterThan(credentials[0]!.signCount);

    // Someone who knows the password and captured that assertion replays it against a fresh
    // challenge of their own session: refused, and they stay at the code step.
    const thief = await newPage();
    await logIn(thief, USER);
    expect(path(thief)).toBe('/login/mfa');
    const headers = { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': await thief.locator('form[data-webauthn] input[name="_csrf"]').inputValue() };
    expect((await thief.request.post('/login/mfa/passkey/options', { headers, data: '{}' })).status()).toBe(200);
    const replay = await thief.request.post('/login/mfa/passkey', { headers, data: assertion.postData()! });
    expect(replay.status()).toBe(400);
    expect(await replay.json()).toEqual({ error: 'The passkey could not be verified.' });
    const [failure] = await real.haven.app.database.rows<{ details: { reason: string } }>(
      sql`SELECT details FROM audit_log WHERE action = 'mfa.challenge_failure' AND target = ${USER} ORDER BY seq DESC LIMIT 1`,
    );
    expect(failure?.details.reason).toMatch(/challenge/i);
    // The same assertion rewritten for the thief's fresh challenge, as a phishing site at another
    // origin would relay it: refused on the origin.
    const options = await (await thief.request.post('/login/mfa/passkey/options', { headers, data: '{}' })).json();
    const relayed = JSON.parse(assertion.postData()!);
    const clientData = JSON.parse(Buffer.from(relayed.response.clientDataJSON, 'base64url').toString());
    relayed.response.clientDataJSON = Buffer.from(JSON.stringify({ ...clientData, challenge: options.challenge, origin: 'https://haven.evil.example' })).toString('base64url');
    const phished = await thief.request.post('/login/mfa/passkey', { headers, data: JSON.stringify(relayed) });
    expect(phished.status()).toBe(400);
    const [originFailure] = await real.haven.app.database.rows<{ details: { reason: string } }>(
      sql`SELECT details FROM audit_log WHERE action = 'mfa.challenge_failure' AND target = ${USER} ORDER BY seq DESC LIMIT 1`,
    );
    expect(originFailure?.details.reason).toMatch(/origin/i);
    await thief.goto('/');
    expect(path(thief)).toBe('/login/mfa');
  });
});

describe('an administrator disables a user\'s MFA (lost phone)', () => {
  const USER = 'dora';

  test('Disable MFA on /admin/users/:id/security ends the user\'s session; the next login asks no code', async () => {
    await createUser(USER, 'Paralegal');
    const user = await newPage();
    await logIn(user, USER);
    await chooseMethod(user, 'app');
    await enrolWithApp(user, USER);
    await expectRecoveryCodes(user);
    await user.goto('/');
    expect(path(user)).toBe('/');

    const page = await admin();
    const id = (await findUserByLogin(real.haven.app, USER))!.id;
    await page.goto(`/admin/users/${id}/security`);
    expect(await text(page, '#mfa-enabled')).toBe('Yes');
    expect(await text(page, '#mfa-method')).toBe('app');
    await page.locator('#admin-disable-mfa').click();
    await page.waitForURL(`${real.baseUrl}/admin/users/${id}/security?done=1`);
    expect(await text(page, '[role="status"]')).toBe('Done. The user has been signed out everywhere.');
    expect(await text(page, '#mfa-enabled')).toBe('No');
    expect(await text(page, '#mfa-method')).toBe('-');

    // The user's open session is gone: the next navigation lands on the login page...
    await user.goto('/preferences');
    expect(path(user)).toBe('/login?next=%2Fpreferences');
    // ...and signing in there asks no code (this browser's remembered device was forgotten
    // too, so it is MFA that is off, as the page then says).
    await logIn(user, USER, { here: true });
    expect(path(user)).toBe('/preferences');
    expect(await text(user, '#mfa-status')).toBe('Off: you sign in with your password only.');
    expect(await user.locator('#enable-mfa').count()).toBe(1);
  });
});

describe('enrolment forced by the role (Site Settings mfa_required_roles)', () => {
  const USER = 'ivan';
  const ROLE = 'Intake Worker';

  test('the user lands on /mfa/enrol, cannot leave it, and reaches the dashboard after enrolling', async () => {
    await createUser(USER, ROLE);
    const settings = await admin();
    await settings.goto('/admin/site-settings');
    const role = settings.locator(`input[name="mfa_required_roles"][value="${ROLE}"]`);
    await role.check();
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await settings.waitForURL(`${real.baseUrl}/admin/site-settings?saved=1`);
    expect(await settings.locator(`input[name="mfa_required_roles"][value="${ROLE}"]`).isChecked()).toBe(true);

    const page = await newPage();
    await logIn(page, USER);
    expect(path(page)).toBe('/mfa/enrol');
    expect(await text(page, '[role="status"]')).toBe('Your account must use multifactor authentication. Set it up to continue.');
    for (const elsewhere of ['/', '/preferences']) {
      await page.goto(elsewhere);
      expect(path(page)).toBe('/mfa/enrol');
    }

    await chooseMethod(page, 'app', 'here');
    await enrolWithApp(page, USER);
    await expectRecoveryCodes(page);
    await page.getByRole('button', { name: 'I have saved them — continue' }).click();
    await page.waitForURL(`${real.baseUrl}/`);
    await expectDashboard(page, USER, ROLE);

    // The role requires it: it cannot be turned off.
    await page.goto('/preferences');
    expect(await text(page, '#mfa-status')).toBe('On, with an authenticator app.');
    expect(await text(page, '#recovery-code-count')).toBe('10 unused recovery codes.');
    expect(await page.locator('#disable-mfa').count()).toBe(0);
  });
});
