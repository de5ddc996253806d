import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eq } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts } from '../helpers/client.ts';
import { answerTimes } from '../helpers/wait.ts';
import { sessions } from '../../src/db/schema.ts';
import { hashToken } from '../../src/security/tokens.ts';
import { SESSION_COOKIE } from '../../src/sessions/service.ts';
import { updateSiteSettings } from '../../src/settings/service.ts';
import { setLoginActive } from '../../src/users/service.ts';

describe.each(DB_KINDS)('sessions (%s)', (kind) => {
  let haven: TestHaven;
  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('sam', 'Paralegal');
    await haven.createUser('ada', 'Site Administrator');
  });
  afterAll(() => haven?.close());

  test('session cookie is __Host-, Secure, HttpOnly, SameSite=Lax and holds at least 128 random bits', async () => {
    const browser = haven.client();
    await browser.get('/login');
    const r = await haven.server.inject({
      method: 'POST',
      url: '/login',
      payload: new URLSearchParams({ login: 'sam', password: TEST_PASSWORD, _csrf: browser.csrf }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      cookies: Object.fromEntries(browser.cookies),
    });
    const cookie = ([] as string[]).concat(r.headers['set-cookie'] as string[]).find((c) => c.startsWith(`${SESSION_COOKIE}=`))!;
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).not.toMatch(/Domain=/);
    const token = decodeURIComponent(cookie.split(';')[0]!.split('=')[1]!);
    expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(16);
    // Only the token's hash is stored.
    const [row] = await haven.app.db.select().from(sessions).where(eq(sessions.id, hashToken(token)));
    expect(row).toBeDefined();
    expect(JSON.stringify(row)).not.toContain(token);
  });

  test('a POST without a CSRF token is refused, the login form included', async () => {
    const browser = haven.client();
    await browser.get('/login');
    const noToken = await browser.post('/login', { login: 'sam', password: TEST_PASSWORD, _csrf: '' });
    expect(noToken.status).toBe(403);
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);
    const forged = await browser.post('/login', { login: 'sam', password: TEST_PASSWORD, _csrf: 'forged-token' });
    expect(forged.status).toBe(403);
    // A token from another browser's cookie does not fit this browser's secret.
    const other = haven.client();
    await other.get('/login');
    expect((await browser.post('/login', { login: 'sam', password: TEST_PASSWORD, _csrf: other.csrf })).status).toBe(403);

    const admin = haven.client();
    await admin.login('ada', TEST_PASSWORD);
    const roleId = (await haven.app.db.query.roles.findFirst())!.id;
    const created = await admin.post('/admin/users', { _csrf: '', login: 'csrfvictim', fullName: 'X', email: 'x@example.org', roleId, password: 'tulip7orbit' });
    expect(created.status).toBe(403);
    expect((await admin.get('/admin/users')).body).not.toContain('csrfvictim');
    expect((await admin.post('/logout', { _csrf: '' })).status).toBe(403);
    expect((await admin.get('/')).status).toBe(200);
  });

  test('session fixation: a session id planted before login is never the one after it', async () => {
    const victim = haven.client();
    // An attacker plants their own valid session, and a made-up one.
    const attacker = haven.client();
    await attacker.login('ada', TEST_PASSWORD);
    const planted = attacker.cookies.get(SESSION_COOKIE)!;
    victim.cookies.set(SESSION_COOKIE, planted);
    await victim.login('sam', TEST_PASSWORD);
    const after = victim.cookies.get(SESSION_COOKIE)!;
    expect(after).not.toBe(planted);
    expect((await victim.get('/')).body).toContain('User sam');
    // The planted session was ended by the login.
    expect((await attacker.get('/')).status).toBe(303);

    const made = haven.client();
    made.cookies.set(SESSION_COOKIE, 'attacker-chosen-value-aaaaaaaaaaaaaaaaaaaaaa');
    await made.login('sam', TEST_PASSWORD);
    expect(made.cookies.get(SESSION_COOKIE)).not.toBe('attacker-chosen-value-aaaaaaaaaaaaaaaaaaaaaa');
  });

  test('Login Active = No refuses the very next request of every open session', async () => {
    await haven.createUser('leaver', 'Attorney');
    const laptop = haven.client();
    const phone = haven.client({ ip: '198.51.100.30' });
    await laptop.login('leaver', TEST_PASSWORD);
    await phone.login('leaver', TEST_PASSWORD);
    expect((await laptop.get('/')).status).toBe(200);
    const admin = haven.client();
    await admin.login('ada', TEST_PASSWORD);
    const user = await haven.app.db.query.users.findFirst({ where: (u, { eq }) => eq(u.login, 'leaver') });
    const edit = await admin.submit(`/admin/users/${user!.id}`, { fullName: 'User leaver', email: 'leaver@example.org', roleId: user!.roleId, loginActive: 'no' });
    expect(edit.status).toBe(303);
    expect((await laptop.get('/')).status).toBe(303);
    expect((await phone.get('/')).location).toMatch(/^\/login/);
    expect((await phone.post('/session/extend', {})).status).not.toBe(200);
    // And cannot sign in again.
    const again = haven.client();
    await again.get('/login');
    let status = 0;
    await answerTimes(haven.clock, [() => again.post('/login', { login: 'leaver', password: TEST_PASSWORD }).then((r) => (status = r.status))], 60_000);
    expect(status).toBe(401);
  });

  test('deactivation through the CLI path also ends a live session (even if the row was kept)', async () => {
    await haven.createUser('leaver2', 'Attorney');
    const browser = haven.client();
    await browser.login('leaver2', TEST_PASSWORD);
    // Flip the flag directly, as another instance might, without deleting sessions.
    await haven.app.database.rows((await import('drizzle-orm')).sql`UPDATE users SET login_active = false WHERE login = 'leaver2'`);
    expect((await browser.get('/')).status).toBe(303);
    await setLoginActive(haven.app, 'leaver2', true, { actor: null, ip: null });
  });

  test('idle timeout: 89 minutes idle is fine, 90 minutes logs out; the warning counts down', async () => {
    const browser = haven.client();
    await browser.login('sam', TEST_PASSWORD);
    const page = await browser.get('/');
    expect(page.body).toContain('id="session-warning"');
    expect(page.body).toContain('data-seconds-left="5400"');
    expect(page.body).toMatch(/animation-delay:5100s/);
    haven.clock.advance(89 * 60_000);
    expect((await browser.get('/')).status).toBe(200);
    haven.clock.advance(89 * 60_000);
    // "Extend Login" at the last minute keeps the session alive.
    expect((await browser.post('/session/extend', {}, { accept: 'application/json' })).body).toContain('"secondsLeft":5400');
    haven.clock.advance(60 * 60_000);
    expect((await browser.get('/')).status).toBe(200);
    haven.clock.advance(90 * 60_000);
    const expired = await browser.get('/');
    expect(expired.status).toBe(303);
    expect(expired.location).toContain('reason=timeout');
  });

  test('the idle timeout follows Site Settings', async () => {
    await updateSiteSettings(haven.app, { session_timeout_minutes: '30' }, null, null);
    try {
      const browser = haven.client();
      await browser.login('sam', TEST_PASSWORD);
      expect((await browser.get('/')).body).toContain('data-seconds-left="1800"');
      haven.clock.advance(31 * 60_000);
      expect((await browser.get('/')).status).toBe(303);
    } finally {
      await updateSiteSettings(haven.app, { session_timeout_minutes: '90' }, null, null);
    }
  });

  test('absolute lifetime: an active session still ends after session_max_hours', async () => {
    const browser = haven.client();
    await browser.login('sam', TEST_PASSWORD);
    for (let h = 0; h < 11; h++) {
      haven.clock.advance(60 * 60_000);
      expect((await browser.get('/')).status).toBe(200);
    }
    haven.clock.advance(60 * 60_000);
    expect((await browser.get('/')).status).toBe(303);
  });

  test('logout ends the session on the server, not only in the browser', async () => {
    const browser = haven.client();
    await browser.login('sam', TEST_PASSWORD);
    const token = browser.cookies.get(SESSION_COOKIE)!;
    await browser.get('/');
    expect((await browser.post('/logout', {})).location).toBe('/login?reason=logout');
    const replay = haven.client();
    replay.cookies.set(SESSION_COOKIE, token);
    expect((await replay.get('/')).status).toBe(303);
  });

  test('after login only same-site paths are followed', async () => {
    for (const next of ['//evil.example', '/\\evil.example', 'https:evil.example', 'https://evil.example/', '%2F%2Fevil.example', '/%2F%2Fevil.example']) {
      const browser = haven.client();
      await browser.get('/login');
      const r = await browser.post('/login', { login: 'sam', password: TEST_PASSWORD, next });
      expect(r.location, next).toBe('/');
    }
    const browser = haven.client();
    await browser.get(`/login?next=${encodeURIComponent('/admin/users?x=1')}`);
    expect((await browser.post('/login', { login: 'sam', password: TEST_PASSWORD, next: '/admin/users?x=1' })).location).toBe('/admin/users?x=1');
  });

  test('a signed-out visitor is sent to the login page from every non-public page', async () => {
    const anon = haven.client();
    for (const url of ['/', '/admin/users', '/admin/roles', '/admin/site-settings', '/admin/audit', '/password/change', '/admin/users/new']) {
      const r = await anon.get(url);
      expect(r.status, url).toBe(303);
      expect(r.location).toMatch(/^\/login\?next=/);
    }
    expect(alerts((await anon.get('/login?reason=timeout')).body)).toEqual([]);
  });
});
