import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { ManualClock } from '../../src/clock.ts';
import { nextLoginDelay } from '../../src/security/login-throttle.ts';
import { DB_KINDS, freshDatabase, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { openDatabase } from '../../src/db/client.ts';
import { answerTimes } from '../helpers/wait.ts';
import { DEVICE_COOKIE } from '../../src/auth/service.ts';
import { createRole, updateRolePermissions } from '../../src/roles/service.ts';
import { setLoginActive } from '../../src/users/service.ts';

/** When the n-th of n parallel failures may be answered at the earliest: the schedule's sum. */
function scheduleFloor(n: number): number[] {
  const floor: number[] = [];
  let t = 0;
  for (let i = 1; i <= n; i++) {
    t += nextLoginDelay(i);
    floor.push(t);
  }
  return floor;
}

describe.each(DB_KINDS)('failed-login delays (%s)', (kind) => {
  let haven: TestHaven;
  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('victim', 'Paralegal');
    await haven.createUser('owner', 'Paralegal');
  });
  afterAll(() => haven?.close());

  test('20 parallel wrong passwords for one account are answered no faster than 1 s x 9 then 10 s each', async () => {
    const attacker = haven.client({ ip: '198.51.100.7' });
    await attacker.get('/login');
    const times = await answerTimes(
      haven.clock,
      Array.from({ length: 20 }, () => () => attacker.post('/login', { login: 'victim', password: 'guess-1234x' })),
      200_000,
    );
    const floor = scheduleFloor(20);
    expect(times).toHaveLength(20);
    times.forEach((t, i) => expect(t).toBeGreaterThanOrEqual(floor[i]!));
    expect(times[19]).toBeGreaterThanOrEqual(119_000);
  });

  test('the same attack from 20 addresses is no faster: the counter is the account, in the database', async () => {
    const clients = Array.from({ length: 20 }, (_, i) => haven.client({ ip: `192.0.2.${i + 1}` }));
    for (const c of clients) await c.get('/login');
    // The previous test left "victim" at 20 failures: every attempt now costs 10 s.
    const times = await answerTimes(
      haven.clock,
      clients.map((c) => () => c.post('/login', { login: 'victim', password: 'guess-1234y' })),
      300_000,
      1000,
    );
    times.forEach((t, i) => expect(t).toBeGreaterThanOrEqual((i + 1) * 10_000));
  });

  test('no lockout: the correct password works once its turn comes, and clears the counter', async () => {
    const user = haven.client({ ip: '192.0.2.200' });
    await user.get('/login');
    const [t] = await answerTimes(haven.clock, [() => user.post('/login', { login: 'victim', password: 'tulip7orbit-haven' })], 60_000);
    expect(user.cookies.has('__Host-haven_session')).toBe(true);
    expect(t).toBeLessThanOrEqual(10_000);
    const again = haven.client({ ip: '192.0.2.201' });
    await again.get('/login');
    const [wrong] = await answerTimes(haven.clock, [() => again.post('/login', { login: 'victim', password: 'nope-123x' })], 60_000);
    expect(wrong).toBe(1000);
  });

  test('an owner on a known device is not slowed by an attacker hammering the account', async () => {
    const owner = haven.client({ ip: '192.0.2.50' });
    await owner.login('owner', 'tulip7orbit-haven');
    expect(owner.cookies.has(DEVICE_COOKIE)).toBe(true);
    await owner.post('/logout', {});
    const attacker = haven.client({ ip: '198.51.100.99' });
    await attacker.get('/login');
    await answerTimes(haven.clock, Array.from({ length: 12 }, () => () => attacker.post('/login', { login: 'owner', password: 'bad-pass-1x' })), 200_000, 1000);
    // The attacker's next try would wait 10 s; the owner's known device goes straight in.
    await owner.get('/login');
    const sleepingBefore = haven.clock.sleeping;
    const response = await owner.post('/login', { login: 'owner', password: 'tulip7orbit-haven' });
    expect(haven.clock.sleeping).toBe(sleepingBefore);
    expect(response.status).toBe(303);
    // A stolen device cookie of another user does not help: devices are bound to their user.
    const thief = haven.client({ ip: '198.51.100.98' });
    thief.cookies.set(DEVICE_COOKIE, owner.cookies.get(DEVICE_COOKIE)!);
    await thief.get('/login');
    const [answer] = await answerTimes(haven.clock, [() => thief.post('/login', { login: 'victim', password: 'bad-pass-2x' })], 60_000);
    expect(answer).toBeGreaterThanOrEqual(1000);
  });

  test('an address spraying one guess over many accounts is slowed like one account', async () => {
    const sprayer = haven.client({ ip: '203.0.113.77' });
    await sprayer.get('/login');
    const times: number[] = [];
    for (let i = 0; i < 12; i++) {
      const [t] = await answerTimes(haven.clock, [() => sprayer.post('/login', { login: `nobody${i}`, password: 'Winter2026!' })], 60_000, 500);
      times.push(t!);
    }
    // Each account is fresh, but the address has failed 10 times: the 11th and 12th wait 10 s.
    expect(times.slice(0, 9).every((t) => t === 1000)).toBe(true);
    expect(times[10]).toBeGreaterThanOrEqual(10_000);
    expect(times[11]).toBeGreaterThanOrEqual(10_000);
    // Another address is not affected.
    const other = haven.client({ ip: '203.0.113.78' });
    await other.get('/login');
    const [t] = await answerTimes(haven.clock, [() => other.post('/login', { login: 'nobody99', password: 'Winter2026!' })], 60_000, 500);
    expect(t).toBe(1000);
  });

  test('unknown login names get the same answer and the same delays as wrong passwords', async () => {
    await haven.createUser('known', 'Paralegal');
    const a = haven.client({ ip: '203.0.113.120' });
    const b = haven.client({ ip: '203.0.113.121' });
    await a.get('/login');
    await b.get('/login');
    const known = await answerTimes(haven.clock, Array.from({ length: 3 }, () => () => a.post('/login', { login: 'known', password: 'wrong-pass-9' })), 60_000);
    const unknown = await answerTimes(haven.clock, Array.from({ length: 3 }, () => () => b.post('/login', { login: 'unknown-person', password: 'wrong-pass-9' })), 60_000);
    expect(unknown).toEqual(known);
    const ra = await answerTimes(haven.clock, [() => a.post('/login', { login: 'known', password: 'x1' }).then((r) => (lastA = r))], 60_000);
    const rb = await answerTimes(haven.clock, [() => b.post('/login', { login: 'unknown-person', password: 'x1' }).then((r) => (lastB = r))], 60_000);
    expect(ra).toEqual(rb);
    const strip = (html: string) => html.replace(/value="[^"]*"/g, '');
    expect(lastA!.status).toBe(lastB!.status);
    expect(strip(lastA!.body).replace('known', 'X')).toBe(strip(lastB!.body).replace('unknown-person', 'X'));
  });

  test('an inactive account and a role without the Login permission get the same page, status and delays as a wrong password', async () => {
    const admin = await haven.createUser('throttle-admin', 'Site Administrator');
    const actor = { id: admin.id, login: admin.login, roleId: '' };
    const role = await createRole(haven.app, 'Case Reader (no login)', actor, '192.0.2.250');
    expect(role.ok).toBe(true);
    const granted = await updateRolePermissions(haven.app, (role as { id: string }).id, ['cases_view_all', 'reports_view'], [], actor, '192.0.2.250');
    expect(granted.ok).toBe(true);
    await haven.createUser('mistyped', 'Paralegal');
    await haven.createUser('nologin', 'Case Reader (no login)');
    await haven.createUser('retired', 'Paralegal');
    await setLoginActive(haven.app, 'retired', false, { actor: null, ip: null });

    // Three parallel attempts per account, each account from its own address. "nologin" and
    // "retired" type their correct password; "mistyped" a wrong one. All three must look alike.
    const cases = [
      { login: 'mistyped', password: 'wrong-pass-9x', ip: '203.0.113.130' },
      { login: 'nologin', password: TEST_PASSWORD, ip: '203.0.113.131' },
      { login: 'retired', password: TEST_PASSWORD, ip: '203.0.113.132' },
    ];
    const results = [];
    for (const c of cases) {
      const browser = haven.client({ ip: c.ip });
      await browser.get('/login');
      const answers: { status: number; body: string; cookies: string[] }[] = [];
      const times = await answerTimes(
        haven.clock,
        Array.from({ length: 3 }, () => () =>
          haven.server
            .inject({
              method: 'POST',
              url: '/login',
              payload: new URLSearchParams({ login: c.login, password: c.password, _csrf: browser.csrf }).toString(),
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              cookies: Object.fromEntries(browser.cookies),
              remoteAddress: c.ip,
            })
            .then((r) => answers.push({ status: r.statusCode, body: r.body, cookies: r.cookies.filter((k) => k.value !== '').map((k) => k.name) })),
        ),
        60_000,
      );
      results.push({ ...c, times, answers });
    }
    const strip = (html: string, login: string) => html.replace(/value="[^"]*"/g, '').replaceAll(login, 'X');
    const [reference, ...others] = results;
    for (const r of results) {
      expect(r.answers.map((a) => a.status), r.login).toEqual([401, 401, 401]);
      // No session and no device cookie: nothing that a success would leave behind.
      for (const a of r.answers) expect(a.cookies, r.login).not.toContain('__Host-haven_session');
      for (const a of r.answers) expect(a.cookies, r.login).not.toContain(DEVICE_COOKIE);
      expect(strip(r.answers[0]!.body, r.login)).toContain('Login name or password is incorrect.');
    }
    for (const r of others) {
      expect(r.times, r.login).toEqual(reference!.times);
      expect(strip(r.answers[0]!.body, r.login), r.login).toBe(strip(reference!.answers[0]!.body, reference!.login));
    }
    // The audit log knows the true reason; the visitor does not.
    const reasons = await haven.app.database.rows<{ target: string; reason: string }>(
      sql`SELECT target, details->>'reason' AS reason FROM audit_log WHERE action = 'login.failure' AND target IN ('nologin', 'retired') ORDER BY seq`,
    );
    expect(new Set(reasons.map((r) => `${r.target}:${r.reason}`))).toEqual(new Set(['nologin:no_login_permission', 'retired:login_inactive']));
  });

  test('a success from an address does not reset its spraying counter', async () => {
    await haven.createUser('insider', 'Paralegal');
    const sprayer = haven.client({ ip: '203.0.113.140' });
    await sprayer.get('/login');
    for (let i = 0; i < 10; i++) {
      await answerTimes(haven.clock, [() => sprayer.post('/login', { login: `ghost${i}`, password: 'Spring2026!' })], 60_000, 500);
    }
    const counter = async () =>
      (await haven.app.database.rows<{ failures: number }>(sql`SELECT failures FROM login_throttle WHERE key = 'ip:203.0.113.140'`))[0]?.failures ?? 0;
    expect(await counter()).toBe(10);
    // The attacker holds one valid account and signs in with it from the same address.
    let signedIn = 0;
    await answerTimes(haven.clock, [() => sprayer.post('/login', { login: 'insider', password: TEST_PASSWORD }).then((r) => (signedIn = r.status))], 60_000, 500);
    expect(signedIn).toBe(303);
    await sprayer.post('/logout', {});
    expect(await counter()).toBe(10);
    // The next guess on a fresh account name still waits the full 10 s of the address.
    await sprayer.get('/login');
    const [t] = await answerTimes(haven.clock, [() => sprayer.post('/login', { login: 'ghost-next', password: 'Spring2026!' })], 60_000, 500);
    expect(t).toBeGreaterThanOrEqual(10_000);
  });
});
let lastA: { status: number; body: string } | undefined;
let lastB: { status: number; body: string } | undefined;

describe('failed-login delays across two Haven instances on one PostgreSQL database', () => {
  test('parallel attempts split over two instances still queue on one schedule', async () => {
    const clock = new ManualClock();
    const fresh = await freshDatabase('postgres');
    const one = await startTestHaven('postgres', { clock, database: fresh.database });
    const two = await startTestHaven('postgres', { clock, database: await openDatabase({ databaseUrl: fresh.url! }) });
    try {
      await one.createUser('shared', 'Paralegal');
      const c1 = one.client({ ip: '198.51.100.1' });
      const c2 = two.client({ ip: '198.51.100.2' });
      await c1.get('/login');
      await c2.get('/login');
      const times = await answerTimes(
        clock,
        Array.from({ length: 12 }, (_, i) => () => (i % 2 ? c1 : c2).post('/login', { login: 'shared', password: 'guess-12345' })),
        200_000,
      );
      const floor = scheduleFloor(12);
      times.forEach((t, i) => expect(t).toBeGreaterThanOrEqual(floor[i]!));
    } finally {
      await one.close();
      await two.close();
    }
  });
});
