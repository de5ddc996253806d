import { afterEach, describe, expect, test, vi } from 'vitest';
import { ManualClock, MAX_TIMER_MS, systemClock } from '../../src/clock.ts';

/** Lets every already-resolved promise run its callbacks. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ManualClock', () => {
  test('starts at the given instant (default 2026-01-05T09:00:00Z)', () => {
    expect(new ManualClock().now()).toEqual(new Date('2026-01-05T09:00:00Z'));
    expect(new ManualClock('2030-06-01T00:00:00Z').now()).toEqual(new Date('2030-06-01T00:00:00Z'));
    expect(new ManualClock(new Date(0)).now()).toEqual(new Date(0));
  });

  test('does not move by itself', async () => {
    const clock = new ManualClock();
    const before = clock.now().getTime();
    await new Promise((r) => setTimeout(r, 20));
    expect(clock.now().getTime()).toBe(before);
  });

  test('now() returns a copy: mutating it does not move the clock', () => {
    const clock = new ManualClock();
    const t = clock.now();
    t.setFullYear(2000);
    expect(clock.now()).toEqual(new Date('2026-01-05T09:00:00Z'));
  });

  test('advance and set move the clock', () => {
    const clock = new ManualClock();
    clock.advance(1_500);
    expect(clock.now()).toEqual(new Date('2026-01-05T09:00:01.500Z'));
    clock.set(new Date('2026-02-01T00:00:00Z'));
    expect(clock.now()).toEqual(new Date('2026-02-01T00:00:00Z'));
  });

  test('sleeping until now or the past resolves at once, without queueing', async () => {
    const clock = new ManualClock();
    let woke = 0;
    void clock.sleepUntil(clock.now()).then(() => woke++);
    void clock.sleepUntil(new Date(0)).then(() => woke++);
    expect(clock.sleeping).toBe(0);
    await flush();
    expect(woke).toBe(2);
  });

  test('a sleeper does not wake before its time, and wakes exactly at it', async () => {
    const clock = new ManualClock();
    const start = clock.now().getTime();
    let woke = false;
    void clock.sleepUntil(new Date(start + 10_000)).then(() => {
      woke = true;
    });
    expect(clock.sleeping).toBe(1);
    clock.advance(9_999);
    await flush();
    expect(woke).toBe(false);
    expect(clock.sleeping).toBe(1);
    clock.advance(1);
    await flush();
    expect(woke).toBe(true);
    expect(clock.sleeping).toBe(0);
  });

  test('stepwise advances wake sleepers one by one, in time order', async () => {
    const clock = new ManualClock();
    const start = clock.now().getTime();
    const woken: number[] = [];
    for (const s of [3, 1, 2]) void clock.sleepUntil(new Date(start + s * 1000)).then(() => woken.push(s));
    expect(clock.sleeping).toBe(3);
    clock.advance(1000);
    await flush();
    expect(woken).toEqual([1]);
    clock.advance(1000);
    await flush();
    expect(woken).toEqual([1, 2]);
    expect(clock.sleeping).toBe(1);
    clock.advance(1000);
    await flush();
    expect(woken).toEqual([1, 2, 3]);
    expect(clock.sleeping).toBe(0);
  });

  // Like systemClock (timers fire by deadline), and unlike registration order.
  test('one advance past several sleepers wakes them in time order', async () => {
    const clock = new ManualClock();
    const start = clock.now().getTime();
    const woken: number[] = [];
    // Registered out of time order, as parallel requests reserving later turns may be.
    for (const s of [3, 1, 2]) void clock.sleepUntil(new Date(start + s * 1000)).then(() => woken.push(s));
    clock.advance(5_000);
    await flush();
    expect(woken).toEqual([1, 2, 3]);
  });

  test('sleepers with the same time wake in the order they went to sleep', async () => {
    const clock = new ManualClock();
    const at = new Date(clock.now().getTime() + 1000);
    const woken: string[] = [];
    for (const name of ['a', 'b', 'c']) void clock.sleepUntil(at).then(() => woken.push(name));
    clock.advance(1000);
    await flush();
    expect(woken).toEqual(['a', 'b', 'c']);
  });

  test('a sleeper added after an advance waits for the next one', async () => {
    const clock = new ManualClock();
    clock.advance(1000);
    let woke = false;
    void clock.sleepUntil(new Date(clock.now().getTime() + 1)).then(() => {
      woke = true;
    });
    await flush();
    expect(woke).toBe(false);
    clock.advance(1);
    await flush();
    expect(woke).toBe(true);
  });

  test('set() to an earlier time wakes nobody', async () => {
    const clock = new ManualClock();
    const start = clock.now().getTime();
    let woke = false;
    void clock.sleepUntil(new Date(start + 1000)).then(() => {
      woke = true;
    });
    clock.set(new Date(start - 60_000));
    await flush();
    expect(woke).toBe(false);
    expect(clock.sleeping).toBe(1);
  });
});

describe('systemClock', () => {
  test('now() is the real time', () => {
    const before = Date.now();
    const t = systemClock.now().getTime();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });

  test('sleepUntil the past resolves at once; a near future after that time', async () => {
    await systemClock.sleepUntil(new Date(0));
    const target = Date.now() + 30;
    await systemClock.sleepUntil(new Date(target));
    expect(Date.now()).toBeGreaterThanOrEqual(target - 1);
  });
});

describe('systemClock: waits longer than a timer can hold (Node fires a timer over 2^31 - 1 ms after 1 ms)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test('a wait of 30 days does not end early, and ends at its time', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-05T09:00:00Z') });
    const thirtyDays = 30 * 86_400_000;
    let woke = false;
    void systemClock.sleepUntil(new Date(Date.now() + thirtyDays)).then(() => (woke = true));
    await vi.advanceTimersByTimeAsync(1);
    expect(woke).toBe(false);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(woke).toBe(false);
    await vi.advanceTimersByTimeAsync(thirtyDays - MAX_TIMER_MS - 2);
    expect(woke).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(woke).toBe(true);
  });

  test('no single timer is ever longer than 2^31 - 1 ms', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-05T09:00:00Z') });
    const spy = vi.spyOn(globalThis, 'setTimeout');
    void systemClock.sleepUntil(new Date(Date.now() + 400 * 86_400_000));
    await vi.advanceTimersByTimeAsync(3 * MAX_TIMER_MS);
    for (const call of spy.mock.calls) expect(Number(call[1])).toBeLessThanOrEqual(MAX_TIMER_MS);
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(4);
  });
});
