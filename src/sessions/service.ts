import { and, eq, ne } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Db } from '../db/client.ts';
import { sessions } from '../db/schema.ts';
import { generateSecretToken, hashToken } from '../security/tokens.ts';
import { absoluteExpiry, secondsUntilIdleTimeout, sessionState, type SessionState } from '../security/session-policy.ts';
import { getSiteSettings } from '../settings/service.ts';
import type { SiteSettings } from '../security/site-settings.ts';
import type { LoginStep } from '../security/mfa.ts';

export const SESSION_COOKIE = '__Host-haven_session';

export type SessionStage = LoginStep;

export interface SessionContext {
  id: string;
  stage: SessionStage;
  user: { id: string; login: string; fullName: string; email: string; roleId: string; roleName: string };
  /** The role's permission set that applies to this session (internal until locations exist). */
  permissions: string[];
  idleTimeoutMinutes: number;
  expiresAt: Date;
  secondsUntilTimeout: number;
}

export type SessionLookup = { ok: true; session: SessionContext } | { ok: false; reason: SessionState | 'unknown' | 'inactive' };

// Writing last_seen_at on every request would make every page a write; a quarter of a minute
// of imprecision in a 90-minute idle timeout costs nothing.
const TOUCH_AFTER_MS = 15_000;

const SESSION_LOOKUP = `
  SELECT s.id, s.stage, s.last_seen_at, s.expires_at, u.id AS user_id, u.login, u.full_name, u.email,
         u.login_active, r.id AS role_id, r.name AS role_name, r.internal_permissions,
         COALESCE((SELECT value::int FROM site_settings WHERE key = 'session_timeout_minutes'), 90) AS timeout_minutes
    FROM sessions s JOIN users u ON u.id = s.user_id JOIN roles r ON r.id = u.role_id
   WHERE s.id = $1`;

interface SessionRow {
  id: string;
  stage: SessionStage;
  last_seen_at: string | Date;
  expires_at: string | Date;
  user_id: string;
  login: string;
  full_name: string;
  email: string;
  login_active: boolean;
  role_id: string;
  role_name: string;
  internal_permissions: string[];
  timeout_minutes: number;
}

/**
 * Resolves a session cookie in one database round trip (a prepared statement): the session,
 * its user's Login Active flag, the role's permissions and the idle timeout. last_seen_at is
 * written only when it is older than TOUCH_AFTER_MS, so most requests read and never write.
 */
export async function lookupSession(app: App, token: string): Promise<SessionLookup> {
  const id = hashToken(token);
  const now = app.clock.now();
  const staleBefore = new Date(now.getTime() - TOUCH_AFTER_MS);
  const rows = await app.database.prepared<SessionRow>('haven_session_lookup', SESSION_LOOKUP, [id]);
  const row = rows[0];
  if (!row) return { ok: false, reason: 'unknown' };
  const times = { lastSeenAt: new Date(row.last_seen_at), expiresAt: new Date(row.expires_at) };
  const state = sessionState(times, row.timeout_minutes, now);
  if (state !== 'active' || !row.login_active) {
    await app.db.delete(sessions).where(eq(sessions.id, id));
    return { ok: false, reason: row.login_active ? state : 'inactive' };
  }
  let effectiveLastSeen = times.lastSeenAt;
  if (times.lastSeenAt < staleBefore) {
    await app.db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, id));
    effectiveLastSeen = now;
  }
  return {
    ok: true,
    session: {
      id,
      stage: row.stage,
      user: { id: row.user_id, login: row.login, fullName: row.full_name, email: row.email, roleId: row.role_id, roleName: row.role_name },
      permissions: row.internal_permissions,
      idleTimeoutMinutes: row.timeout_minutes,
      expiresAt: times.expiresAt,
      secondsUntilTimeout: secondsUntilIdleTimeout({ lastSeenAt: effectiveLastSeen, expiresAt: times.expiresAt }, row.timeout_minutes, now),
    },
  };
}

/** Starts a brand-new session (a fresh random id: a pre-login id is never promoted). */
export async function createSession(
  app: App,
  userId: string,
  stage: SessionStage,
  client: { ip: string; userAgent?: string },
  tx: Db = app.db,
  settings?: SiteSettings,
): Promise<string> {
  const token = generateSecretToken();
  const now = app.clock.now();
  const { session_max_hours } = settings ?? (await getSiteSettings(app, tx));
  await tx.insert(sessions).values({
    id: hashToken(token),
    userId,
    stage,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: absoluteExpiry(now, session_max_hours),
    ip: client.ip,
    userAgent: client.userAgent?.slice(0, 400),
  });
  return token;
}

export async function endSession(app: App, sessionId: string): Promise<void> {
  await app.db.delete(sessions).where(eq(sessions.id, sessionId));
}

/** Ends every other session of the user, e.g. after a password change. */
export async function endOtherSessions(app: App, userId: string, keepSessionId: string, tx: Db = app.db): Promise<void> {
  await tx.delete(sessions).where(and(eq(sessions.userId, userId), ne(sessions.id, keepSessionId)));
}
