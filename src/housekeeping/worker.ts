import type { App } from '../context.ts';
import { startJobWorker, type JobWorker } from '../jobs/worker.ts';
import { PRUNE_JOB, PRUNE_SCHEDULE } from './service.ts';

/** Starts the hourly prune of expired security records. Stop it before closing the database. */
export function startHousekeeping(app: App): JobWorker {
  return startJobWorker(app, PRUNE_JOB, { schedule: PRUNE_SCHEDULE, wakeDelaysMs: [] });
}
