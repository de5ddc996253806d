import type { App } from '../context.ts';
import type { Job } from '../jobs/service.ts';
import { startJobWorker, type JobWorker } from '../jobs/worker.ts';
import { getSiteSettings } from '../settings/service.ts';
import { isNightlyBackupDue, isRestoreTestDue } from '../security/backups.ts';
import { BackupError, lastRestoreTestStart, lastScheduledBackupStart, pruneBackups, runBackup, verifyBackup } from './service.ts';
import { listBackupDirs } from './files.ts';

const SYSTEM = { actor: null, ip: null };

/**
 * Every minute: the nightly backup once `backup_time` has passed (a new site's first comes at
 * the next `backup_time`), then a restore test when `restore_test_interval_days` have gone by, then retention.
 * What is due is judged by `app.clock`, so tests move a clock instead of waiting for the night.
 */
export function backupScheduleJob(since: Date): Job {
  return {
    name: 'backup.schedule',
    lockKey: 7_210_105,
    record: 'when-worked',
    async run(app) {
      const settings = await getSiteSettings(app);
      const now = app.clock.now();
      const details: Record<string, unknown> = {};
      if (isNightlyBackupDue(now, settings.backup_time, await lastScheduledBackupStart(app), since)) {
        try {
          details.backup = (await runBackup(app, 'scheduled', SYSTEM)).id;
        } catch (error) {
          // Recorded, audited and mailed by runBackup; a run already under way is not a failure.
          if (!(error instanceof BackupError)) throw error;
          details.backupError = error.message;
        }
      }
      const newest = listBackupDirs(app.config.backupDir)[0];
      if (isRestoreTestDue(app.clock.now(), settings.restore_test_interval_days, await lastRestoreTestStart(app), newest ? new Date(newest.manifest.startedAt) : null)) {
        try {
          const check = await verifyBackup(app, undefined, SYSTEM);
          details.restoreTest = { backup: check.backupId, passed: check.passed };
        } catch (error) {
          if (!(error instanceof BackupError)) throw error;
          details.restoreTestError = error.message;
        }
      } else if (details.backup) {
        await pruneBackups(app, SYSTEM);
      }
      return { worked: Object.keys(details).length > 0, details };
    },
  };
}

/** Starts the backup schedule (checked every minute). Stop it before closing the database. */
export function startBackupSchedule(app: App): JobWorker {
  return startJobWorker(app, backupScheduleJob(app.clock.now()), { schedule: '0 * * * * *', wakeDelaysMs: [] });
}
