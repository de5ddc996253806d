import { inArray, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Db } from '../db/client.ts';
import { loginThrottle } from '../db/schema.ts';
import { countFailure, reserveTurn, SPRAY_QUIET_RESET_MS, waitTurn } from '../security/login-throttle.ts';

/**
 * Two kinds of counter:
 * - 'account' (an account, or an account on a known device, or a user's MFA codes): every
 *   attempt is counted in advance and forgiven on success, so parallel guesses queue one behind
 *   the other exactly as the schedule says;
 * - 'address' (password spraying): waited on, but counted only when an attempt really fails,
 *   and forgotten after an hour of quiet. Counting in advance here would serialize every correct
 *   login from one office address or one reverse proxy; the price is that a burst of parallel
 *   guesses from one address is slowed only once its first failures land (each account in the
 *   burst still waits its own turn). docs/SECURITY.md states the trade-off.
 */
export interface ThrottleKey {
  key: string;
  kind: 'account' | 'address';
}

export const accountKey = (login: string): ThrottleKey => ({ key: `login:${login}`, kind: 'account' });
export const deviceKey = (userId: string, deviceHash: string): ThrottleKey => ({ key: `device:${userId}:${deviceHash}`, kind: 'account' });
export const addressKey = (ip: string): ThrottleKey => ({ key: `ip:${ip}`, kind: 'address' });

export interface Turn {
  keys: ThrottleKey[];
  /** When the attempt may be evaluated. */
  turnAt: Date;
  /** When the answer to a failed attempt may be sent (address counters may push it later). */
  failureAnswerAt: Date;
}

const byKey = (a: ThrottleKey, b: ThrottleKey) => a.key.localeCompare(b.key);

/**
 * Takes the next turn on the account counters and waits behind the address counters, in the
 * database, under row locks: parallel requests, several addresses and several Haven instances
 * all queue on the same rows.
 */
export async function reserveLoginTurn(app: App, keys: ThrottleKey[]): Promise<Turn> {
  const now = app.clock.now();
  const sorted = [...keys].sort(byKey);
  const reserved = sorted.filter((k) => k.kind === 'account');
  const watched = sorted.filter((k) => k.kind === 'address');
  const watchedRows = watched.length
    ? await app.db.select().from(loginThrottle).where(inArray(loginThrottle.key, watched.map((k) => k.key)))
    : [];
  let turnAt = now;
  for (const row of watchedRows) {
    const t = waitTurn(row, now, SPRAY_QUIET_RESET_MS);
    if (t > turnAt) turnAt = t;
  }
  if (!reserved.length) return { keys: sorted, turnAt, failureAnswerAt: turnAt };

  return app.db.transaction(async (t) => {
    await t.insert(loginThrottle).values(reserved.map(({ key }) => ({ key, failures: 0, nextAt: now, updatedAt: now }))).onConflictDoNothing();
    const rows = await t
      .select()
      .from(loginThrottle)
      .where(inArray(loginThrottle.key, reserved.map((k) => k.key)))
      .orderBy(loginThrottle.key)
      .for('update');
    const reservations = reserved.map((k) => ({ k, r: reserveTurn(rows.find((row) => row.key === k.key) ?? null, now) }));
    // One attempt takes one turn: it waits for the slowest counter, and every counter moves on from there.
    for (const { r } of reservations) if (r.turnAt > turnAt) turnAt = r.turnAt;
    let failureAnswerAt = turnAt;
    for (const { k, r } of reservations) {
      const nextAt = new Date(turnAt.getTime() + (r.next.nextAt.getTime() - r.turnAt.getTime()));
      if (nextAt > failureAnswerAt) failureAnswerAt = nextAt;
      await t.update(loginThrottle).set({ failures: r.next.failures, nextAt, updatedAt: now }).where(sql`${loginThrottle.key} = ${k.key}`);
    }
    return { keys: sorted, turnAt, failureAnswerAt };
  });
}

/**
 * A failed attempt: account counters were already counted; address counters count it now.
 * Returns when the failure may be answered.
 */
export async function recordFailure(app: App, turn: Turn): Promise<Date> {
  const watched = turn.keys.filter((k) => k.kind === 'address');
  if (!watched.length) return turn.failureAnswerAt;
  const now = app.clock.now();
  return app.db.transaction(async (t) => {
    await t.insert(loginThrottle).values(watched.map(({ key }) => ({ key, failures: 0, nextAt: now, updatedAt: now }))).onConflictDoNothing();
    const rows = await t.select().from(loginThrottle).where(inArray(loginThrottle.key, watched.map((k) => k.key))).orderBy(loginThrottle.key).for('update');
    let answerAt = turn.failureAnswerAt;
    for (const row of rows) {
      const next = countFailure(row, now, SPRAY_QUIET_RESET_MS);
      if (next.nextAt > answerAt) answerAt = next.nextAt;
      await t.update(loginThrottle).set(next).where(sql`${loginThrottle.key} = ${row.key}`);
    }
    return answerAt;
  });
}

/**
 * A correct password clears the account's (or device's) counter. Address counters were never
 * counted in advance, and successes do not wipe out their failures: otherwise an attacker with
 * one valid account could reset the spraying limit at will.
 */
export async function forgiveFailures(app: App, turn: Turn, db: Db = app.db): Promise<void> {
  const reserved = turn.keys.filter((k) => k.kind === 'account');
  if (!reserved.length) return;
  const now = app.clock.now();
  await db.update(loginThrottle).set({ failures: 0, nextAt: now, updatedAt: now }).where(inArray(loginThrottle.key, reserved.map((k) => k.key)));
}
