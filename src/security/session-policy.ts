// When a server-side session stops being valid (DESIGN §1.2).

export const SESSION_WARNING_BEFORE_MS = 5 * 60_000;

export interface SessionTimes {
  lastSeenAt: Date;
  expiresAt: Date;
}

export type SessionState = 'active' | 'idle_timeout' | 'expired';

export function sessionState(session: SessionTimes, idleTimeoutMinutes: number, now: Date): SessionState {
  if (now.getTime() >= session.expiresAt.getTime()) return 'expired';
  if (now.getTime() - session.lastSeenAt.getTime() >= idleTimeoutMinutes * 60_000) return 'idle_timeout';
  return 'active';
}

export function absoluteExpiry(loginAt: Date, maxHours: number): Date {
  return new Date(loginAt.getTime() + maxHours * 3_600_000);
}

/** Seconds until the idle timeout, as the page's warning banner counts them. */
export function secondsUntilIdleTimeout(session: SessionTimes, idleTimeoutMinutes: number, now: Date): number {
  const idleEnd = session.lastSeenAt.getTime() + idleTimeoutMinutes * 60_000;
  return Math.max(0, Math.floor((Math.min(idleEnd, session.expiresAt.getTime()) - now.getTime()) / 1000));
}
