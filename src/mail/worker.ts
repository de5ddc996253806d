import type { App } from '../context.ts';
import type { Job } from '../jobs/service.ts';
import { startJobWorker, type JobWorker } from '../jobs/worker.ts';
import { deliverDueMail } from './service.ts';

/** The sender of the outbox. Idle polls are not recorded in job_runs; runs that sent or failed something are. */
export const MAIL_SEND_JOB: Job = {
  name: 'mail.send',
  lockKey: 7_210_101,
  record: 'when-worked',
  async run(app) {
    const report = await deliverDueMail(app);
    // Stopped at its per-run limit: go on at once rather than at the next poll.
    if (report.more) app.mail.wake();
    const { sent, retrying, failed } = report;
    return { worked: sent + retrying + failed > 0, details: { sent, retrying, failed } };
  },
};

/**
 * Every 10 seconds the worker looks for due mail: retries whose wait is over, and mail queued
 * by another instance or by a CLI command. An enqueue in this process wakes it at once
 * (50 ms, to let the enqueuing transaction commit) and once more a second later, for a
 * transaction that took longer or a run that another instance held the lock for.
 */
export const MAIL_POLL_SCHEDULE = '*/10 * * * * *';
export const MAIL_WAKE_DELAYS_MS = [50, 1000];

/**
 * Starts the mail sender and makes it `app.mail`. Stop it before closing the database; after
 * stop(), `app.mail` is a worker that does nothing when woken.
 */
export function startMailWorker(app: App): JobWorker {
  const worker = startJobWorker(app, MAIL_SEND_JOB, { schedule: MAIL_POLL_SCHEDULE, wakeDelaysMs: MAIL_WAKE_DELAYS_MS });
  app.mail = worker;
  return worker;
}

