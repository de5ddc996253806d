// When backups and restore tests are due, and which backups retention removes (DESIGN §1.10).
// Pure: the backup service gives the times and the list, and does what these answer.

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The most recent moment at or before `now` when the clock read `backupTime` (HH:MM) in the
 * server's local time zone: today's slot once it has passed, yesterday's before.
 */
export function lastBackupSlot(now: Date, backupTime: string): Date {
  const [hours, minutes] = backupTime.split(':').map(Number) as [number, number];
  const slot = new Date(now);
  slot.setHours(hours, minutes, 0, 0);
  if (slot.getTime() > now.getTime()) {
    // setDate, not minus 24 h: a day with a daylight-saving change is 23 or 25 hours long.
    slot.setDate(slot.getDate() - 1);
    slot.setHours(hours, minutes, 0, 0);
  }
  return slot;
}

/**
 * Whether the nightly backup should run now: no scheduled backup has started since the last
 * slot (a server that was down at that time catches up when it starts). A site that never had
 * one counts from `since`, when the schedule started: its first backup is at the next slot.
 */
export function isNightlyBackupDue(now: Date, backupTime: string, lastScheduledStart: Date | null, since: Date): boolean {
  const reference = lastScheduledStart ?? since;
  return reference.getTime() < lastBackupSlot(now, backupTime).getTime();
}

/**
 * Whether a restore test is due: there is a backup to test, and the last test started
 * `intervalDays` or more ago (or there was none).
 */
export function isRestoreTestDue(now: Date, intervalDays: number, lastTestStart: Date | null, newestBackup: Date | null): boolean {
  if (!newestBackup) return false;
  if (!lastTestStart) return true;
  return now.getTime() - lastTestStart.getTime() >= intervalDays * DAY_MS;
}

export interface RetainedBackup {
  id: string;
  createdAt: Date;
  /** A restore test of it passed. */
  verified: boolean;
}

/**
 * The backups retention removes: those `retentionDays` old or older (nightly backups leave that
 * many), each only once a newer backup has passed a restore test, and never the newest backup
 * that passed one. A site whose restore tests fail keeps everything from its last good backup
 * on, and so can still go back to one that is known to restore.
 */
export function backupsToPrune(backups: readonly RetainedBackup[], now: Date, retentionDays: number): string[] {
  const verified = backups.filter((b) => b.verified).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const newestVerified = verified[0];
  if (!newestVerified) return [];
  const cutoff = now.getTime() - retentionDays * DAY_MS;
  return backups
    .filter((b) => b.id !== newestVerified.id && b.createdAt.getTime() <= cutoff && b.createdAt.getTime() < newestVerified.createdAt.getTime())
    .map((b) => b.id);
}

/** A backup id: its UTC start time to the second, sortable, then 4 random hex digits. */
export function backupId(at: Date, random: string): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${random}`;
}

const BACKUP_ID = /^\d{8}-\d{6}-[0-9a-f]{4}$/;

/** Whether `id` is a backup id (the only names the backup directory's entries may take). */
export function isBackupId(id: string): boolean {
  return BACKUP_ID.test(id);
}
