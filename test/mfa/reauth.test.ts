// A stolen session cookie must not be enough to take over the account's second factor, nor to
// live for ever (issue 8, defect 4): turning MFA off, enrolling a new method and making new
// recovery codes need the password and the current factor proved within the last five minutes;
// the absolute lifetime counts from the password step through every rotation of the id; and
// GET /mfa/recovery-codes never makes codes. Both databases, manual clock.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient } from '../helpers/client.ts';
import { timedAnswers } from '../helpers/wait.ts';
import { appCode, enrolApp, recoveryCodes } from '../helpers/mfa.ts';
import { SESSION_COOKIE } from '../../src/sessions/service.ts';
import { REAUTH_WINDOW_MS } from '../../src/security/session-policy.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe.each(DB_KINDS)('re-authentication before MFA changes (%s)', (kind) => {
  let haven: TestHaven;
  let owner: TestClient;
  let secret: string;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('rita', 'Paralegal');
    owner = haven.client({ ip: '192.0.2.10' });
    await owner.login('rita', TEST_PASSWORD);
    ({ secret } = await enrolApp(haven, owner));
  });
  afterAll(() => haven?.close());

  const mfa = async () =>
    (await haven.app.database.rows<{ mfa_enabled: boolean; mfa_method: string | null }>(sql`SELECT mfa_enabled, mfa_method FROM users WHERE login = 'rita'`))[0]!;
  const recoveryRows = async () =>
    (await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM mfa_recovery_codes r JOIN users u ON u.id = r.user_id WHERE u.login = 'rita'`))[0]!.n;

  /** Someone who copied the owner's session cookie, from elsewhere. */
  function thiefWith(cookie: string): TestClient {
    const thief = haven.client({ ip: '198.51.100.66' });
    thief.cookies.set(SESSION_COOKIE, cookie);
    return thief;
  }

  /** The password, then the current TOTP code (each code works once: the clock moves a step first). */
  async function reauthenticate(client: TestClient, password = TEST_PASSWORD): Promise<void> {
    await client.get('/reauth');
    const [pw] = await timedAnswers(haven.clock, [() => client.post('/reauth/password', { password, next: '/preferences' })], 60_000);
    expect(pw!.response.location).toBe('/reauth?next=%2Fpreferences');
    haven.clock.advance(30_000);
    await client.get('/reauth?next=%2Fpreferences');
    const [code] = await timedAnswers(haven.clock, [() => client.post('/reauth/code', { code: appCode(secret, haven.clock.now()), next: '/preferences' })], 60_000);
    expect(code!.response.status).toBe(303);
    expect(code!.response.location).toBe('/preferences');
  }

  test('a stolen session older than five minutes cannot turn MFA off, enrol another method, or make new recovery codes', async () => {
    haven.clock.advance(REAUTH_WINDOW_MS);
    const thief = thiefWith(owner.cookies.get(SESSION_COOKIE)!);
    await thief.get('/preferences');
    const disable = await thief.post('/preferences/mfa/disable', {});
    expect(disable.status).toBe(303);
    expect(disable.location).toBe('/reauth?next=%2Fpreferences%23mfa');
    const codes = await thief.post('/mfa/recovery-codes', {});
    expect(codes.location).toBe('/reauth?next=%2Fmfa%2Frecovery-codes');
    const enrol = await thief.get('/mfa/enrol');
    expect(enrol.location).toMatch(/^\/(reauth|preferences)/);
    expect(await mfa()).toEqual({ mfa_enabled: true, mfa_method: 'app' });
    expect(await recoveryRows()).toBe(10);
    // The re-authentication page asks for the password, which the thief does not have.
    const page = await thief.get('/reauth?next=%2Fpreferences');
    expect(page.body).toContain('name="password"');
    const [wrong] = await timedAnswers(haven.clock, [() => thief.post('/reauth/password', { password: 'not-her-pass-9', next: '/preferences' })], 60_000);
    expect(wrong!.response.status).toBe(400);
    expect(alerts(wrong!.response.body).join()).toMatch(/password is not correct/);
    // A wrong password there counts on the account's counter, like a login.
    const [counter] = await haven.app.database.rows<{ failures: number }>(sql`SELECT failures FROM login_throttle WHERE key = 'login:rita'`);
    expect(counter!.failures).toBeGreaterThanOrEqual(1);
  });

  test('the password alone is not enough when the account has a second factor', async () => {
    const thief = thiefWith(owner.cookies.get(SESSION_COOKIE)!);
    await thief.get('/reauth');
    // Suppose the thief knows the password too: the page then asks for the current factor.
    const [pw] = await timedAnswers(haven.clock, [() => thief.post('/reauth/password', { password: TEST_PASSWORD, next: '/preferences' })], 60_000);
    expect(pw!.response.location).toBe('/reauth?next=%2Fpreferences');
    expect((await thief.get('/reauth?next=%2Fpreferences')).body).toContain('name="code"');
    await thief.get('/preferences');
    expect((await thief.post('/preferences/mfa/disable', {})).location).toMatch(/^\/reauth/);
    const [bad] = await timedAnswers(haven.clock, [() => thief.post('/reauth/code', { code: '000000', next: '/preferences' })], 60_000);
    expect(bad!.response.status).toBe(400);
    expect(await mfa()).toEqual({ mfa_enabled: true, mfa_method: 'app' });
  });

  test('with a re-authentication the owner makes new recovery codes (shown once) and turns MFA off; five minutes later it is needed again', async () => {
    await reauthenticate(owner);
    // The re-authentication is a privilege change: the session id changed.
    const before = await recoveryRows();
    expect(before).toBe(10);
    await owner.get('/preferences');
    expect((await owner.post('/mfa/recovery-codes', {})).location).toBe('/mfa/recovery-codes?done=new-codes');
    const shown = recoveryCodes((await owner.get('/mfa/recovery-codes')).body);
    expect(shown).toHaveLength(10);
    // Shown once: the next visit shows only how many are left, and makes nothing.
    const again = await owner.get('/mfa/recovery-codes');
    expect(recoveryCodes(again.body)).toEqual([]);
    expect(await recoveryRows()).toBe(10);

    haven.clock.advance(REAUTH_WINDOW_MS);
    await owner.get('/preferences');
    expect((await owner.post('/preferences/mfa/disable', {})).location).toMatch(/^\/reauth/);
    expect((await mfa()).mfa_enabled).toBe(true);
    await reauthenticate(owner);
    await owner.get('/preferences');
    expect((await owner.post('/preferences/mfa/disable', {})).location).toBe('/preferences?done=mfa-disabled');
    expect((await mfa()).mfa_enabled).toBe(false);
  });

  test('GET /mfa/recovery-codes makes no codes, and two requests racing for new ones cannot both see them', async () => {
    // MFA on again, for this test (enrolment is a change of MFA: re-authenticate first).
    haven.clock.advance(REAUTH_WINDOW_MS);
    await owner.get('/mfa/enrol');
    await owner.get('/reauth');
    const [pw] = await timedAnswers(haven.clock, [() => owner.post('/reauth/password', { password: TEST_PASSWORD, next: '/mfa/enrol' })], 60_000);
    expect(pw!.response.location).toBe('/mfa/enrol');
    ({ secret } = await enrolApp(haven, owner));
    const rows = await recoveryRows();
    for (let i = 0; i < 3; i++) expect(recoveryCodes((await owner.get('/mfa/recovery-codes')).body)).toEqual([]);
    expect(await recoveryRows()).toBe(rows);
    const issuedCount = async () => (await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log WHERE action = 'mfa.recovery_codes_issued'`))[0]!.n;
    const issued = await issuedCount();

    await reauthenticate(owner);
    await owner.get('/preferences');
    await owner.post('/mfa/recovery-codes', {});
    const pages = await Promise.all([owner.get('/mfa/recovery-codes'), owner.get('/mfa/recovery-codes'), owner.get('/mfa/recovery-codes')]);
    expect(pages.filter((p) => recoveryCodes(p.body).length === 10)).toHaveLength(1);
    expect(await issuedCount()).toBe(issued + 1);
    // The codes wait in the session sealed with its token: the database alone cannot read them.
    await owner.post('/mfa/recovery-codes', {});
    const [row] = await haven.app.database.rows<{ sealed: string }>(sql`SELECT recovery_codes_sealed AS sealed FROM sessions WHERE recovery_codes_sealed IS NOT NULL`);
    // (Compared with the codes themselves: a code-shaped pattern can occur by chance in the
    // ciphertext's base64url, about once in 200 runs.)
    const thief = thiefWith('not-the-token');
    expect((await thief.get('/mfa/recovery-codes')).status).toBe(303);
    const shown = recoveryCodes((await owner.get('/mfa/recovery-codes')).body);
    expect(shown).toHaveLength(10);
    for (const code of shown) expect(row!.sealed).not.toContain(code);
  });

  test('the absolute lifetime counts from the password step, through every rotation (re-authentication, enrolment)', async () => {
    const browser = haven.client({ ip: '192.0.2.30' });
    haven.clock.advance(HOUR);
    const [login] = await timedAnswers(haven.clock, [() => browser.login('rita', TEST_PASSWORD)], 60_000);
    expect(login!.response.location).toBe('/login/mfa');
    haven.clock.advance(30_000);
    await browser.get('/login/mfa');
    const [code] = await timedAnswers(haven.clock, [() => browser.post('/login/mfa', { code: appCode(secret, haven.clock.now()) })], 60_000);
    expect(code!.response.status).toBe(303);
    const loginAt = haven.clock.now().getTime() - 30_000;
    // Every 80 minutes (inside the idle timeout), re-authenticate: each time a new session id.
    const ids = new Set<string>();
    while (haven.clock.now().getTime() + 80 * MINUTE < loginAt + 12 * HOUR) {
      haven.clock.advance(80 * MINUTE);
      expect((await browser.get('/preferences')).status).toBe(200);
      await reauthenticate(browser);
      ids.add(browser.cookies.get(SESSION_COOKIE)!);
    }
    expect(ids.size).toBeGreaterThan(5);
    // 12 hours after the password: over, however fresh the last rotation.
    haven.clock.set(new Date(loginAt + 12 * HOUR));
    const end = await browser.get('/preferences');
    expect(end.status).toBe(303);
    expect(end.location).toMatch(/^\/login/);
  });
});
