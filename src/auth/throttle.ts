import { inArray, sql } from 'drizzle-orm';
import type { App } from '../app.ts';
import type { Db } from '../db/client.ts';
import { loginThrottle } from '../db/schema.ts';
import { reserveTurn, SPRAY_QUIET_RESET_MS } from '../security/login-throttle.ts';

export interface ThrottleKey {
  key: string;
  /** Counters for an address forgive after an hour of quiet; account counters only on success. */
  quietReset: boolean;
}

export const accountKey = (login: string): ThrottleKey => ({ key: `login:${login}`, quietReset: false });
export const deviceKey = (userId: string, deviceHash: string): ThrottleKey => ({ key: `device:${userId}:${deviceHash}`, quietReset: false });
export const addressKey = (ip: string): ThrottleKey => ({ key: `ip:${ip}`, quietReset: true });

export interface Turn {
  keys: ThrottleKey[];
  /** When the attempt may be evaluated. */
  turnAt: Date;
  /** When the answer to a failed attempt may be sent. */
  failureAnswerAt: Date;
  /** The delay this attempt added to each counter, to take back if it succeeds. */
  addedDelayMs: Map<string, number>;
}

/**
 * Takes the next turn on every counter at once, in the database, under row locks: parallel
 * requests, several addresses and several Haven instances all queue on the same rows.
 */
export async function reserveLoginTurn(app: App, keys: ThrottleKey[]): Promise<Turn> {
  const now = app.clock.now();
  const sorted = [...keys].sort((a, b) => a.key.localeCompare(b.key));
  return app.db.transaction(async (tx) => {
    const t = tx as unknown as Db;
    await t
      .insert(loginThrottle)
      .values(sorted.map(({ key }) => ({ key, failures: 0, nextAt: now, updatedAt: now })))
      .onConflictDoNothing();
    const rows = await t
      .select()
      .from(loginThrottle)
      .where(inArray(loginThrottle.key, sorted.map((k) => k.key)))
      .orderBy(loginThrottle.key)
      .for('update');
    const reservations = sorted.map((k) => {
      const row = rows.find((r) => r.key === k.key) ?? null;
      return { k, r: reserveTurn(row, now, k.quietReset ? SPRAY_QUIET_RESET_MS : undefined) };
    });
    // One attempt takes one turn: it waits for the slowest counter, and every counter moves on from there.
    const turnAt = new Date(Math.max(...reservations.map((x) => x.r.turnAt.getTime())));
    let failureAnswerAt = turnAt;
    const addedDelayMs = new Map<string, number>();
    for (const { k, r } of reservations) {
      const shift = turnAt.getTime() - r.turnAt.getTime();
      const nextAt = new Date(r.next.nextAt.getTime() + shift);
      if (nextAt > failureAnswerAt) failureAnswerAt = nextAt;
      addedDelayMs.set(k.key, r.next.nextAt.getTime() - r.turnAt.getTime());
      await t
        .update(loginThrottle)
        .set({ failures: r.next.failures, nextAt, updatedAt: now })
        .where(sql`${loginThrottle.key} = ${k.key}`);
    }
    return { keys: sorted, turnAt, failureAnswerAt, addedDelayMs };
  });
}

/**
 * A correct password clears the account's (or device's) counter. An address counter only takes
 * back this attempt's own advance count: successes from an address do not wipe out its
 * failures, or an attacker with one valid account could reset the spraying limit at will.
 */
export async function forgiveFailures(app: App, turn: Turn): Promise<void> {
  const now = app.clock.now();
  await app.db.transaction(async (tx) => {
    for (const k of turn.keys) {
      if (!k.quietReset) {
        await tx.update(loginThrottle).set({ failures: 0, nextAt: now, updatedAt: now }).where(sql`${loginThrottle.key} = ${k.key}`);
        continue;
      }
      const added = turn.addedDelayMs.get(k.key) ?? 0;
      await tx.execute(sql`
        UPDATE login_throttle
           SET failures = GREATEST(failures - 1, 0),
               next_at = GREATEST(${now.toISOString()}::timestamptz, next_at - make_interval(secs => ${added / 1000}))
         WHERE key = ${k.key}`);
    }
  });
}
