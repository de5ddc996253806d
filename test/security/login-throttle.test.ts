import { describe, expect, test } from 'vitest';
import {
  LONG_DELAY_FROM_FAILURE,
  LONG_DELAY_MS,
  nextLoginDelay,
  reserveTurn,
  SHORT_DELAY_MS,
  SPRAY_QUIET_RESET_MS,
  countFailure,
  waitTurn,
  type ThrottleState,
} from '../../src/security/login-throttle.ts';

const T0 = new Date('2026-01-05T09:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('constants match DESIGN §1.1', () => {
  test('1 s, 10 s, from the 10th failure', () => {
    expect(SHORT_DELAY_MS).toBe(1_000);
    expect(LONG_DELAY_MS).toBe(10_000);
    expect(LONG_DELAY_FROM_FAILURE).toBe(10);
  });
});

describe('nextLoginDelay', () => {
  test('no failures, no delay', () => {
    expect(nextLoginDelay(0)).toBe(0);
    expect(nextLoginDelay(-1)).toBe(0);
  });

  test.each(Array.from({ length: 9 }, (_, i) => i + 1))('failure %i: 1 second', (n) => {
    expect(nextLoginDelay(n)).toBe(1_000);
  });

  test.each(Array.from({ length: 16 }, (_, i) => i + 10))('failure %i: 10 seconds', (n) => {
    expect(nextLoginDelay(n)).toBe(10_000);
  });

  test('a full table 0..25', () => {
    const table = Array.from({ length: 26 }, (_, n) => nextLoginDelay(n));
    expect(table).toEqual([0, ...Array(9).fill(1_000), ...Array(16).fill(10_000)]);
  });

  test('no lockout: even after a million failures the delay stays 10 seconds', () => {
    expect(nextLoginDelay(1_000_000)).toBe(10_000);
    expect(nextLoginDelay(Number.MAX_SAFE_INTEGER)).toBe(10_000);
  });
});

describe('reserveTurn', () => {
  test('the first attempt on a fresh counter is immediate', () => {
    const r = reserveTurn(null, T0);
    expect(r.turnAt).toEqual(T0);
    expect(r.next).toEqual({ failures: 1, nextAt: at(1_000), updatedAt: T0 });
  });

  test('the first attempt on a fresh counter is immediate with a quiet reset too', () => {
    expect(reserveTurn(null, T0, SPRAY_QUIET_RESET_MS).turnAt).toEqual(T0);
  });

  test('20 reservations at the same instant queue cumulatively: 0..9 s, then every 10 s', () => {
    let state: ThrottleState | null = null;
    const turns: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = reserveTurn(state, T0);
      turns.push((r.turnAt.getTime() - T0.getTime()) / 1000);
      state = r.next;
    }
    expect(turns).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 19, 29, 39, 49, 59, 69, 79, 89, 99, 109]);
    expect(state!.failures).toBe(20);
    expect(state!.nextAt).toEqual(at(119_000));
  });

  test('parallel reservations never share a turn', () => {
    let state: ThrottleState | null = null;
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const r = reserveTurn(state, T0);
      expect(seen.has(r.turnAt.getTime())).toBe(false);
      seen.add(r.turnAt.getTime());
      state = r.next;
    }
  });

  test('attempts that each wait for their turn are spaced by 1 s, then 10 s', () => {
    let state: ThrottleState | null = null;
    let now = T0;
    const gaps: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = reserveTurn(state, now);
      gaps.push(r.turnAt.getTime() - now.getTime());
      state = r.next;
      now = state.nextAt; // the next attempt arrives exactly when allowed
    }
    expect(gaps.every((g) => g === 0)).toBe(true);
    expect(state!.failures).toBe(12);
  });

  test('an attempt arriving early waits until the reserved time', () => {
    const state: ThrottleState = { failures: 3, nextAt: at(5_000), updatedAt: at(4_000) };
    const r = reserveTurn(state, at(4_500));
    expect(r.turnAt).toEqual(at(5_000));
    expect(r.next).toEqual({ failures: 4, nextAt: at(6_000), updatedAt: at(4_500) });
  });

  test('an attempt arriving after the reserved time goes at once', () => {
    const state: ThrottleState = { failures: 3, nextAt: at(5_000), updatedAt: at(4_000) };
    const r = reserveTurn(state, at(60_000));
    expect(r.turnAt).toEqual(at(60_000));
    expect(r.next.nextAt).toEqual(at(61_000));
  });

  test('the 10th counted failure imposes 10 s', () => {
    const state: ThrottleState = { failures: 9, nextAt: at(0), updatedAt: at(0) };
    const r = reserveTurn(state, at(0));
    expect(r.next.failures).toBe(10);
    expect(r.next.nextAt).toEqual(at(10_000));
  });

  test('the 9th counted failure still imposes 1 s', () => {
    const state: ThrottleState = { failures: 8, nextAt: at(0), updatedAt: at(0) };
    expect(reserveTurn(state, at(0)).next.nextAt).toEqual(at(1_000));
  });

  test('does not mutate the state it is given', () => {
    const state: ThrottleState = { failures: 3, nextAt: at(5_000), updatedAt: at(4_000) };
    const copy = structuredClone(state);
    reserveTurn(state, at(4_500), SPRAY_QUIET_RESET_MS);
    expect(state).toEqual(copy);
  });
});

describe('quiet reset (address counters)', () => {
  test('the spray quiet period is one hour', () => {
    expect(SPRAY_QUIET_RESET_MS).toBe(3_600_000);
  });

  const busy: ThrottleState = { failures: 15, nextAt: at(10_000), updatedAt: T0 };

  test('1 ms short of the quiet period: no reset', () => {
    const r = reserveTurn(busy, at(SPRAY_QUIET_RESET_MS - 1), SPRAY_QUIET_RESET_MS);
    expect(r.next.failures).toBe(16);
    expect(r.next.nextAt.getTime() - r.turnAt.getTime()).toBe(10_000);
  });

  test('exactly the quiet period: the counter starts afresh', () => {
    const now = at(SPRAY_QUIET_RESET_MS);
    const r = reserveTurn(busy, now, SPRAY_QUIET_RESET_MS);
    expect(r.turnAt).toEqual(now);
    expect(r.next).toEqual({ failures: 1, nextAt: new Date(now.getTime() + 1_000), updatedAt: now });
  });

  test('after the quiet period a queued future turn is forgotten too', () => {
    const farQueue: ThrottleState = { failures: 500, nextAt: at(2 * SPRAY_QUIET_RESET_MS), updatedAt: T0 };
    const now = at(SPRAY_QUIET_RESET_MS);
    const r = reserveTurn(farQueue, now, SPRAY_QUIET_RESET_MS);
    expect(r.turnAt).toEqual(now);
    expect(r.next.failures).toBe(1);
  });

  test('quiet is measured from the last attempt (updatedAt), not the first', () => {
    let state: ThrottleState | null = null;
    for (let i = 0; i < 12; i++) state = reserveTurn(state, at(i * 30 * 60_000), SPRAY_QUIET_RESET_MS).next;
    // 12 attempts 30 minutes apart: never an hour of quiet, so the counter never resets.
    expect(state!.failures).toBe(12);
  });

  test('without quietResetMs (account and device counters) there is no reset, even after a year', () => {
    const r = reserveTurn(busy, at(365 * 86_400_000));
    expect(r.next.failures).toBe(16);
    expect(r.next.nextAt.getTime() - r.turnAt.getTime()).toBe(10_000);
  });
});

describe('address counters: waited on, counted on real failure (waitTurn, countFailure)', () => {
  test('a fresh or free counter does not make an attempt wait', () => {
    expect(waitTurn(null, T0, SPRAY_QUIET_RESET_MS)).toEqual(T0);
    expect(waitTurn({ failures: 3, nextAt: at(-5_000), updatedAt: at(-6_000) }, T0, SPRAY_QUIET_RESET_MS)).toEqual(T0);
  });

  test('waiting does not count: the counter is unchanged however many attempts wait on it', () => {
    const state: ThrottleState = { failures: 4, nextAt: at(2_000), updatedAt: T0 };
    for (let i = 0; i < 10; i++) expect(waitTurn(state, T0, SPRAY_QUIET_RESET_MS)).toEqual(at(2_000));
    expect(state).toEqual({ failures: 4, nextAt: at(2_000), updatedAt: T0 });
  });

  test('each real failure adds its delay: 1 s for the first 9, then 10 s', () => {
    let state: ThrottleState | null = null;
    for (let i = 1; i <= 11; i++) {
      state = countFailure(state, T0, SPRAY_QUIET_RESET_MS);
      expect(state.failures).toBe(i);
    }
    expect(state!.nextAt).toEqual(at(9 * 1_000 + 2 * 10_000));
  });

  test('failures landing after the queue has drained count from now, not from the past', () => {
    const drained: ThrottleState = { failures: 2, nextAt: at(-30_000), updatedAt: at(-31_000) };
    expect(countFailure(drained, T0, SPRAY_QUIET_RESET_MS)).toEqual({ failures: 3, nextAt: at(1_000), updatedAt: T0 });
  });

  test('after an hour of quiet, waiting is free and the next failure counts as the first', () => {
    const busy: ThrottleState = { failures: 30, nextAt: at(SPRAY_QUIET_RESET_MS + 60_000), updatedAt: T0 };
    const now = at(SPRAY_QUIET_RESET_MS);
    expect(waitTurn(busy, now, SPRAY_QUIET_RESET_MS)).toEqual(now);
    expect(countFailure(busy, now, SPRAY_QUIET_RESET_MS)).toEqual({ failures: 1, nextAt: new Date(now.getTime() + 1_000), updatedAt: now });
    expect(waitTurn(busy, at(SPRAY_QUIET_RESET_MS - 1), SPRAY_QUIET_RESET_MS)).toEqual(at(SPRAY_QUIET_RESET_MS + 60_000));
  });
});
