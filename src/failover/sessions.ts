import type { App } from '../context.ts';
import type { SessionLookup } from '../sessions/service.ts';
import { currentRing } from '../keys/records.ts';
import { newReadOnlySessionId, openReadOnlySession, sealReadOnlySession, type ReadOnlySession } from '../security/read-only-session.ts';
import { sessionState, secondsUntilIdleTimeout, absoluteExpiry } from '../security/session-policy.ts';
import { sessionRowJson, sessionAccessOf, sessionUserOf, type SessionUserRow } from '../sessions/access.ts';
import type { FirstFactor, LoginStep } from '../security/mfa.ts';
import type { SiteSettings } from '../security/site-settings.ts';
import { isReadOnly } from './state.ts';

// Sessions while the site is read-only live in their sealed cookie
// (security/read-only-session.ts), checked against the user's row on every request like any
// session: Login Active, the Login permission, the idle timeout and the absolute end. They
// work only in read-only mode: when a primary takes writes again, their holders sign in anew.

/** Session ids of read-only sessions carry this prefix (sessions/service.ts tells them apart by it). */
export const READ_ONLY_SESSION_ID = 'ro:';

// Like the database sessions' last_seen_at: renewing the cookie on every request buys nothing.
const RENEW_AFTER_MS = 15_000;

function masterKey(app: App): Buffer {
  return currentRing(app.keys).current.key;
}

function seal(app: App, session: ReadOnlySession): string {
  return sealReadOnlySession(masterKey(app), app.failover.mode.generation, session);
}

/** A new read-only session at `stage`: a fresh id, as at every login step (DESIGN §1.2). */
export function issueReadOnlySession(
  app: App,
  input: {
    userId: string;
    stage: LoginStep;
    settings: SiteSettings;
    previous?: { expiresAt: Date; authenticatedAt: Date };
    proved?: boolean;
    code?: ReadOnlySession['code'];
    firstFactor?: FirstFactor;
  },
): string {
  const now = app.clock.now();
  return seal(app, {
    sid: newReadOnlySessionId(),
    userId: input.userId,
    stage: input.stage,
    expiresAt: (input.previous?.expiresAt ?? absoluteExpiry(now, input.settings.session_max_hours)).getTime(),
    authenticatedAt: (input.proved || !input.previous ? now : input.previous.authenticatedAt).getTime(),
    lastSeenAt: now.getTime(),
    ...(input.code ? { code: input.code } : {}),
    ...(input.firstFactor && input.firstFactor !== 'password' && input.stage !== 'full' ? { firstFactor: input.firstFactor } : {}),
  });
}

/** The same read-only session with `changes` (a passkey challenge), sealed anew for its cookie. */
export function resealReadOnlySession(app: App, session: ReadOnlySession, changes: Partial<Pick<ReadOnlySession, 'challenge'>>): string {
  return seal(app, { ...session, ...changes });
}

/** Sign-out of a read-only session: this instance refuses it from now on (see docs/DECISIONS.md). */
export function endReadOnlySession(app: App, sessionId: string, expiresAt: Date): void {
  app.failover.endedSessions.set(sessionId, expiresAt);
  const now = app.clock.now();
  for (const [id, until] of app.failover.endedSessions) if (until <= now) app.failover.endedSessions.delete(id);
}

const USER_LOOKUP = `SELECT ${sessionRowJson('')} FROM users u JOIN roles r ON r.id = u.role_id WHERE u.id = $1`;

/** sessions/service.ts `lookupSession` for a read-only session's token. */
export async function lookupReadOnlySession(app: App, token: string, options: { touch: boolean; ip?: string }): Promise<SessionLookup> {
  if (!isReadOnly(app)) return { ok: false, reason: 'expired' };
  const session = openReadOnlySession(masterKey(app), app.failover.mode.generation, token);
  if (!session) return { ok: false, reason: 'unknown' };
  const id = `${READ_ONLY_SESSION_ID}${session.sid}`;
  if (app.failover.endedSessions.has(id)) return { ok: false, reason: 'unknown' };
  const row = (await app.database.prepared<{ row: SessionUserRow }>('haven_read_only_session_user_v3', USER_LOOKUP, [session.userId]))[0]?.row;
  if (!row) return { ok: false, reason: 'unknown' };
  const now = app.clock.now();
  // The address is checked on every request; a move is not audited (nothing can be written).
  const access = sessionAccessOf(row, options.ip);
  const times = { lastSeenAt: new Date(session.lastSeenAt), expiresAt: new Date(session.expiresAt) };
  const state = sessionState(times, access.idleTimeoutMinutes, now);
  if (state !== 'active' || access.refusal) return { ok: false, reason: access.refusal ?? state };
  let renewedToken: string | undefined;
  if (options.touch && now.getTime() - session.lastSeenAt >= RENEW_AFTER_MS) {
    renewedToken = seal(app, { ...session, lastSeenAt: now.getTime() });
    times.lastSeenAt = now;
  }
  return {
    ok: true,
    renewedToken,
    session: {
      id,
      stage: session.stage,
      user: sessionUserOf(session.userId, row),
      permissions: access.permissions,
      location: { kind: access.location.kind, networkName: access.location.network?.name ?? null },
      caseScope: { offices: row.offices, programs: row.programs },
      idleTimeoutMinutes: access.idleTimeoutMinutes,
      expiresAt: times.expiresAt,
      authenticatedAt: new Date(session.authenticatedAt),
      passwordConfirmedAt: null,
      secondsUntilTimeout: secondsUntilIdleTimeout(times, access.idleTimeoutMinutes, now),
      readOnly: session,
    },
  };
}
