import { and, eq, inArray } from 'drizzle-orm';
import type { App } from '../context.ts';
import { isReadOnly } from '../failover/state.ts';
import type { Db, Tx } from '../db/client.ts';
import { loginThrottle } from '../db/schema.ts';
import {
  countFailure,
  MAX_QUEUE_MS,
  nextCodeDelay,
  nextLoginDelay,
  planTurn,
  retryAfterSeconds,
  SPRAY_QUIET_RESET_MS,
  type Schedule,
  type ThrottleState,
} from '../security/login-throttle.ts';

/**
 * A failure counter in `login_throttle` (policy in security/login-throttle.ts):
 * - 'account' (an account, an account on a known device, a user's MFA codes): every attempt is
 *   counted in advance and forgiven on success, so parallel guesses queue one behind the other;
 * - 'address' (password spraying): waited on, but counted only when an attempt really fails,
 *   and forgotten after an hour of quiet. Counting in advance here would serialize every correct
 *   login from one office address or one reverse proxy; the price is that a burst of parallel
 *   guesses from one address is slowed only once its first failures land (each account in the
 *   burst still waits its own turn). docs/SECURITY.md states the trade-off.
 */
export interface ThrottleKey {
  key: string;
  kind: 'account' | 'address';
  schedule: Schedule;
}

export const accountKey = (login: string): ThrottleKey => ({ key: `login:${login}`, kind: 'account', schedule: nextLoginDelay });
export const deviceKey = (userId: string, deviceHash: string): ThrottleKey => ({ key: `device:${userId}:${deviceHash}`, kind: 'account', schedule: nextLoginDelay });
export const addressKey = (ip: string): ThrottleKey => ({ key: `ip:${ip}`, kind: 'address', schedule: nextLoginDelay });
/** MFA codes (and recovery codes) of one user: the code schedule, which doubles after 10 failures. */
export const codeKey = (userId: string): ThrottleKey => ({ key: `mfa:${userId}`, kind: 'account', schedule: nextCodeDelay });

const quietFor = (k: ThrottleKey) => (k.kind === 'address' ? SPRAY_QUIET_RESET_MS : undefined);

/** Counter states as read, by key; a key with no row reads as null (never failed). */
export type Counters = Map<string, ThrottleState | null>;

export async function readCounters(db: Db, keys: string[]): Promise<Counters> {
  const rows = keys.length ? await db.select().from(loginThrottle).where(inArray(loginThrottle.key, keys)) : [];
  return new Map(keys.map((k) => [k, rows.find((r) => r.key === k) ?? null]));
}

/**
 * Writes `next` only if the counter still holds `seen` (one statement, no lock): the cheap way
 * when nobody else is trying the same account, which is nearly always.
 */
async function compareAndSet(db: Db, key: string, seen: ThrottleState | null, next: ThrottleState): Promise<boolean> {
  if (!seen) {
    const inserted = await db.insert(loginThrottle).values({ key, ...next }).onConflictDoNothing().returning({ key: loginThrottle.key });
    return inserted.length === 1;
  }
  const updated = await db
    .update(loginThrottle)
    .set(next)
    .where(and(eq(loginThrottle.key, key), eq(loginThrottle.failures, seen.failures), eq(loginThrottle.nextAt, seen.nextAt), eq(loginThrottle.updatedAt, seen.updatedAt)))
    .returning({ key: loginThrottle.key });
  return updated.length === 1;
}

/**
 * Moves one counter on: `decide` sees its state and says what to store (or nothing). Tried
 * first on the state already read, compare-and-set; if another attempt got there first, again
 * under the row's lock, so that parallel attempts, several addresses and several Haven
 * instances all queue on the same row.
 */
async function updateCounter<T>(
  app: App,
  key: string,
  seen: ThrottleState | null | undefined,
  decide: (state: ThrottleState | null) => { store: ThrottleState | null; result: T },
): Promise<T> {
  if (isReadOnly(app)) {
    // The standby takes no writes: this instance counts on its own until a primary is back
    // (from the state the database had, so a lockout in force stays in force).
    const memory = app.failover.counters;
    const decided = decide(memory.has(key) ? memory.get(key)! : (seen ?? null));
    if (decided.store) memory.set(key, decided.store);
    return decided.result;
  }
  if (seen !== undefined) {
    const first = decide(seen);
    if (!first.store || (await compareAndSet(app.db, key, seen, first.store))) return first.result;
  }
  return app.db.transaction(async (tx) => {
    const now = app.clock.now();
    await tx.insert(loginThrottle).values({ key, failures: 0, nextAt: now, updatedAt: now }).onConflictDoNothing();
    const [row] = await tx.select().from(loginThrottle).where(eq(loginThrottle.key, key)).for('update');
    const decided = decide(row ?? null);
    if (decided.store) await tx.update(loginThrottle).set(decided.store).where(eq(loginThrottle.key, key));
    return decided.result;
  });
}

export interface Turn {
  keys: ThrottleKey[];
  /** When the attempt may be evaluated. */
  turnAt: Date;
  /** When the answer to a failed attempt may be sent (address counters may push it later). */
  failureAnswerAt: Date;
  /** The reserved counter's consecutive failures, this attempt counted (0 if none is reserved). */
  failures: number;
  /** The address counters as read when the turn was planned. */
  seen: Counters;
}

export type TurnReservation = { refused: true; retryAfterSeconds: number } | { refused: false; turn: Turn };

/**
 * Takes the next turn on the (one) account counter and waits behind the address counters, or
 * refuses the attempt at once when its turn is more than MAX_QUEUE_MS away. `known` are the
 * states the caller read already (the login reads them with the account, in one query).
 */
export async function reserveLoginTurn(app: App, keys: ThrottleKey[], known?: Counters): Promise<TurnReservation> {
  const reserved = keys.filter((k) => k.kind === 'account');
  if (reserved.length > 1) throw new Error('reserveLoginTurn: at most one account counter per attempt');
  const seen = new Map(known ?? (await readCounters(app.db, keys.map((k) => k.key))));
  // Read-only mode: what this instance counted meanwhile is newer than the database's copy.
  if (isReadOnly(app)) for (const k of keys) if (app.failover.counters.has(k.key)) seen.set(k.key, app.failover.counters.get(k.key)!);
  const plan = (reservedState: ThrottleState | null) => {
    const now = app.clock.now();
    const counters = keys.map((k) => ({
      kind: k.kind,
      schedule: k.schedule,
      quietResetMs: quietFor(k),
      state: k.kind === 'account' ? reservedState : (seen.get(k.key) ?? null),
    }));
    return { now, plan: planTurn(counters, now) };
  };
  const answer = ({ now, plan: p }: ReturnType<typeof plan>): { store: ThrottleState | null; result: TurnReservation } => {
    if (p.refused) return { store: null, result: { refused: true, retryAfterSeconds: retryAfterSeconds(p.turnAt, now) } };
    const store = p.next.find((s) => s !== null) ?? null;
    return { store, result: { refused: false, turn: { keys, turnAt: p.turnAt, failureAnswerAt: p.failureAnswerAt, failures: store?.failures ?? 0, seen } } };
  };
  const account = reserved[0];
  if (!account) return answer(plan(null)).result;
  return updateCounter(app, account.key, seen.get(account.key), (state) => answer(plan(state)));
}

/**
 * A failed attempt: account counters were already counted; address counters count it now.
 * Returns when the failure may be answered.
 */
export async function recordFailure(app: App, turn: Turn): Promise<Date> {
  let answerAt = turn.failureAnswerAt;
  for (const k of turn.keys.filter((key) => key.kind === 'address')) {
    const next = await updateCounter(app, k.key, turn.seen.get(k.key), (state) => {
      const counted = countFailure(state, app.clock.now(), SPRAY_QUIET_RESET_MS, k.schedule);
      return { store: counted, result: counted.nextAt };
    });
    if (next > answerAt) answerAt = next;
  }
  return answerAt;
}

/**
 * A correct secret clears the account's (or device's, or codes') counter, in the transaction
 * of the success. Address counters were never counted in advance, and successes do not wipe out
 * their failures: otherwise an attacker with one valid account could reset the spraying limit.
 */
export async function forgiveFailures(app: App, turn: Turn, tx: Tx): Promise<void> {
  const reserved = turn.keys.filter((k) => k.kind === 'account');
  if (!reserved.length) return;
  const now = app.clock.now();
  if (isReadOnly(app)) {
    for (const k of reserved) app.failover.counters.set(k.key, { failures: 0, nextAt: now, updatedAt: now });
    return;
  }
  await tx.update(loginThrottle).set({ failures: 0, nextAt: now, updatedAt: now }).where(inArray(loginThrottle.key, reserved.map((k) => k.key)));
}

export type Throttled<T> = { outcome: 'refused'; retryAfterSeconds: number } | { outcome: 'failed' } | { outcome: 'passed'; value: T };

export type CheckResult<T> = { ok: true; value: T } | { ok: false };
export type Check<T> = (turn: Turn) => Promise<CheckResult<T>>;

/** What a check answers: the secret was right (with what the success produced), or it was not. */
export const passed = <T>(value: T): CheckResult<T> => ({ ok: true, value });
export const failed = <T = never>(): CheckResult<T> => ({ ok: false });

/**
 * The one way Haven checks a secret (a password, a code): reserve a turn on the counters, or
 * be refused at once if it is too far away; wait for it; check. A success must forgive the
 * counters inside its own transaction (`forgiveFailures`); a failure counts on the address
 * counters and is answered no sooner than its delay allows.
 */
export async function throttledAttempt<T>(app: App, keys: ThrottleKey[], check: Check<T>, known?: Counters): Promise<Throttled<T>> {
  const reservation = await reserveLoginTurn(app, keys, known);
  if (reservation.refused) return { outcome: 'refused', retryAfterSeconds: reservation.retryAfterSeconds };
  const { turn } = reservation;
  await app.clock.sleepUntil(turn.turnAt);
  const checked = await check(turn);
  if (checked.ok) return { outcome: 'passed', value: checked.value };
  // The failure is answered once its delay has passed, but never held longer than a queued
  // turn would be: a code's delay can reach an hour, and the counter enforces it on the next
  // attempt anyway.
  const answerAt = await recordFailure(app, turn);
  await app.clock.sleepUntil(new Date(Math.min(answerAt.getTime(), turn.turnAt.getTime() + MAX_QUEUE_MS)));
  return { outcome: 'failed' };
}
