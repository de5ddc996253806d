import type { ManualClock } from '../../src/clock.ts';

/** Polls until `condition` holds (real time, bounded): for asynchronous work to settle. */
export async function waitFor(condition: () => boolean, what = 'condition', timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Runs `count` requests in parallel against a manual clock and records, in virtual time,
 * when each was answered. The clock moves in `stepMs` steps only once every request is
 * either answered or waiting for its turn, so the schedule alone decides the answers.
 */
export async function answerTimes(clock: ManualClock, requests: (() => Promise<unknown>)[], limitMs: number, stepMs = 250): Promise<number[]> {
  return (await timedAnswers(clock, requests, limitMs, stepMs)).map((a) => a.at);
}

export interface TimedAnswer<T> {
  /** Virtual milliseconds from the start until the answer. */
  at: number;
  response: T;
}

/** Like `answerTimes`, keeping each response with its time (sorted by time). */
export async function timedAnswers<T>(clock: ManualClock, requests: (() => Promise<T>)[], limitMs: number, stepMs = 250): Promise<TimedAnswer<T>[]> {
  const start = clock.now().getTime();
  const answered: TimedAnswer<T>[] = [];
  const all = requests.map((r) => r().then((response) => answered.push({ at: clock.now().getTime() - start, response })));
  const settled = () => answered.length + clock.sleeping === requests.length;
  await waitFor(settled, 'requests to queue');
  while (answered.length < requests.length && clock.now().getTime() - start < limitMs) {
    clock.advance(stepMs);
    await new Promise((r) => setTimeout(r, 1));
    await waitFor(settled, 'requests to settle');
  }
  await Promise.all(all);
  return answered.sort((a, b) => a.at - b.at);
}
