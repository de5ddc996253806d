import { describe, expect, test } from 'vitest';
import { CLAIM_LEASE_MS, FIRST_RETRY_DELAY_MS, isFinalAttempt, MAX_ATTEMPTS, MAX_RETRY_DELAY_MS, retryDelayMs, retrySchedule } from '../../src/mail/backoff.ts';

const MINUTE = 60_000;

describe('mail retry schedule', () => {
  test('doubles from 30 seconds: 30 s, 1, 2, 4, 8, 16, 32 minutes', () => {
    expect(FIRST_RETRY_DELAY_MS).toBe(30_000);
    expect([1, 2, 3, 4, 5, 6, 7].map(retryDelayMs)).toEqual([30_000, MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE, 16 * MINUTE, 32 * MINUTE]);
  });

  test('is capped at one hour from the 8th failure on, however many there were', () => {
    expect(MAX_RETRY_DELAY_MS).toBe(60 * MINUTE);
    for (const n of [8, 9, 19, 20, 100, 1_000_000, Number.MAX_SAFE_INTEGER]) expect(retryDelayMs(n)).toBe(60 * MINUTE);
  });

  test('never shrinks as failures accumulate', () => {
    const delays = Array.from({ length: 50 }, (_, i) => retryDelayMs(i + 1));
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!);
  });

  test('nonsense counts (0, negative, fractional) get the first delay, never zero or NaN', () => {
    for (const n of [0, -1, -1000, 0.5, 1.9]) expect(retryDelayMs(n)).toBe(FIRST_RETRY_DELAY_MS);
  });

  test(`a message is failed after its ${MAX_ATTEMPTS}th attempt, not before`, () => {
    expect(MAX_ATTEMPTS).toBe(20);
    expect(isFinalAttempt(MAX_ATTEMPTS - 1)).toBe(false);
    expect(isFinalAttempt(MAX_ATTEMPTS)).toBe(true);
    expect(isFinalAttempt(MAX_ATTEMPTS + 5)).toBe(true);
  });

  test('the whole schedule keeps trying for about 13 hours (an overnight outage), as docs/OPERATIONS.md says', () => {
    const schedule = retrySchedule();
    expect(schedule).toHaveLength(MAX_ATTEMPTS - 1);
    const total = schedule.reduce((a, b) => a + b, 0);
    expect(total).toBe(63.5 * MINUTE + 12 * 60 * MINUTE);
  });

  test("the claim lease (2 minutes) outlasts one attempt's SMTP timeouts (10 + 10 + 30 s)", () => {
    expect(CLAIM_LEASE_MS).toBe(2 * MINUTE);
    expect(CLAIM_LEASE_MS).toBeGreaterThan(50_000);
  });
});
