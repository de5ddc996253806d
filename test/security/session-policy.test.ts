import { describe, expect, test } from 'vitest';
import {
  absoluteExpiry,
  secondsUntilIdleTimeout,
  SESSION_WARNING_BEFORE_MS,
  sessionState,
  type SessionTimes,
} from '../../src/security/session-policy.ts';

const LOGIN = new Date('2026-01-05T09:00:00.000Z');
const at = (ms: number) => new Date(LOGIN.getTime() + ms);
const MIN = 60_000;
const HOUR = 3_600_000;

function session(lastSeenMs = 0, maxHours = 12): SessionTimes {
  return { lastSeenAt: at(lastSeenMs), expiresAt: absoluteExpiry(LOGIN, maxHours) };
}

describe('absoluteExpiry', () => {
  test('is login time plus session_max_hours (default 12)', () => {
    expect(absoluteExpiry(LOGIN, 12)).toEqual(new Date('2026-01-05T21:00:00.000Z'));
    expect(absoluteExpiry(LOGIN, 1)).toEqual(at(HOUR));
    expect(absoluteExpiry(LOGIN, 168)).toEqual(at(168 * HOUR));
  });

  test('does not change the login date it is given', () => {
    const login = new Date(LOGIN);
    absoluteExpiry(login, 12);
    expect(login).toEqual(LOGIN);
  });
});

describe('sessionState: idle timeout', () => {
  test('default 90 minutes: 89:59 active, 90:00 idle_timeout', () => {
    const s = session();
    expect(sessionState(s, 90, at(89 * MIN + 59_000))).toBe('active');
    expect(sessionState(s, 90, at(90 * MIN - 1))).toBe('active');
    expect(sessionState(s, 90, at(90 * MIN))).toBe('idle_timeout');
    expect(sessionState(s, 90, at(90 * MIN + 1))).toBe('idle_timeout');
  });

  test('just after activity the session is active', () => {
    expect(sessionState(session(), 90, LOGIN)).toBe('active');
  });

  test('idle is measured from the last activity, not from login', () => {
    const s = session(3 * HOUR);
    expect(sessionState(s, 90, at(3 * HOUR + 89 * MIN))).toBe('active');
    expect(sessionState(s, 90, at(3 * HOUR + 90 * MIN))).toBe('idle_timeout');
  });

  test('a location rule timeout (another value) is honoured', () => {
    const s = session();
    expect(sessionState(s, 15, at(15 * MIN - 1))).toBe('active');
    expect(sessionState(s, 15, at(15 * MIN))).toBe('idle_timeout');
    expect(sessionState(s, 1440, at(11 * HOUR))).toBe('active');
  });
});

describe('sessionState: absolute lifetime', () => {
  test('an always-active session ends at its absolute expiry', () => {
    const expires = 12 * HOUR;
    const s = session(expires - MIN); // seen a minute ago
    expect(sessionState(s, 90, at(expires - 1))).toBe('active');
    expect(sessionState(s, 90, at(expires))).toBe('expired');
    expect(sessionState(s, 90, at(expires + 1))).toBe('expired');
  });

  test('expired takes precedence over idle_timeout', () => {
    const s = session(0);
    expect(sessionState(s, 90, at(13 * HOUR))).toBe('expired');
  });

  test('a long idle timeout does not extend the absolute lifetime', () => {
    expect(sessionState(session(0, 1), 1440, at(HOUR))).toBe('expired');
  });
});

describe('secondsUntilIdleTimeout', () => {
  test('counts from the full timeout down to zero', () => {
    const s = session();
    expect(secondsUntilIdleTimeout(s, 90, LOGIN)).toBe(5400);
    expect(secondsUntilIdleTimeout(s, 90, at(MIN))).toBe(5340);
    expect(secondsUntilIdleTimeout(s, 90, at(90 * MIN - 1000))).toBe(1);
    expect(secondsUntilIdleTimeout(s, 90, at(90 * MIN))).toBe(0);
  });

  test('the warning banner appears five minutes before: 300 s left at 85:00', () => {
    expect(SESSION_WARNING_BEFORE_MS).toBe(5 * MIN);
    expect(secondsUntilIdleTimeout(session(), 90, at(90 * MIN - SESSION_WARNING_BEFORE_MS))).toBe(300);
  });

  test('rounds down partial seconds (never promises more time than there is)', () => {
    expect(secondsUntilIdleTimeout(session(), 90, at(1))).toBe(5399);
    expect(secondsUntilIdleTimeout(session(), 90, at(90 * MIN - 999))).toBe(0);
  });

  test('never negative', () => {
    expect(secondsUntilIdleTimeout(session(), 90, at(5 * HOUR))).toBe(0);
    expect(secondsUntilIdleTimeout(session(), 90, at(100 * HOUR))).toBe(0);
  });

  test('capped by the absolute expiry when that comes first', () => {
    const s = session(12 * HOUR - 10 * MIN); // active 10 minutes before the absolute end
    expect(secondsUntilIdleTimeout(s, 90, at(12 * HOUR - 10 * MIN))).toBe(600);
    expect(secondsUntilIdleTimeout(s, 90, at(12 * HOUR))).toBe(0);
  });

  test('agrees with sessionState: zero exactly when the session is no longer active', () => {
    const s = session(2 * HOUR);
    for (let ms = 2 * HOUR; ms <= 12 * HOUR + MIN; ms += 7_919) {
      const now = at(ms);
      const active = sessionState(s, 90, now) === 'active';
      const left = secondsUntilIdleTimeout(s, 90, now);
      if (!active) expect(left).toBe(0);
      if (left > 0) expect(active).toBe(true);
    }
  });
});
