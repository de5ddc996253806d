// The retry schedule of outgoing mail. Pure: the worker asks it, docs/OPERATIONS.md states it.

/** The first retry waits this long; each later one twice as long as the one before. */
export const FIRST_RETRY_DELAY_MS = 30_000;

/** No wait is longer than an hour, so mail leaves within an hour of the server coming back. */
export const MAX_RETRY_DELAY_MS = 60 * 60_000;

/**
 * After this many failed attempts a message is marked `failed`: about 13 hours of trying
 * (30 s, 1, 2, 4, 8, 16, 32 min, then hourly), which outlasts an overnight outage. A failed
 * message stays in the outbox and can be re-queued from the Failed tab.
 */
export const MAX_ATTEMPTS = 20;

/**
 * How long a claimed message is reserved for the worker that claimed it. It outlasts one
 * attempt (the SMTP timeouts in mail/transport.ts add up to less), so two workers never send
 * the same message; if the worker dies, the message is due again when the lease ends.
 */
export const CLAIM_LEASE_MS = 2 * 60_000;

/** The wait after the given number of failed attempts (1 = the first attempt failed). */
export function retryDelayMs(failedAttempts: number): number {
  const exponent = Math.max(0, Math.floor(failedAttempts) - 1);
  // 2^7 × 30 s already exceeds the cap; stopping there keeps the arithmetic exact.
  return Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** Math.min(exponent, 7));
}

/** After this attempt fails, is the message given up on (status `failed`)? */
export function isFinalAttempt(attempts: number): boolean {
  return attempts >= MAX_ATTEMPTS;
}

/** The whole schedule: the wait before attempt 2, 3, … MAX_ATTEMPTS (for the docs and tests). */
export function retrySchedule(): number[] {
  return Array.from({ length: MAX_ATTEMPTS - 1 }, (_, i) => retryDelayMs(i + 1));
}
