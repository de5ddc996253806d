import { desc, eq } from 'drizzle-orm';
import type { App } from '../context.ts';
import { jobRuns } from '../db/schema.ts';
import { isReadOnly } from '../failover/state.ts';

/** What one run of a job reports: whether it did anything, and what (stored in job_runs.details). */
export interface JobWork {
  worked: boolean;
  details?: Record<string, unknown>;
}

export interface Job {
  /** Stored in job_runs.job, e.g. `mail.send`. */
  name: string;
  /** The PostgreSQL advisory lock that lets one instance at a time run this job. Unique per job. */
  lockKey: number;
  /**
   * `always`: every run is recorded, with a `running` row while it runs (scheduled jobs such as
   * backups, where a missing or stuck run must show). `when-worked`: only runs that did
   * something or failed (pollers, whose idle runs every few seconds would flood the table).
   */
  record: 'always' | 'when-worked';
  run(app: App): Promise<JobWork>;
}

export type JobRunResult =
  | { ran: false; reason: 'busy' | 'read_only' }
  | { ran: true; outcome: 'ok'; work: JobWork }
  | { ran: true; outcome: 'error'; error: string };

/**
 * Runs the job if no other instance is running it (advisory lock) and the site takes writes,
 * and records the run in job_runs as the job asks. The job's own failure is recorded and returned, not thrown.
 */
export async function runJob(app: App, job: Job): Promise<JobRunResult> {
  // Every job writes (its run, mail sent, rows pruned): none runs while the site is read-only.
  if (isReadOnly(app)) return { ran: false, reason: 'read_only' };
  const locked = await app.database.withAdvisoryLock(job.lockKey, async (): Promise<JobRunResult> => {
    const startedAt = app.clock.now();
    let runId: number | undefined;
    if (job.record === 'always') {
      const [row] = await app.db.insert(jobRuns).values({ job: job.name, startedAt, outcome: 'running' }).returning({ id: jobRuns.id });
      runId = row!.id;
    }
    const finish = async (outcome: 'ok' | 'error', details: Record<string, unknown> | undefined) => {
      const finishedAt = app.clock.now();
      if (runId !== undefined) await app.db.update(jobRuns).set({ finishedAt, outcome, details: details ?? null }).where(eq(jobRuns.id, runId));
      else await app.db.insert(jobRuns).values({ job: job.name, startedAt, finishedAt, outcome, details: details ?? null });
    };
    try {
      const work = await job.run(app);
      if (job.record === 'always' || work.worked) await finish('ok', work.details);
      return { ran: true, outcome: 'ok', work };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      app.log.error({ err: error, job: job.name }, 'job failed');
      await finish('error', { error: message });
      return { ran: true, outcome: 'error', error: message };
    }
  });
  return locked.acquired ? locked.value : { ran: false, reason: 'busy' };
}

/** The most recent recorded runs of a job, newest first. */
export async function recentJobRuns(app: App, job: string, limit = 20) {
  return app.db.select().from(jobRuns).where(eq(jobRuns.job, job)).orderBy(desc(jobRuns.startedAt), desc(jobRuns.id)).limit(limit);
}
