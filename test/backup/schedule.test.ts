// The nightly schedule and retention, with an injected clock (issue 12): 20 nights of backups at
// `backup_time`, a restore test every 7 days, leave the last 14 backups, the newest verified one
// among them; nothing runs twice in a night; a new site waits for its first night.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { startTestHaven, type TestHaven } from '../helpers/app.ts';
import { backupScheduleJob } from '../../src/backup/worker.ts';
import { runJob } from '../../src/jobs/service.ts';
import { listBackups } from '../../src/backup/service.ts';
import { updateSiteSettings } from '../../src/settings/service.ts';
import { auditRows } from '../cases/attack-kit.ts';

describe('nightly backups and retention', () => {
  let haven: TestHaven;
  const backupDir = mkdtempSync(join(tmpdir(), 'haven-schedule-'));
  // 10:00 local time on the day the site starts.
  const clock = new ManualClock(new Date(2026, 0, 5, 10, 0));

  beforeAll(async () => {
    haven = await startTestHaven('postgres', { clock, config: { backupDir } });
    const changed = await updateSiteSettings(haven.app, { backup_time: '02:00', restore_test_interval_days: '7' }, null, null);
    expect(changed.ok).toBe(true);
  });
  afterAll(async () => {
    await haven?.close();
    rmSync(backupDir, { recursive: true, force: true });
  });

  test('20 nights leave 14 backups, the newest verified one among them, and every night ran once', async () => {
    const job = backupScheduleJob(clock.now());
    expect(await runJob(haven.app, job)).toMatchObject({ ran: true, outcome: 'ok', work: { worked: false } });
    for (let night = 1; night <= 20; night++) {
      clock.set(new Date(2026, 0, 5 + night, 2, 0, 30));
      const first = await runJob(haven.app, job);
      expect(first, `night ${night}`).toMatchObject({ outcome: 'ok', work: { worked: true } });
      clock.set(new Date(2026, 0, 5 + night, 2, 1, 30));
      expect(await runJob(haven.app, job), `night ${night}, a minute later`).toMatchObject({ outcome: 'ok', work: { worked: false } });
    }
    const backups = await listBackups(haven.app);
    expect(backups).toHaveLength(14);
    const verified = backups.filter((b) => b.check?.status === 'passed');
    // Restore tests on nights 1, 8 and 15; night 1's backup went with retention.
    expect(verified.map((b) => new Date(b.manifest.startedAt).getDate())).toEqual([20, 13]);
    expect(new Date(backups[backups.length - 1]!.manifest.startedAt).getDate()).toBe(12);
    expect((await auditRows(haven, 'backup.created')).length).toBe(20);
    expect((await auditRows(haven, 'backup.verified')).length).toBe(3);
    expect((await auditRows(haven, 'backup.pruned')).length).toBeGreaterThan(0);
    // 20 backups and 3 restore tests: seconds alone, longer beside the rest of the suite.
  }, 240_000);
});
