// Time is injected so that expiry rules are tested by moving a clock, not by sleeping.

export interface Clock {
  now(): Date;
  /** Resolves once `now()` has reached `at`. */
  sleepUntil(at: Date): Promise<void>;
}

// Node runs a timer of more than 2^31 - 1 ms (about 24.8 days) after 1 ms: a long wait is
// taken in steps no longer than that, and the clock is read again after each one.
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => new Date(),
  sleepUntil: (at) =>
    new Promise((resolve) => {
      const step = () => {
        const ms = at.getTime() - Date.now();
        if (ms <= 0) resolve();
        else setTimeout(step, Math.min(ms, MAX_TIMER_MS));
      };
      step();
    }),
};

/** A clock that moves only when told to; sleepers wake as `advance` passes their time. */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: { at: number; wake: () => void }[] = [];

  constructor(start: Date | string = '2026-01-05T09:00:00Z') {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  sleepUntil(at: Date): Promise<void> {
    if (at.getTime() <= this.#now) return Promise.resolve();
    return new Promise((wake) => this.#sleepers.push({ at: at.getTime(), wake }));
  }

  advance(ms: number): void {
    this.set(new Date(this.#now + ms));
  }

  set(to: Date): void {
    this.#now = to.getTime();
    const due = this.#sleepers.filter((s) => s.at <= this.#now).sort((a, b) => a.at - b.at);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#now);
    for (const s of due) s.wake();
  }

  /** How many requests are waiting for their turn: lets a test know a request has queued. */
  get sleeping(): number {
    return this.#sleepers.length;
  }
}
