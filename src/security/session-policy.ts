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

/** Changing one's MFA needs the password (and current factor) proved this recently (DESIGN §1.3 beyond). */
export const REAUTH_WINDOW_MS = 5 * 60_000;

/** Whether a re-authentication (or the login) at `authenticatedAt` still covers a sensitive change now. */
export function isRecentlyAuthenticated(authenticatedAt: Date | null, now: Date): boolean {
  if (!authenticatedAt) return false;
  const age = now.getTime() - authenticatedAt.getTime();
  return age >= 0 && age < REAUTH_WINDOW_MS;
}
