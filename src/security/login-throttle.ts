// Failed-login delays (DESIGN §1.1): 1 s after each of the first 9 consecutive failures,
// 10 s from the 10th on. There is no lockout: a correct password works once its turn comes.

export const SHORT_DELAY_MS = 1_000;
export const LONG_DELAY_MS = 10_000;
export const LONG_DELAY_FROM_FAILURE = 10;

/** The wait imposed after the `failures`-th consecutive failure (1-based). */
export function nextLoginDelay(failures: number): number {
  if (failures <= 0) return 0;
  return failures < LONG_DELAY_FROM_FAILURE ? SHORT_DELAY_MS : LONG_DELAY_MS;
}

// An address failing across accounts is forgiven after an hour of quiet, so one bad
// morning at a shared office address does not slow every new device there for good.
export const SPRAY_QUIET_RESET_MS = 60 * 60_000;

export interface ThrottleState {
  failures: number;
  nextAt: Date;
  updatedAt: Date;
}

export interface Reservation {
  /** When this attempt may be evaluated. */
  turnAt: Date;
  /** The counter's state once this attempt is counted as a failure in advance. */
  next: ThrottleState;
}

/**
 * Reserves the next turn on one counter. Every attempt is counted as a failure in advance
 * (and forgiven on success), so parallel attempts queue behind each other instead of
 * all reading the same "no failures yet" state.
 */
export function reserveTurn(state: ThrottleState | null, now: Date, quietResetMs?: number): Reservation {
  let failures = state?.failures ?? 0;
  let nextAt = state?.nextAt ?? now;
  if (state && quietResetMs !== undefined && now.getTime() - state.updatedAt.getTime() >= quietResetMs) {
    failures = 0;
    nextAt = now;
  }
  const turnAt = new Date(Math.max(now.getTime(), nextAt.getTime()));
  const counted = failures + 1;
  return {
    turnAt,
    next: { failures: counted, nextAt: new Date(turnAt.getTime() + nextLoginDelay(counted)), updatedAt: now },
  };
}
