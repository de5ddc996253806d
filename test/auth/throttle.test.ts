import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { ManualClock } from '../../src/clock.ts';
import { LONG_DELAY_MS, MAX_QUEUE_MS, nextLoginDelay } from '../../src/security/login-throttle.ts';
import { HASHING_SLOTS, hashingLoad } from '../../src/users/passwords.ts';
import { DB_KINDS, freshDatabase, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { openDatabase } from '../../src/db/client.ts';
import { answerTimes, timedAnswers, waitFor } from '../helpers/wait.ts';
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

async function counter(haven: TestHaven, key: string): Promise<number> {
  return (await haven.app.database.rows<{ failures: number }>(sql`SELECT failures FROM login_throttle WHERE key = ${key}`))[0]?.failures ?? 0;
}

async function auditCount(haven: TestHaven, action: string, target: string): Promise<number> {
  return (await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log WHERE action = ${action} AND target = ${target}`))[0]!.n;
}

describe.each(DB_KINDS)('failed-login delays (%s)', (kind) => {
  let haven: TestHaven;
  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('victim', 'Paralegal');
    await haven.createUser('owner', 'Paralegal');
  });
  afterAll(() => haven?.close());

  test('20 parallel wrong passwords for one account: those whose turn is within a minute are answered no faster than 1 s x 9 then 10 s each; the rest are refused at once, neither counted nor checked', async () => {
    const attacker = haven.client({ ip: '198.51.100.7' });
    await attacker.get('/login');
    const answers = await timedAnswers(
      haven.clock,
      Array.from({ length: 20 }, () => () => attacker.post('/login', { login: 'victim', password: 'guess-1234x' })),
      200_000,
    );
    // Turns come at 0..9 s, then every 10 s: 15 of them within MAX_QUEUE_MS (the 15th at 59 s).
    // (The address counter, counted as failures land, may push the last ones out sooner.)
    const evaluated = answers.filter((a) => a.response.status === 401);
    const refused = answers.filter((a) => a.response.status === 429);
    expect(evaluated.length).toBeGreaterThanOrEqual(10);
    expect(evaluated.length).toBeLessThanOrEqual(15);
    expect(refused).toHaveLength(20 - evaluated.length);
    const floor = scheduleFloor(15);
    evaluated.forEach((a, i) => expect(a.at).toBeGreaterThanOrEqual(floor[i]!));
    for (const r of refused) {
      expect(r.at).toBe(0);
      expect(Number(r.response.headers['retry-after'])).toBeGreaterThan(MAX_QUEUE_MS / 1000);
      expect(r.response.body).toMatch(/Too many attempts\. Try again in \d+ seconds\./);
    }
    expect(await counter(haven, 'login:victim')).toBe(evaluated.length);
    expect(await auditCount(haven, 'login.failure', 'victim')).toBe(evaluated.length);
  });

  test('the same attack from 20 addresses is no faster: the counter is the account, in the database', async () => {
    const clients = Array.from({ length: 20 }, (_, i) => haven.client({ ip: `192.0.2.${i + 1}` }));
    for (const c of clients) await c.get('/login');
    // The previous test left "victim" at 10 failures or more: every attempt now costs 10 s, and
    // only the turns within a minute (0, 10, …, 60 s) are taken, whatever the addresses.
    haven.clock.advance(120_000);
    const answers = await timedAnswers(
      haven.clock,
      clients.map((c) => () => c.post('/login', { login: 'victim', password: 'guess-1234y' })),
      300_000,
      1000,
    );
    const evaluated = answers.filter((a) => a.response.status === 401);
    expect(evaluated).toHaveLength(7);
    evaluated.forEach((a, i) => expect(a.at).toBeGreaterThanOrEqual((i + 1) * 10_000));
    expect(answers.filter((a) => a.response.status === 429).every((a) => a.at === 0)).toBe(true);
  });

  test('a burst of 200 attempts queues at most a minute: the owner gets in on a new browser within the bound, and on a known device at once', async () => {
    await haven.createUser('burstowner', 'Paralegal');
    const ownerDevice = haven.client({ ip: '192.0.2.90' });
    expect((await ownerDevice.login('burstowner', TEST_PASSWORD)).status).toBe(303);
    await ownerDevice.post('/logout', {});
    const attacker = haven.client({ ip: '198.51.100.200' });
    await attacker.get('/login');
    const statuses: number[] = [];
    let mostHashing = 0;
    const burst = Array.from({ length: 200 }, () =>
      attacker.post('/login', { login: 'burstowner', password: 'wrong-guess-1x' }).then((r) => statuses.push(r.status)),
    );
    // Every attempt is either answered (refused at once) or holding a turn at most a minute away.
    await waitFor(() => {
      mostHashing = Math.max(mostHashing, hashingLoad().active);
      return statuses.length + haven.clock.sleeping === 200;
    }, 'the burst to settle', 30_000);
    expect(haven.clock.sleeping).toBeLessThanOrEqual(15);
    expect(statuses.every((s) => s === 429)).toBe(true);

    // The owner, on a browser that never signed in, while the burst's queue is full.
    const ownerNew = haven.client({ ip: '192.0.2.91' });
    await ownerNew.get('/login');
    const first = await ownerNew.post('/login', { login: 'burstowner', password: TEST_PASSWORD });
    expect(first.status).toBe(429);
    const retryAfter = Number(first.headers['retry-after']);
    expect(retryAfter).toBeLessThanOrEqual(MAX_QUEUE_MS / 1000 + LONG_DELAY_MS / 1000);

    // The owner's known device goes straight in, burst or not.
    await ownerDevice.get('/login');
    const sleepingBefore = haven.clock.sleeping;
    expect((await ownerDevice.post('/login', { login: 'burstowner', password: TEST_PASSWORD })).status).toBe(303);
    expect(haven.clock.sleeping).toBe(sleepingBefore);

    // The burst drains within the bound.
    const start = haven.clock.now().getTime();
    while (statuses.length < 200) {
      expect(haven.clock.now().getTime() - start).toBeLessThanOrEqual(MAX_QUEUE_MS + LONG_DELAY_MS);
      haven.clock.advance(1000);
      await new Promise((r) => setTimeout(r, 1));
      await waitFor(() => {
        mostHashing = Math.max(mostHashing, hashingLoad().active);
        return statuses.length + haven.clock.sleeping === 200;
      }, 'the burst to settle');
    }
    await Promise.all(burst);
    const evaluated = statuses.filter((s) => s === 401).length;
    expect(evaluated).toBeGreaterThan(0);
    expect(evaluated).toBeLessThanOrEqual(15);
    expect(statuses.filter((s) => s === 429)).toHaveLength(200 - evaluated);
    expect(mostHashing).toBeLessThanOrEqual(HASHING_SLOTS);

    // Told to come back in `retryAfter` seconds, the owner's new browser gets in within the bound.
    haven.clock.set(new Date(start + retryAfter * 1000));
    await ownerNew.get('/login');
    const [again] = await timedAnswers(haven.clock, [() => ownerNew.post('/login', { login: 'burstowner', password: TEST_PASSWORD })], MAX_QUEUE_MS);
    expect(again!.response.status).toBe(303);
    expect(again!.at).toBeLessThanOrEqual(MAX_QUEUE_MS);
    // Only the evaluated attempts were counted (and then forgiven by the owner's success).
    expect(await auditCount(haven, 'login.failure', 'burstowner')).toBe(evaluated);
    expect(await counter(haven, 'login:burstowner')).toBe(0);
  });

  test('a counter 30 days in the future (a clock state far beyond any timer) refuses at once; it neither skips the delay nor overflows', async () => {
    await haven.createUser('farfuture', 'Paralegal');
    const now = haven.clock.now();
    const thirtyDays = 30 * 86_400_000;
    await haven.app.database.rows(sql`
      INSERT INTO login_throttle (key, failures, next_at, updated_at) VALUES ('login:farfuture', 250000, ${new Date(now.getTime() + thirtyDays)}, ${now})`);
    const owner = haven.client({ ip: '192.0.2.92' });
    await owner.get('/login');
    const sleepingBefore = haven.clock.sleeping;
    const answer = await owner.post('/login', { login: 'farfuture', password: TEST_PASSWORD });
    // Answered at once, not after a timer that fired early, and not let in: the turn is not yet.
    expect(haven.clock.sleeping).toBe(sleepingBefore);
    expect(answer.status).toBe(429);
    expect(Number(answer.headers['retry-after'])).toBe(thirtyDays / 1000);
    expect(owner.cookies.has('__Host-haven_session')).toBe(false);
    expect(await counter(haven, 'login:farfuture')).toBe(250000);
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
    const two = await startTestHaven('postgres', { clock, database: await openDatabase({ databaseUrl: fresh.url! }), keys: one.app.keys });
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
