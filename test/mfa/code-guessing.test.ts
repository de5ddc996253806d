// Someone who knows the password guesses codes (DESIGN §1.3 beyond, issue 8 defect 6): after
// 10 consecutive wrong codes each further one doubles the wait, up to an hour, so that an
// account takes at most about 100 wrong codes a day; recovery codes count on the same counter;
// the owner is e-mailed, at most daily. With a manual clock, on both databases.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import type { TestClient } from '../helpers/client.ts';
import { timedAnswers } from '../helpers/wait.ts';
import { appCode, enrolApp, submitCode } from '../helpers/mfa.ts';
import { CODE_DELAY_CAP_MS, MAX_QUEUE_MS, nextCodeDelay } from '../../src/security/login-throttle.ts';
import { CODE_GUESSING_SUBJECT } from '../../src/mfa/service.ts';

const DAY = 86_400_000;

describe.each(DB_KINDS)('guessing MFA codes (%s)', (kind) => {
  let haven: TestHaven;
  let secret: string;
  let userId: string;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    userId = (await haven.createUser('gwen', 'Paralegal')).id;
    const browser = haven.client({ ip: '192.0.2.10' });
    await browser.login('gwen', TEST_PASSWORD);
    ({ secret } = await enrolApp(haven, browser));
  });
  afterAll(() => haven?.close());

  const counter = async () =>
    (await haven.app.database.rows<{ failures: number; next_at: string | Date }>(sql`SELECT failures, next_at FROM login_throttle WHERE key = ${`mfa:${userId}`}`))[0];
  const warnings = async () =>
    (await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM mail_outbox WHERE subject = ${CODE_GUESSING_SUBJECT} AND to_address = 'gwen@example.org'`))[0]!.n;

  async function atCodeStep(ip: string): Promise<TestClient> {
    const browser = haven.client({ ip });
    expect((await browser.login('gwen', TEST_PASSWORD)).location).toBe('/login/mfa');
    await browser.get('/login/mfa');
    return browser;
  }

  /** One wrong code typed exactly when its turn comes; returns the wait it imposed on the next one. */
  async function wrongCodeAtItsTurn(browser: TestClient, code: string): Promise<number> {
    const before = await counter();
    if (before && new Date(before.next_at) > haven.clock.now()) haven.clock.set(new Date(before.next_at));
    const arrived = haven.clock.now().getTime();
    const [answer] = await timedAnswers(haven.clock, [() => browser.post('/login/mfa', { code })], 2 * MAX_QUEUE_MS, 1000);
    expect(answer!.response.status).toBe(400);
    // A failure is answered after its delay, but never held longer than a queued turn.
    expect(answer!.at).toBeLessThanOrEqual(MAX_QUEUE_MS);
    return new Date((await counter())!.next_at).getTime() - arrived;
  }

  test('the 11th to 20th wrong codes wait 20 s, 40 s, … up to an hour; a correct code resets the counter; the owner is warned once', async () => {
    const attacker = await atCodeStep('198.51.100.30');
    const waits: number[] = [];
    for (let i = 1; i <= 22; i++) waits.push(await wrongCodeAtItsTurn(attacker, String(200000 + i)));
    expect(waits).toEqual(Array.from({ length: 22 }, (_, i) => nextCodeDelay(i + 1)));
    expect(waits.slice(10, 20)).toEqual([20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 1_280_000, 2_560_000, CODE_DELAY_CAP_MS, CODE_DELAY_CAP_MS]);
    // From there on, at most one wrong code an hour: with the ramp, well under 100 a day.
    expect(waits.slice(18).every((w) => w === 3_600_000)).toBe(true);
    // Warned at the 10th consecutive failure, and not again for a day however many follow.
    expect(await warnings()).toBe(1);
    const [mail] = await haven.app.database.rows<{ text_body: string }>(sql`SELECT text_body FROM mail_outbox WHERE subject = ${CODE_GUESSING_SUBJECT}`);
    expect(mail!.text_body).toMatch(/Change your password/);
    expect(mail!.text_body).not.toMatch(/https?:/);

    // The owner's right code, at its turn, gets in and clears the counter.
    haven.clock.set(new Date((await counter())!.next_at));
    const right = await submitCode(haven, attacker, appCode(secret, haven.clock.now()));
    expect(right.status).toBe(303);
    expect((await counter())!.failures).toBe(0);
  });

  test('recovery codes count on the same counter; a new run of failures a day later warns again', async () => {
    haven.clock.advance(DAY);
    const attacker = await atCodeStep('198.51.100.31');
    for (let i = 1; i <= 10; i++) await wrongCodeAtItsTurn(attacker, `abcde-fgh${'jkmnpqrstu'[i - 1]}`);
    expect((await counter())!.failures).toBe(10);
    expect(await warnings()).toBe(2);
    const actions = await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log WHERE action = 'mfa.code_guessing_warning_sent'`);
    expect(actions[0]!.n).toBe(2);
  });
});
