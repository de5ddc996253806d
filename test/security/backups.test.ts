import { describe, expect, test } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import fc from 'fast-check';
import { backupId, backupsToPrune, isBackupId, isNightlyBackupDue, isRestoreTestDue, lastBackupSlot } from '../../src/security/backups.ts';
import { BACKUP_CHUNK_BYTES, backupKey, decryptingStream, encryptingStream, isManifestMacValid, manifestMac } from '../../src/security/backup-sealing.ts';

const DAY = 24 * 60 * 60 * 1000;

describe('backup schedule', () => {
  test('the last slot is today once its time has passed, yesterday before', () => {
    const now = new Date(2026, 11, 2, 3, 0);
    expect(lastBackupSlot(now, '02:00')).toEqual(new Date(2026, 11, 2, 2, 0));
    expect(lastBackupSlot(now, '04:30')).toEqual(new Date(2026, 11, 1, 4, 30));
    expect(lastBackupSlot(new Date(2026, 11, 2, 2, 0), '02:00')).toEqual(new Date(2026, 11, 2, 2, 0));
  });

  test('a backup is due once per slot; a new site waits for its first slot; a server down at the slot catches up', () => {
    const since = new Date(2026, 11, 2, 10, 0);
    expect(isNightlyBackupDue(new Date(2026, 11, 2, 23, 0), '02:00', null, since)).toBe(false);
    expect(isNightlyBackupDue(new Date(2026, 11, 3, 2, 0), '02:00', null, since)).toBe(true);
    expect(isNightlyBackupDue(new Date(2026, 11, 3, 2, 1), '02:00', new Date(2026, 11, 3, 2, 0), since)).toBe(false);
    expect(isNightlyBackupDue(new Date(2026, 11, 5, 9, 0), '02:00', new Date(2026, 11, 3, 2, 0), since)).toBe(true);
  });

  test('a restore test is due when there is a backup and the interval has passed', () => {
    const now = new Date('2026-12-10T02:00:00Z');
    expect(isRestoreTestDue(now, 7, null, null)).toBe(false);
    expect(isRestoreTestDue(now, 7, null, now)).toBe(true);
    expect(isRestoreTestDue(now, 7, new Date(now.getTime() - 6 * DAY), now)).toBe(false);
    expect(isRestoreTestDue(now, 7, new Date(now.getTime() - 7 * DAY), now)).toBe(true);
    expect(isRestoreTestDue(now, 1, new Date(now.getTime() - DAY), now)).toBe(true);
  });

  test('backup ids sort by time and are the only names accepted', () => {
    const id = backupId(new Date('2026-12-02T02:00:05Z'), 'a1b2');
    expect(id).toBe('20261202-020005-a1b2');
    expect(isBackupId(id)).toBe(true);
    for (const bad of ['../etc', '20261202-020005-A1B2', '20261202-020005-a1b2/..', '', 'x'.repeat(300)]) expect(isBackupId(bad)).toBe(false);
  });
});

describe('retention', () => {
  const now = new Date('2026-12-20T03:00:00Z');
  const nightly = (verifiedDays: number[]) =>
    Array.from({ length: 20 }, (_, i) => ({ id: `day${i + 1}`, createdAt: new Date(Date.UTC(2026, 11, i + 1, 2)), verified: verifiedDays.includes(i + 1) }));

  test('20 nightly backups verified weekly keep the last 14', () => {
    const removed = backupsToPrune(nightly([1, 8, 15]), now, 14);
    expect(removed).toEqual(['day1', 'day2', 'day3', 'day4', 'day5', 'day6']);
  });

  test('the newest verified backup is kept even when it is older than the retention: 14 plus it', () => {
    const removed = backupsToPrune(nightly([2, 6]), now, 14);
    expect(removed).toEqual(['day1', 'day2', 'day3', 'day4', 'day5']);
  });

  test('nothing is removed before any backup passed a restore test, nor anything newer than the newest that did', () => {
    expect(backupsToPrune(nightly([]), now, 14)).toEqual([]);
    expect(backupsToPrune(nightly([3]), now, 14)).toEqual(['day1', 'day2']);
  });

  test('whatever the list, the newest verified backup survives and nothing younger than the retention goes', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ age: fc.integer({ min: 0, max: 60 }), verified: fc.boolean() }), { maxLength: 40 }), fc.integer({ min: 14, max: 30 }), (list, days) => {
        const backups = list.map((b, i) => ({ id: `b${i}`, createdAt: new Date(now.getTime() - b.age * DAY - i), verified: b.verified }));
        const removed = new Set(backupsToPrune(backups, now, days));
        const newestVerified = backups.filter((b) => b.verified).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
        if (newestVerified) expect(removed.has(newestVerified.id)).toBe(false);
        for (const b of backups) if (now.getTime() - b.createdAt.getTime() < days * DAY) expect(removed.has(b.id)).toBe(false);
      }),
    );
  });
});

describe('backup file encryption', () => {
  const key = backupKey(randomBytes(32), '20261202-020000-abcd');
  const seal = async (plain: Buffer, name = 'database.dump.enc') => buffer(Readable.from([plain]).pipe(encryptingStream(key, name)));
  const open = async (sealed: Buffer, name = 'database.dump.enc', k = key) => {
    const source = new PassThrough();
    const out = buffer(source.pipe(decryptingStream(k, name)));
    source.end(sealed);
    return out;
  };

  test('any bytes, in any number of chunks, come back exactly', async () => {
    for (const size of [0, 1, BACKUP_CHUNK_BYTES - 1, BACKUP_CHUNK_BYTES, BACKUP_CHUNK_BYTES + 1, 3 * BACKUP_CHUNK_BYTES + 17]) {
      const plain = randomBytes(size);
      const sealed = await seal(plain);
      expect(sealed.includes(plain.subarray(0, 64)) && size >= 64).toBe(false);
      expect((await open(sealed)).equals(plain)).toBe(true);
    }
  });

  test('a flipped byte, a cut-off end, a dropped chunk, extra bytes, another name or another key: each fails', async () => {
    const plain = randomBytes(3 * BACKUP_CHUNK_BYTES + 5);
    const sealed = await seal(plain);
    const flipped = Buffer.from(sealed);
    flipped[BACKUP_CHUNK_BYTES + 100]! ^= 1;
    await expect(open(flipped)).rejects.toThrow(/damaged at byte/);
    await expect(open(sealed.subarray(0, sealed.length - 100))).rejects.toThrow(/truncated/);
    const chunk = 4 + BACKUP_CHUNK_BYTES + 16;
    // The whole last chunk gone: what is left ends on a chunk boundary, but no chunk says it is the last.
    await expect(open(sealed.subarray(0, 8 + 3 * chunk))).rejects.toThrow(/truncated/);
    const dropped = Buffer.concat([sealed.subarray(0, 8 + chunk), sealed.subarray(8 + 2 * chunk)]);
    await expect(open(dropped)).rejects.toThrow(/damaged at byte/);
    await expect(open(Buffer.concat([sealed, Buffer.from('extra!')]))).rejects.toThrow(/after the end/);
    await expect(open(sealed, 'base.tar.gz.enc')).rejects.toThrow(/damaged at byte 8/);
    await expect(open(sealed, 'database.dump.enc', backupKey(randomBytes(32), '20261202-020000-abcd'))).rejects.toThrow(/damaged at byte 8/);
    await expect(open(Buffer.from('not a backup at all'))).rejects.toThrow(/not a Haven backup file/);
  });

  test("the manifest's MAC refuses any change and any other key", () => {
    const text = JSON.stringify({ id: 'x', tables: { users: 3 } });
    const mac = manifestMac(key, text);
    expect(isManifestMacValid(key, text, mac)).toBe(true);
    expect(isManifestMacValid(key, text.replace('3', '4'), mac)).toBe(false);
    expect(isManifestMacValid(backupKey(randomBytes(32), 'x'), text, mac)).toBe(false);
    expect(isManifestMacValid(key, text, 'zz')).toBe(false);
  });
});
