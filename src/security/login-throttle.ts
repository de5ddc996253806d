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

function afterQuiet(state: ThrottleState | null, now: Date, quietResetMs?: number): ThrottleState | null {
  if (state && quietResetMs !== undefined && now.getTime() - state.updatedAt.getTime() >= quietResetMs) return null;
  return state;
}

/** When an attempt may be evaluated on a counter that is waited on but not reserved. */
export function waitTurn(state: ThrottleState | null, now: Date, quietResetMs?: number): Date {
  const live = afterQuiet(state, now, quietResetMs);
  return new Date(Math.max(now.getTime(), live?.nextAt.getTime() ?? 0));
}

/** A counter's state after one more real failure, counted when it happens (not in advance). */
export function countFailure(state: ThrottleState | null, now: Date, quietResetMs?: number): ThrottleState {
  const live = afterQuiet(state, now, quietResetMs);
  const failures = (live?.failures ?? 0) + 1;
  const from = Math.max(now.getTime(), live?.nextAt.getTime() ?? 0);
  return { failures, nextAt: new Date(from + nextLoginDelay(failures)), updatedAt: now };
}

/**
 * Reserves the next turn on one counter. Every attempt is counted as a failure in advance
 * (and forgiven on success), so parallel attempts queue behind each other instead of
 * all reading the same "no failures yet" state.
 */
export function reserveTurn(state: ThrottleState | null, now: Date, quietResetMs?: number): Reservation {
  const live = afterQuiet(state, now, quietResetMs);
  const failures = live?.failures ?? 0;
  const nextAt = live?.nextAt ?? now;
  const turnAt = new Date(Math.max(now.getTime(), nextAt.getTime()));
  const counted = failures + 1;
  return {
    turnAt,
    next: { failures: counted, nextAt: new Date(turnAt.getTime() + nextLoginDelay(counted)), updatedAt: now },
  };
}
