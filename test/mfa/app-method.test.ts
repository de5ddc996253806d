// Authenticator-app MFA end to end over HTTP (inject), with attacks: skipping the step, replayed
// and brute-forced codes, recovery codes, other users' codes and forged device cookies.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { accessTable } from '../../src/web/access.ts';
import { alerts, type TestClient } from '../helpers/client.ts';
import { answerTimes, timedAnswers } from '../helpers/wait.ts';
import { appCode, enrolApp, submitCode } from '../helpers/mfa.ts';
import { MAX_QUEUE_MS, nextCodeDelay } from '../../src/security/login-throttle.ts';
import { MFA_DEVICE_COOKIE } from '../../src/auth/steps.ts';
import { SESSION_COOKIE } from '../../src/sessions/service.ts';
import { updateSiteSettings } from '../../src/settings/service.ts';
import { setLoginActive } from '../../src/users/service.ts';

const HOUR = 3600_000;

describe.each(DB_KINDS)('MFA with an authenticator app (%s)', (kind) => {
  let haven: TestHaven;
  let secret: string;
  let codes: string[];
  let taraBrowser: TestClient;
  let benBrowser: TestClient;
  let benSecret: string;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('tara', 'Attorney');
    await haven.createUser('ben', 'Paralegal');
    await haven.createUser('ada', 'Site Administrator');
    taraBrowser = haven.client({ ip: '192.0.2.10' });
    await taraBrowser.login('tara', TEST_PASSWORD);
    ({ secret, codes } = await enrolApp(haven, taraBrowser));
  });
  afterAll(() => haven?.close());

  async function auditActions(): Promise<string[]> {
    return (await haven.app.database.rows<{ action: string }>(sql`SELECT action FROM audit_log ORDER BY seq`)).map((r) => r.action);
  }

  /** A brand-new browser (no cookies) that has passed the password for tara. */
  async function atCodeStep(ip = '192.0.2.20') {
    const browser = haven.client({ ip });
    const r = await browser.login('tara', TEST_PASSWORD);
    expect(r.location).toBe('/login/mfa');
    return browser;
  }

  test('enrolment stored the method, ten hashed recovery codes, and is in the audit log', async () => {
    const [row] = await haven.app.database.rows<{ mfa_enabled: boolean; mfa_method: string }>(sql`SELECT mfa_enabled, mfa_method FROM users WHERE login = 'tara'`);
    expect(row).toEqual({ mfa_enabled: true, mfa_method: 'app' });
    const stored = await haven.app.database.rows<{ code_hash: string }>(sql`SELECT code_hash FROM mfa_recovery_codes r JOIN users u ON u.id = r.user_id WHERE u.login = 'tara'`);
    expect(stored).toHaveLength(10);
    for (const c of codes) expect(stored.map((s) => s.code_hash).join()).not.toContain(c.replace('-', ''));
    expect(await auditActions()).toEqual(expect.arrayContaining(['mfa.enrolment_started', 'mfa.enabled', 'mfa.recovery_codes_issued']));
  });

  test('recovery codes are shown once', async () => {
    await taraBrowser.post('/logout', {});
    // The enrolling browser is remembered for 24 hours: no code asked.
    expect((await taraBrowser.login('tara', TEST_PASSWORD)).location).toBe('/');
    const page = await taraBrowser.get('/mfa/recovery-codes');
    expect(page.status).toBe(200);
    for (const c of codes) expect(page.body).not.toContain(c);
  });

  test('a new browser is asked for a code; the same browser is not within 24 hours of passing it, and a login in between does not extend them', async () => {
    const fresh = await atCodeStep();
    // The clock has not moved since enrolment: the current code is the one that confirmed it.
    expect((await submitCode(haven, fresh, appCode(secret, haven.clock.now()))).status).toBe(400);
    haven.clock.advance(30_000);
    expect((await submitCode(haven, fresh, appCode(secret, haven.clock.now()))).status).toBe(303);
    expect((await fresh.get('/')).status).toBe(200);
    await fresh.post('/logout', {});
    haven.clock.advance(12 * HOUR);
    expect((await fresh.login('tara', TEST_PASSWORD)).location).toBe('/');
    await fresh.post('/logout', {});
    haven.clock.advance(11 * HOUR + 59 * 60_000);
    expect((await fresh.login('tara', TEST_PASSWORD)).location).toBe('/');
    // "Passed MFA on this device in the last 24 hours": the logins in between did not restart
    // the window, on the server or in the cookie.
    await fresh.post('/logout', {});
    haven.clock.advance(60_000);
    expect((await fresh.login('tara', TEST_PASSWORD)).location).toBe('/login/mfa');
  });

  test('skipping /login/mfa: every other page, form and JSON request is refused at the code step', async () => {
    const attacker = await atCodeStep('198.51.100.5');
    // Every page that does not belong to the code step, from the access table.
    const pages = accessTable(haven.server)
      .filter((r) => r.method === 'GET' && !['public', 'mfa-challenge', 'any-session'].includes(r.access))
      .map((r) => r.url.replace(/:id\b/g, '00000000-0000-4000-8000-000000000000'));
    expect(pages).toEqual(expect.arrayContaining(['/', '/preferences', '/admin/users', '/mfa/enrol', '/reauth', '/password/change']));
    for (const url of pages) {
      const page = await attacker.get(url);
      if (url.startsWith('/api/')) {
        // The API takes no session cookie, whatever its step: 401, nothing of the account.
        expect(page.status, url).toBe(401);
        expect(page.body).not.toContain('tara');
        continue;
      }
      expect(page.status, url).toBe(303);
      expect(page.location, url).toBe('/login/mfa');
      const api = await attacker.get(url, { accept: 'application/json' });
      expect(api.status, url).toBe(403);
      expect(api.body).not.toContain('tara');
    }
    await attacker.get('/login/mfa');
    for (const [url, fields] of [
      ['/password/change', { current: TEST_PASSWORD, next: 'new-pass-9xyz', confirm: 'new-pass-9xyz' }],
      ['/mfa/enrol', { method: 'email' }],
      ['/preferences/mfa/disable', {}],
    ] as const) {
      const r = await attacker.post(url, fields);
      expect(r.location, url).toBe('/login/mfa');
    }
    const [row] = await haven.app.database.rows<{ mfa_method: string }>(sql`SELECT mfa_method FROM users WHERE login = 'tara'`);
    expect(row!.mfa_method).toBe('app');
  });

  test('a replayed code is refused: the step of the last accepted code is stored', async () => {
    haven.clock.advance(60_000);
    const code = appCode(secret, haven.clock.now());
    const first = await atCodeStep('192.0.2.31');
    expect((await submitCode(haven, first, code)).status).toBe(303);
    const second = await atCodeStep('192.0.2.32');
    const replay = await submitCode(haven, second, code);
    expect(replay.status).toBe(400);
    expect(alerts(replay.body).join()).toMatch(/not valid|already used/);
    expect(second.cookies.has(MFA_DEVICE_COOKIE)).toBe(false);
  });

  test('brute force: 20 parallel wrong codes: those within a minute are answered no faster than the code schedule; the rest are refused at once', async () => {
    haven.clock.advance(60_000);
    const attacker = await atCodeStep('198.51.100.20');
    await attacker.get('/login/mfa');
    const answers = await timedAnswers(
      haven.clock,
      Array.from({ length: 20 }, (_, i) => () => attacker.post('/login/mfa', { code: String(100000 + i * 7919) })),
      200_000,
      500,
    );
    // Turns at 0..9 s, then 19 s (the 10th failure costs 10 s) and 39 s (the 11th, 20 s); the
    // 13th would wait 79 s, beyond MAX_QUEUE_MS, so it and the rest are refused at once. (The
    // address counter, counted as failures land, can push the last one out too.)
    const evaluated = answers.filter((a) => a.response.status === 400);
    const refused = answers.filter((a) => a.response.status === 429);
    expect(evaluated.length).toBeGreaterThanOrEqual(10);
    expect(evaluated.length).toBeLessThanOrEqual(12);
    expect(refused).toHaveLength(20 - evaluated.length);
    let turn = 0;
    evaluated.forEach((a, i) => {
      expect(a.at).toBeGreaterThanOrEqual(turn + Math.min(nextCodeDelay(i + 1), MAX_QUEUE_MS));
      turn += nextCodeDelay(i + 1);
    });
    for (const r of refused) {
      expect(r.at).toBe(0);
      expect(Number(r.response.headers['retry-after'])).toBeGreaterThan(60);
    }
    expect(attacker.cookies.has(MFA_DEVICE_COOKIE)).toBe(false);
    // No lockout: once its turn comes, the right code works.
    haven.clock.advance(120_000);
    const right = await submitCode(haven, attacker, appCode(secret, haven.clock.now()));
    expect(right.status).toBe(303);
  });

  test('a recovery code works once; reusing it is refused', async () => {
    const first = await atCodeStep('192.0.2.41');
    expect((await submitCode(haven, first, codes[0]!.toUpperCase())).status).toBe(303);
    const second = await atCodeStep('192.0.2.42');
    expect((await submitCode(haven, second, codes[0]!)).status).toBe(400);
    expect(await auditActions()).toContain('mfa.challenge_failure');
  });

  test("another user's code is worthless: ben's recovery code and ben's app code do not open tara's account", async () => {
    benBrowser = haven.client({ ip: '192.0.2.50' });
    await benBrowser.login('ben', TEST_PASSWORD);
    const benMfa = await enrolApp(haven, benBrowser);
    benSecret = benMfa.secret;
    haven.clock.advance(30_000);
    const attacker = await atCodeStep('198.51.100.50');
    expect((await submitCode(haven, attacker, benMfa.codes[0]!)).status).toBe(400);
    expect((await submitCode(haven, attacker, appCode(benMfa.secret, haven.clock.now()))).status).toBe(400);
  });

  test("a copied mfa_daily_secret_key of another user, or a forged one, does not skip the code", async () => {
    const benDevice = benBrowser.cookies.get(MFA_DEVICE_COOKIE)!;
    expect(benDevice).toBeTruthy();
    for (const forged of [benDevice, 'A'.repeat(43), '']) {
      const attacker = haven.client({ ip: '198.51.100.60' });
      if (forged) attacker.cookies.set(MFA_DEVICE_COOKIE, forged);
      expect((await attacker.login('tara', TEST_PASSWORD)).location).toBe('/login/mfa');
    }
  });

  test('the device is forgotten after 24 hours, and when the password changes or the account is deactivated', async () => {
    const tara = await atCodeStep('192.0.2.70');
    haven.clock.advance(30_000);
    expect((await submitCode(haven, tara, appCode(secret, haven.clock.now()))).status).toBe(303);
    await tara.post('/logout', {});
    haven.clock.advance(24 * HOUR + 60_000);
    expect((await tara.login('tara', TEST_PASSWORD)).location).toBe('/login/mfa');
    expect((await submitCode(haven, tara, appCode(secret, haven.clock.now()))).status).toBe(303);
    // Remembered again; a password change kills every remembered device.
    await tara.get('/password/change');
    const changed = await tara.post('/password/change', { current: TEST_PASSWORD, next: 'granite5meadow', confirm: 'granite5meadow' });
    expect(changed.status).toBe(303);
    await tara.post('/logout', {});
    expect((await tara.login('tara', 'granite5meadow')).location).toBe('/login/mfa');
    haven.clock.advance(30_000);
    expect((await submitCode(haven, tara, appCode(secret, haven.clock.now()))).status).toBe(303);
    await setLoginActive(haven.app, 'tara', false, { actor: null, ip: null });
    await setLoginActive(haven.app, 'tara', true, { actor: null, ip: null });
    expect((await tara.login('tara', 'granite5meadow')).location).toBe('/login/mfa');
  });

  test('the session id changes when the code is accepted (no promotion of the pre-MFA session)', async () => {
    const browser = haven.client({ ip: '192.0.2.80' });
    await browser.login('tara', 'granite5meadow');
    const before = browser.cookies.get(SESSION_COOKIE)!;
    haven.clock.advance(30_000);
    expect((await submitCode(haven, browser, appCode(secret, haven.clock.now()))).status).toBe(303);
    const after = browser.cookies.get(SESSION_COOKIE)!;
    expect(after).not.toBe(before);
    const old = haven.client({ ip: '192.0.2.81' });
    old.cookies.set(SESSION_COOKIE, before);
    expect((await old.get('/')).location).toMatch(/^\/login/);
  });

  test('a user disables their own MFA; a required role cannot', async () => {
    // Earlier tests moved the clock a day on: ben's session and remembered device are gone.
    const ben = benBrowser;
    expect((await ben.login('ben', TEST_PASSWORD)).location).toBe('/login/mfa');
    haven.clock.advance(30_000);
    expect((await submitCode(haven, ben, appCode(benSecret, haven.clock.now()))).status).toBe(303);
    expect((await ben.get('/preferences')).status).toBe(200);
    expect((await ben.post('/preferences/mfa/disable', {})).location).toBe('/preferences?done=mfa-disabled');
    const [row] = await haven.app.database.rows<{ mfa_enabled: boolean; mfa_method: string | null }>(sql`SELECT mfa_enabled, mfa_method FROM users WHERE login = 'ben'`);
    expect(row).toEqual({ mfa_enabled: false, mfa_method: null });

    expect((await updateSiteSettings(haven.app, { mfa_required_roles: 'Attorney' }, null, null)).ok).toBe(true);
    try {
      const tara = haven.client({ ip: '192.0.2.90' });
      await tara.login('tara', 'granite5meadow');
      haven.clock.advance(30_000);
      expect((await submitCode(haven, tara, appCode(secret, haven.clock.now()))).status).toBe(303);
      const prefs = await tara.get('/preferences');
      expect(prefs.body).not.toContain('id="disable-mfa"');
      expect((await tara.post('/preferences/mfa/disable', {})).status).toBe(403);
    } finally {
      await updateSiteSettings(haven.app, { mfa_required_roles: '' }, null, null);
    }
  });
});
