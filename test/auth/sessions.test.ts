import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eq } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { accessTable } from '../../src/web/access.ts';
import { alerts } from '../helpers/client.ts';
import { answerTimes } from '../helpers/wait.ts';
import { sessions } from '../../src/db/schema.ts';
import { hashToken } from '../../src/security/tokens.ts';
import { SESSION_COOKIE } from '../../src/sessions/service.ts';
import { CSRF_COOKIE } from '../../src/server.ts';
import { DEVICE_COOKIE } from '../../src/auth/service.ts';
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

  test('CSRF and device cookies are __Host-, Secure, HttpOnly, SameSite=Lax, Path=/, with no Domain', async () => {
    // Raw Set-Cookie lines: a browser enforces what they say, not what the server meant.
    const setCookies = (r: { headers: Record<string, unknown> }) => ([] as string[]).concat((r.headers['set-cookie'] as string[] | string | undefined) ?? []);
    const attributes = (line: string) => line.split(';').slice(1).map((a) => a.trim().toLowerCase());
    const expectHostCookie = (line: string | undefined, name: string) => {
      expect(line, `${name} is set`).toBeDefined();
      expect(line!.startsWith(`${name}=`)).toBe(true);
      const attrs = attributes(line!);
      expect(attrs, name).toContain('secure');
      expect(attrs, name).toContain('httponly');
      expect(attrs, name).toContain('samesite=lax');
      expect(attrs, name).toContain('path=/');
      expect(attrs.filter((a) => a.startsWith('domain')), name).toEqual([]);
      expect(Buffer.from(decodeURIComponent(line!.slice(name.length + 1).split(';')[0]!), 'base64url').length, `${name} value`).toBeGreaterThanOrEqual(16);
    };
    const page = await haven.server.inject({ method: 'GET', url: '/login', remoteAddress: '203.0.113.31' });
    expect(CSRF_COOKIE.startsWith('__Host-')).toBe(true);
    expectHostCookie(setCookies(page).find((c) => c.startsWith(`${CSRF_COOKIE}=`)), CSRF_COOKIE);
    const csrfCookie = setCookies(page).find((c) => c.startsWith(`${CSRF_COOKIE}=`))!.split(';')[0]!;
    const token = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const login = await haven.server.inject({
      method: 'POST',
      url: '/login',
      payload: new URLSearchParams({ login: 'sam', password: TEST_PASSWORD, _csrf: token }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie },
      remoteAddress: '203.0.113.31',
    });
    expect(login.statusCode).toBe(303);
    expect(DEVICE_COOKIE.startsWith('__Host-')).toBe(true);
    const device = setCookies(login).find((c) => c.startsWith(`${DEVICE_COOKIE}=`));
    expectHostCookie(device, DEVICE_COOKIE);
    // It outlives the session on purpose (it marks a known device), but not beyond what browsers accept.
    expect(attributes(device!)).toContain(`max-age=${400 * 24 * 3600}`);
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
    // A form posted by a dead session is sent to the login page, not served.
    const extend = await phone.post('/session/extend', {});
    expect(extend.status).toBe(303);
    expect(extend.location).toMatch(/^\/login/);
    // And cannot sign in again.
    const again = haven.client();
    await again.get('/login');
    let status = 0;
    await answerTimes(haven.clock, [() => again.post('/login', { login: 'leaver', password: TEST_PASSWORD }).then((r) => (status = r.status))], 60_000);
    expect(status).toBe(401);
  });

  /** Two signed-in browsers of one user, a bystander, and the administrator: the cast of a privilege change. */
  async function privilegeChangeCast(login: string, roleName: string) {
    const user = await haven.createUser(login, roleName);
    const laptop = haven.client();
    const phone = haven.client({ ip: '198.51.100.31' });
    await laptop.login(login, TEST_PASSWORD);
    await phone.login(login, TEST_PASSWORD);
    const bystander = haven.client({ ip: '198.51.100.32' });
    await bystander.login('sam', TEST_PASSWORD);
    const admin = haven.client({ ip: '198.51.100.33' });
    await admin.login('ada', TEST_PASSWORD);
    for (const c of [laptop, phone, bystander, admin]) expect((await c.get('/')).status).toBe(200);
    const tokens = [laptop.cookies.get(SESSION_COOKIE)!, phone.cookies.get(SESSION_COOKIE)!];
    const row = (await haven.app.db.query.users.findFirst({ where: (u, { eq }) => eq(u.login, login) }))!;
    return { user, row, laptop, phone, bystander, admin, tokens };
  }

  const openSessions = async (userId: string) => (await haven.app.db.select().from(sessions).where(eq(sessions.userId, userId))).length;

  test('a role change on /admin/users/:id ends every open session of that user: an old session never gains the new role', async () => {
    const { user, row, laptop, phone, bystander, admin, tokens } = await privilegeChangeCast('riser', 'Paralegal');
    expect((await laptop.get('/admin/audit')).status).toBe(403);
    const supervisor = (await haven.app.db.query.roles.findFirst({ where: (r, { eq }) => eq(r.name, 'Supervisor') }))!;
    const edit = await admin.submit(`/admin/users/${user.id}`, { fullName: row.fullName, email: row.email, roleId: supervisor.id, loginActive: 'yes' });
    expect(edit.status).toBe(303);
    // Supervisor holds audit_view: a session kept across the promotion would now read the audit log.
    expect((await laptop.get('/admin/audit')).status).toBe(303);
    expect((await phone.get('/')).location).toMatch(/^\/login/);
    for (const token of tokens) {
      const replay = haven.client();
      replay.cookies.set(SESSION_COOKIE, token);
      expect((await replay.get('/')).status).toBe(303);
    }
    expect(await openSessions(user.id)).toBe(0);
    // Nobody else was signed out, the administrator included.
    expect((await bystander.get('/')).status).toBe(200);
    expect((await admin.get('/')).status).toBe(200);
    // A new login carries the new role.
    const again = haven.client();
    await again.login('riser', TEST_PASSWORD);
    expect((await again.get('/')).body).toContain('(Supervisor)');
    expect((await again.get('/admin/audit')).status).toBe(200);
    // Demotion ends sessions too.
    const paralegal = (await haven.app.db.query.roles.findFirst({ where: (r, { eq }) => eq(r.name, 'Paralegal') }))!;
    await admin.submit(`/admin/users/${user.id}`, { fullName: row.fullName, email: row.email, roleId: paralegal.id, loginActive: 'yes' });
    expect((await again.get('/admin/audit')).status).toBe(303);
  });

  test('an administrator password reset ends every open session of that user', async () => {
    const { user, row, laptop, phone, bystander, admin, tokens } = await privilegeChangeCast('forgetful', 'Attorney');
    const edit = await admin.submit(`/admin/users/${user.id}`, { fullName: row.fullName, email: row.email, roleId: row.roleId, loginActive: 'yes', password: 'granite6willow' });
    expect(edit.status).toBe(303);
    expect((await laptop.get('/')).status).toBe(303);
    expect((await phone.get('/')).status).toBe(303);
    expect((await phone.post('/session/extend', {}, { accept: 'application/json' })).status).toBe(401);
    for (const token of tokens) {
      const replay = haven.client();
      replay.cookies.set(SESSION_COOKIE, token);
      expect((await replay.get('/')).status).toBe(303);
    }
    expect(await openSessions(user.id)).toBe(0);
    expect((await bystander.get('/')).status).toBe(200);
    expect((await admin.get('/')).status).toBe(200);
    // The new password works, and must be changed first: the administrator knows it.
    expect((await haven.client().login('forgetful', 'granite6willow')).location).toBe('/password/change');
  });

  test('an own password change issues a new session id and ends every other session of the user', async () => {
    await haven.createUser('changer', 'Paralegal');
    const laptop = haven.client();
    const phone = haven.client({ ip: '198.51.100.34' });
    await laptop.login('changer', TEST_PASSWORD);
    await phone.login('changer', TEST_PASSWORD);
    const before = laptop.cookies.get(SESSION_COOKIE)!;
    const changed = await laptop.submit('/password/change', { current: TEST_PASSWORD, next: 'lantern8quay', confirm: 'lantern8quay' });
    expect(changed.status).toBe(303);
    const after = laptop.cookies.get(SESSION_COOKIE)!;
    expect(after).not.toBe(before);
    expect((await laptop.get('/')).status).toBe(200);
    const replay = haven.client();
    replay.cookies.set(SESSION_COOKIE, before);
    expect((await replay.get('/')).status).toBe(303);
    expect((await phone.get('/')).status).toBe(303);
    const user = (await haven.app.db.query.users.findFirst({ where: (u, { eq }) => eq(u.login, 'changer') }))!;
    const rows = await haven.app.db.select().from(sessions).where(eq(sessions.userId, user.id));
    expect(rows.map((r) => r.id)).toEqual([hashToken(after)]);
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

  test('a signed-out visitor is sent to the login page from every non-public route in the access table, and a script gets 401', async () => {
    const anon = haven.client();
    await anon.get('/login');
    const routes = accessTable(haven.server).filter((r) => r.access !== 'public' && r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThan(30);
    for (const route of routes) {
      const url = route.url.replace(/:id\b/g, '00000000-0000-4000-8000-000000000000');
      const page = route.method === 'GET' ? await anon.get(url) : await anon.post(url, {});
      if (route.url.startsWith('/api/')) {
        // The API answers JSON, browser or not, and asks for its bearer token.
        expect(page.status, `${route.method} ${url}`).toBe(401);
        expect(JSON.parse(page.body), `${route.method} ${url}`).toEqual({ error: 'unauthorized' });
        continue;
      }
      expect(page.status, `${route.method} ${url}`).toBe(303);
      expect(page.location, `${route.method} ${url}`).toMatch(/^\/login\?next=/);
      const script = route.method === 'GET' ? await anon.get(url, { accept: 'application/json' }) : await anon.post(url, {}, { accept: 'application/json' });
      expect(script.status, `${route.method} ${url} (JSON)`).toBe(401);
      expect(JSON.parse(script.body)).toMatchObject({ error: 'session_ended' });
    }
    expect(alerts((await anon.get('/login?reason=timeout')).body)).toEqual([]);
  });
});
