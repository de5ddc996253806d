import { Cron } from 'croner';
import type { App } from '../context.ts';
import { runJob, type Job, type JobRunResult } from './service.ts';

export interface JobWorker {
  /**
   * Asks for a run soon (after `wakeDelaysMs`). Calls close together share one run, and a
   * caller's transaction that has not committed yet has committed by the time it starts.
   */
  wake(): void;
  /** Runs the job now, after any run in progress, and resolves when that run is done. */
  runNow(): Promise<JobRunResult | undefined>;
  /** Stops the schedule and waits for a run in progress. Later wake() calls do nothing. */
  stop(): Promise<void>;
}

export interface JobWorkerOptions {
  /** A croner pattern in the server's local time, e.g. `*\/10 * * * * *` (every 10 s). */
  schedule: string;
  /**
   * When wake() runs the job, in ascending order, measured from the first wake() of a burst
   * (wake-ups before the last delay has passed join that burst). The later delays
   * catch what the first could not yet see: a transaction that committed late, or the lock
   * held by another instance's run.
   */
  wakeDelaysMs: number[];
}

/**
 * Runs a job on a croner schedule and on demand. Runs in this process never overlap (a run
 * asked for during one follows it); the advisory lock in runJob keeps other instances out.
 * Timers are real time; what is due is the job's business, judged by `app.clock`.
 */
export function startJobWorker(app: App, job: Job, options: JobWorkerOptions): JobWorker {
  let stopped = false;
  let running: Promise<JobRunResult | undefined> | null = null;
  let runAgain = false;
  let wakeTimers: NodeJS.Timeout[] = [];

  const cycle = async (): Promise<JobRunResult | undefined> => {
    let result: JobRunResult | undefined;
    do {
      runAgain = false;
      try {
        result = await runJob(app, job);
      } catch (error) {
        // The database itself failed (closed, unreachable): the next run tries again.
        app.log.error({ err: error, job: job.name }, 'job could not run');
        result = undefined;
      }
    } while (runAgain && !stopped);
    return result;
  };

  const trigger = (): Promise<JobRunResult | undefined> => {
    if (stopped) return Promise.resolve(undefined);
    if (running) {
      runAgain = true;
      return running;
    }
    running = cycle().finally(() => {
      running = null;
    });
    return running;
  };

  const cron = new Cron(options.schedule, { catch: true, unref: true }, () => {
    void trigger();
  });

  return {
    wake() {
      if (stopped || wakeTimers.length) return;
      wakeTimers = options.wakeDelaysMs.map((delay, i) => {
        const timer = setTimeout(() => {
          if (i === options.wakeDelaysMs.length - 1) wakeTimers = [];
          void trigger();
        }, delay);
        timer.unref();
        return timer;
      });
    },
    runNow: trigger,
    async stop() {
      stopped = true;
      cron.stop();
      for (const timer of wakeTimers) clearTimeout(timer);
      wakeTimers = [];
      await running;
    },
  };
}
