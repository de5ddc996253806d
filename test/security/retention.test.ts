import { describe, expect, test } from 'vitest';
import { CODE_MAIL_WINDOW_MS, pruneCutoffs } from '../../src/security/retention.ts';
import { sessionState } from '../../src/security/session-policy.ts';
import { isDeviceTrusted, isEmailCodeUsable } from '../../src/security/mfa.ts';
import { SESSION_TIMEOUT_MAX_MINUTES } from '../../src/security/site-settings.ts';
import { rateWindowStart } from '../../src/security/api-tokens.ts';

// Deleting a record must change no answer: at each cutoff the record's own rule already refuses
// it, and one millisecond later it still accepts it.
const now = new Date('2026-11-30T12:00:00Z');
const cut = pruneCutoffs(now);
const plus1 = (d: Date) => new Date(d.getTime() + 1);
const farFuture = new Date('2100-01-01T00:00:00Z');

describe('pruneCutoffs', () => {
  test('sessions: idle since the cutoff is dead under the longest allowed timeout; a millisecond later it is not', () => {
    expect(sessionState({ lastSeenAt: cut.sessionsLastSeenBy, expiresAt: farFuture }, SESSION_TIMEOUT_MAX_MINUTES, now)).toBe('idle_timeout');
    expect(sessionState({ lastSeenAt: plus1(cut.sessionsLastSeenBy), expiresAt: farFuture }, SESSION_TIMEOUT_MAX_MINUTES, now)).toBe('active');
    expect(now.getTime() - cut.sessionsLastSeenBy.getTime()).toBe(24 * 3600_000);
  });

  test('sessions: an absolute lifetime ending at the cutoff is over; a millisecond later it is not', () => {
    expect(sessionState({ lastSeenAt: now, expiresAt: cut.sessionsExpiredBy }, 90, now)).toBe('expired');
    expect(sessionState({ lastSeenAt: now, expiresAt: plus1(cut.sessionsExpiredBy) }, 90, now)).toBe('active');
  });

  test('e-mailed codes: expiring at the cutoff is unusable; a millisecond later it is usable', () => {
    expect(isEmailCodeUsable({ expiresAt: cut.emailCodesExpiredBy, usedAt: null }, now)).toBe(false);
    expect(isEmailCodeUsable({ expiresAt: plus1(cut.emailCodesExpiredBy), usedAt: null }, now)).toBe(true);
  });

  test('e-mailed codes are kept an hour after they were sent: the hourly limit on code e-mails counts them', () => {
    expect(now.getTime() - cut.emailCodesSentBy.getTime()).toBe(CODE_MAIL_WINDOW_MS);
    expect(CODE_MAIL_WINDOW_MS).toBe(3_600_000);
  });

  test('remembered devices: a last login at the cutoff is no longer trusted; a millisecond later it is', () => {
    expect(isDeviceTrusted(cut.trustedDevicesLastLoginBy, now)).toBe(false);
    expect(isDeviceTrusted(plus1(cut.trustedDevicesLastLoginBy), now)).toBe(true);
  });

  test('API rate windows: one started at the cutoff is a past minute (a call now starts afresh); a millisecond later it is this minute', () => {
    expect(rateWindowStart(now).getTime()).toBeGreaterThan(cut.apiRateWindowsStartedBy.getTime());
    expect(rateWindowStart(now)).toEqual(plus1(cut.apiRateWindowsStartedBy));
  });

  test('setup links: expired by now', () => {
    expect(cut.setupTokensExpiredBy).toEqual(now);
  });
});
