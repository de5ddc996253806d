import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eq } from 'drizzle-orm';
import { DB_KINDS, freshDatabase, startTestHaven, type TestHaven } from '../helpers/app.ts';
import { openDatabase } from '../../src/db/client.ts';
import { jobRuns } from '../../src/db/schema.ts';
import { runJob, recentJobRuns, type Job } from '../../src/jobs/service.ts';
import { startJobWorker } from '../../src/jobs/worker.ts';

describe.each(DB_KINDS)('job plumbing: advisory lock and job_runs (%s)', (kind) => {
  let haven: TestHaven;
  let fresh: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    fresh = await freshDatabase(kind);
    haven = await startTestHaven(kind, { database: fresh.database });
  });
  afterAll(async () => {
    await haven?.close();
    fresh?.cleanup();
  });

  test('a scheduled job is recorded while it runs (running) and when it ends (ok, with its details)', async () => {
    let seenWhileRunning: unknown[] = [];
    const job: Job = {
      name: 'test.always',
      lockKey: 9_000_001,
      record: 'always',
      async run(app) {
        seenWhileRunning = (await recentJobRuns(app, 'test.always')).map((r) => r.outcome);
        haven.clock.advance(1500); // started_at and finished_at come from the app clock
        return { worked: false, details: { checked: 3 } };
      },
    };
    const started = haven.clock.now();
    expect(await runJob(haven.app, job)).toEqual({ ran: true, outcome: 'ok', work: { worked: false, details: { checked: 3 } } });
    expect(seenWhileRunning).toEqual(['running']);
    const [run] = await recentJobRuns(haven.app, 'test.always');
    expect(run).toMatchObject({ outcome: 'ok', details: { checked: 3 }, startedAt: started, finishedAt: new Date(started.getTime() + 1500) });
  });

  test('a poller records only the runs that did something, and every failure', async () => {
    let worked = false;
    const job: Job = {
      name: 'test.poller',
      lockKey: 9_000_002,
      record: 'when-worked',
      async run() {
        return { worked, details: { worked } };
      },
    };
    await runJob(haven.app, job);
    await runJob(haven.app, job);
    expect(await recentJobRuns(haven.app, 'test.poller')).toHaveLength(0);
    worked = true;
    await runJob(haven.app, job);
    const failing: Job = { ...job, async run() { throw new Error('the relay said no'); } };
    expect(await runJob(haven.app, failing)).toEqual({ ran: true, outcome: 'error', error: 'the relay said no' });
    const runs = await recentJobRuns(haven.app, 'test.poller');
    expect(runs.map((r) => [r.outcome, r.details])).toEqual(expect.arrayContaining([['ok', { worked: true }], ['error', { error: 'the relay said no' }]]));
    expect(runs).toHaveLength(2);
  });

  test('while one holder runs a job, another is told "busy" and runs nothing (another instance on PostgreSQL)', async () => {
    let runs = 0;
    const job: Job = {
      name: 'test.exclusive',
      lockKey: 9_000_003,
      record: 'always',
      async run() {
        runs++;
        return { worked: true };
      },
    };
    const other = fresh.url ? await openDatabase({ databaseUrl: fresh.url }) : null;
    const otherApp = other ? { ...haven.app, database: other, db: other.db } : haven.app;
    try {
      const inner = await haven.app.database.withAdvisoryLock(job.lockKey, () => runJob(otherApp, job));
      expect(inner).toEqual({ acquired: true, value: { ran: false, reason: 'busy' } });
      expect(runs).toBe(0);
      expect(await haven.app.db.select().from(jobRuns).where(eq(jobRuns.job, 'test.exclusive'))).toHaveLength(0);
      // Released afterwards: the next run goes ahead.
      expect(await runJob(otherApp, job)).toMatchObject({ ran: true, outcome: 'ok' });
      expect(runs).toBe(1);
    } finally {
      await other?.close();
    }
  });

  test('a worker never overlaps its own runs: a run asked for during one follows it', async () => {
    let active = 0;
    let maxActive = 0;
    let total = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const job: Job = {
      name: 'test.worker',
      lockKey: 9_000_004,
      record: 'when-worked',
      async run() {
        active++;
        maxActive = Math.max(maxActive, active);
        total++;
        if (total === 1) await gate;
        active--;
        return { worked: false };
      },
    };
    const worker = startJobWorker(haven.app, job, { schedule: '0 0 1 1 *', wakeDelaysMs: [0] });
    try {
      const first = worker.runNow();
      const second = worker.runNow();
      const third = worker.runNow();
      release();
      await Promise.all([first, second, third]);
      expect(maxActive).toBe(1);
      expect(total).toBe(2); // the first run, then one more for the two asked for meanwhile
    } finally {
      await worker.stop();
    }
    expect(await worker.runNow()).toBeUndefined(); // stopped: nothing runs
  });
});
