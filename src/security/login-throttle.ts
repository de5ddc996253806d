// Failed-login delays (DESIGN §1.1): 1 s after each of the first 9 consecutive failures,
// 10 s from the 10th on. There is no lockout: a correct password works once its turn comes.
// Waiting attempts never pile up: an attempt whose turn is more than MAX_QUEUE_MS away is
// answered at once ("try again in N seconds"), neither counted nor checked.

export const SHORT_DELAY_MS = 1_000;
export const LONG_DELAY_MS = 10_000;
export const LONG_DELAY_FROM_FAILURE = 10;

/** The longest an attempt may wait for its turn; one further away is refused at once. */
export const MAX_QUEUE_MS = 60_000;

/** MFA codes: after 10 consecutive wrong codes each further one doubles the wait, up to an hour. */
export const CODE_DELAY_CAP_MS = 60 * 60_000;

/** The wait imposed after the `failures`-th consecutive failure (1-based). */
export type Schedule = (failures: number) => number;

/** Passwords (DESIGN §1.1): 1 s after each of the first 9 failures, then 10 s, for ever. */
export const nextLoginDelay: Schedule = (failures) => {
  if (failures <= 0) return 0;
  return failures < LONG_DELAY_FROM_FAILURE ? SHORT_DELAY_MS : LONG_DELAY_MS;
};

/**
 * Codes (DESIGN §1.3 beyond): the password schedule for the first 10 failures, then the wait
 * doubles with each failure (20 s, 40 s, …) up to an hour: at most about 100 wrong codes a day
 * (NIST SP 800-63B), where 10 s forever would allow 8,640.
 */
export const nextCodeDelay: Schedule = (failures) => {
  if (failures <= LONG_DELAY_FROM_FAILURE) return nextLoginDelay(failures);
  const doublings = Math.min(failures - LONG_DELAY_FROM_FAILURE, 20);
  return Math.min(LONG_DELAY_MS * 2 ** doublings, CODE_DELAY_CAP_MS);
};

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
export function countFailure(state: ThrottleState | null, now: Date, quietResetMs?: number, delay: Schedule = nextLoginDelay): ThrottleState {
  const live = afterQuiet(state, now, quietResetMs);
  const failures = (live?.failures ?? 0) + 1;
  const from = Math.max(now.getTime(), live?.nextAt.getTime() ?? 0);
  return { failures, nextAt: new Date(from + delay(failures)), updatedAt: now };
}

/**
 * Reserves the next turn on one counter. Every attempt is counted as a failure in advance
 * (and forgiven on success), so parallel attempts queue behind each other instead of
 * all reading the same "no failures yet" state.
 */
export function reserveTurn(state: ThrottleState | null, now: Date, quietResetMs?: number, delay: Schedule = nextLoginDelay): Reservation {
  const live = afterQuiet(state, now, quietResetMs);
  const failures = live?.failures ?? 0;
  const nextAt = live?.nextAt ?? now;
  const turnAt = new Date(Math.max(now.getTime(), nextAt.getTime()));
  const counted = failures + 1;
  return {
    turnAt,
    next: { failures: counted, nextAt: new Date(turnAt.getTime() + delay(counted)), updatedAt: now },
  };
}

/**
 * One counter an attempt must pass:
 * - 'account' (an account, an account on a known device, a user's codes): reserved in advance;
 * - 'address' (password spraying): waited on, counted only when the attempt really fails.
 */
export interface Counter {
  kind: 'account' | 'address';
  state: ThrottleState | null;
  schedule: Schedule;
  quietResetMs?: number;
}

export type TurnPlan =
  | { refused: true; turnAt: Date }
  | {
      refused: false;
      /** When the attempt may be evaluated. */
      turnAt: Date;
      /** When a failure may be answered (its own delay after the turn). */
      failureAnswerAt: Date;
      /** Per counter: the state to store now (account counters), or null (address counters). */
      next: (ThrottleState | null)[];
    };

/**
 * Plans one attempt over all its counters: it waits for the slowest, and every account counter
 * moves on from that turn. A turn more than `maxQueueMs` away is refused and nothing is
 * counted, so a burst cannot push the owner's turn out of reach, and no wait is ever longer
 * than the bound.
 */
export function planTurn(counters: Counter[], now: Date, maxQueueMs = MAX_QUEUE_MS): TurnPlan {
  let turnAt = now;
  for (const c of counters) {
    const t = c.kind === 'address' ? waitTurn(c.state, now, c.quietResetMs) : reserveTurn(c.state, now, c.quietResetMs, c.schedule).turnAt;
    if (t > turnAt) turnAt = t;
  }
  if (turnAt.getTime() - now.getTime() > maxQueueMs) return { refused: true, turnAt };
  let failureAnswerAt = turnAt;
  const next = counters.map((c) => {
    if (c.kind === 'address') return null;
    const counted = (afterQuiet(c.state, now, c.quietResetMs)?.failures ?? 0) + 1;
    const state = { failures: counted, nextAt: new Date(turnAt.getTime() + c.schedule(counted)), updatedAt: now };
    if (state.nextAt > failureAnswerAt) failureAnswerAt = state.nextAt;
    return state;
  });
  return { refused: false, turnAt, failureAnswerAt, next };
}

/** Whole seconds until a refused attempt's turn would have come: the `Retry-After` it is given. */
export function retryAfterSeconds(turnAt: Date, now: Date): number {
  return Math.max(1, Math.ceil((turnAt.getTime() - now.getTime()) / 1000));
}
