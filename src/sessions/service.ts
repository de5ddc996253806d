import { and, eq, ne, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Db, Tx } from '../db/client.ts';
import { sessions } from '../db/schema.ts';
import { generateSecretToken, hashToken } from '../security/tokens.ts';
import { absoluteExpiry, secondsUntilIdleTimeout, sessionState, type SessionState } from '../security/session-policy.ts';
import { getSiteSettings } from '../settings/service.ts';
import type { SiteSettings } from '../security/site-settings.ts';
import type { LoginStep } from '../security/mfa.ts';
import type { NetworkKind } from '../security/permissions.ts';
import { networkOf } from '../security/locations.ts';
import { sessionRowJson, sessionAccessOf, sessionUserOf, type SessionAccess, type SessionUserRow } from './access.ts';
import { recordAudit } from '../audit/service.ts';
import { READ_ONLY_TOKEN_PREFIX, type ReadOnlySession } from '../security/read-only-session.ts';
import { firstFactorOf, type FirstFactor } from '../security/mfa.ts';
import { endReadOnlySession, lookupReadOnlySession, READ_ONLY_SESSION_ID } from '../failover/sessions.ts';
import { isReadOnly } from '../failover/state.ts';

export { SESSION_COOKIE } from '../web/cookies.ts';

export type SessionStage = LoginStep;

export interface SessionContext {
  id: string;
  stage: SessionStage;
  user: { id: string; login: string; fullName: string; email: string; roleId: string; roleName: string };
  /** The permissions that apply where this request comes from (security/locations.ts). */
  permissions: string[];
  /** Where this request comes from: the kind of network and its name, if it is in one. */
  location: { kind: NetworkKind; networkName: string | null };
  /** The offices and programs whose cases this user is limited to (empty: not limited). */
  caseScope: { offices: string[]; programs: string[] };
  idleTimeoutMinutes: number;
  expiresAt: Date;
  /** When the user last proved every factor they have in this session (login or re-authentication). */
  authenticatedAt: Date;
  /** Re-authentication in progress: when the password was confirmed, the factor still to come. */
  passwordConfirmedAt: Date | null;
  secondsUntilTimeout: number;
  /** A read-only session's sealed contents (failover/sessions.ts): its e-mailed code or passkey challenge. */
  readOnly?: ReadOnlySession;
}

export type SessionLookup =
  /** renewedToken: a read-only session's cookie, renewed (its last activity travels in it). */
  | { ok: true; session: SessionContext; renewedToken?: string }
  | { ok: false; reason: SessionState | 'unknown' | 'inactive' | 'no_login_permission' };

// Writing last_seen_at on every request would make every page a write; a quarter of a minute
// of imprecision in a 90-minute idle timeout costs nothing.
const TOUCH_AFTER_MS = 15_000;

const SESSION_LOOKUP = `
  SELECT ${sessionRowJson(`'id', s.id, 'stage', s.stage, 'last_seen_at', s.last_seen_at, 'expires_at', s.expires_at, 'authenticated_at', s.authenticated_at,
         'password_confirmed_at', s.password_confirmed_at, 'session_ip', s.ip, 'user_id', u.id`)}
    FROM sessions s JOIN users u ON u.id = s.user_id JOIN roles r ON r.id = u.role_id
   WHERE s.id = $1`;

interface SessionRow extends SessionUserRow {
  id: string;
  stage: SessionStage;
  last_seen_at: string;
  expires_at: string;
  authenticated_at: string;
  password_confirmed_at: string | null;
  session_ip: string | null;
  user_id: string;
}

/**
 * Resolves a session cookie in one database round trip (a prepared statement): the session,
 * its user's Login Active flag, the role's permissions and the idle timeout. Login Active and
 * the Login permission are checked on every request, so that taking either away ends every
 * session at its next request. last_seen_at is written only when it is older than
 * TOUCH_AFTER_MS, and never when `touch` is false (a page asking how long it has left is not
 * activity).
 */
export async function lookupSession(app: App, token: string, options: { touch: boolean; ip?: string } = { touch: true }): Promise<SessionLookup> {
  if (token.startsWith(READ_ONLY_TOKEN_PREFIX)) return lookupReadOnlySession(app, token, options);
  const id = hashToken(token);
  // Read-only mode: the standby takes no writes, so an ended session is refused but not
  // deleted, and activity is not recorded (the idle timeout still counts from the last write).
  const readOnly = isReadOnly(app);
  if (readOnly && app.failover.endedSessions.has(id)) return { ok: false, reason: 'unknown' };
  const now = app.clock.now();
  const staleBefore = new Date(now.getTime() - TOUCH_AFTER_MS);
  const row = (await app.database.prepared<{ row: SessionRow }>('haven_session_lookup_v5', SESSION_LOOKUP, [id]))[0]?.row;
  if (!row) return { ok: false, reason: 'unknown' };
  const ip = options.ip ?? row.session_ip;
  const access = sessionAccessOf(row, ip);
  const times = { lastSeenAt: new Date(row.last_seen_at), expiresAt: new Date(row.expires_at) };
  const state = sessionState(times, access.idleTimeoutMinutes, now);
  const moved = !readOnly && state === 'active' && row.login_active ? await noteNetworkMove(app, row, ip, access) : false;
  if (state !== 'active' || access.refusal) {
    if (!readOnly && !moved) await app.db.delete(sessions).where(eq(sessions.id, id));
    return { ok: false, reason: access.refusal ?? state };
  }
  let effectiveLastSeen = times.lastSeenAt;
  if (options.touch && !readOnly && times.lastSeenAt < staleBefore) {
    await app.db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, id));
    effectiveLastSeen = now;
  }
  return {
    ok: true,
    session: {
      id,
      stage: row.stage,
      user: sessionUserOf(row.user_id, row),
      permissions: access.permissions,
      location: { kind: access.location.kind, networkName: access.location.network?.name ?? null },
      caseScope: { offices: row.offices, programs: row.programs },
      idleTimeoutMinutes: access.idleTimeoutMinutes,
      expiresAt: times.expiresAt,
      authenticatedAt: new Date(row.authenticated_at),
      passwordConfirmedAt: row.password_confirmed_at === null ? null : new Date(row.password_confirmed_at),
      secondsUntilTimeout: secondsUntilIdleTimeout({ lastSeenAt: effectiveLastSeen, expiresAt: times.expiresAt }, access.idleTimeoutMinutes, now),
    },
  };
}

/**
 * A session whose address is now in another network (DESIGN §1.6) is re-evaluated: the
 * request gets the new network's permission set and timeout, the move is audited, and the
 * session's address becomes the new one. Where a login would be refused, the session ends
 * here (deleted in the same transaction; true is returned). Moves within a network are not
 * recorded: the session keeps the address it signed in from.
 */
async function noteNetworkMove(app: App, row: SessionRow, ip: string | null, access: SessionAccess): Promise<boolean> {
  if (!ip || ip === row.session_ip) return false;
  const before = networkOf(row.session_ip, access.rules);
  const after = access.location.network;
  if ((before?.id ?? null) === (after?.id ?? null)) return false;
  const ended = !access.mayLogIn;
  await app.db.transaction(async (tx) => {
    if (ended) await tx.delete(sessions).where(eq(sessions.id, row.id));
    else await tx.update(sessions).set({ ip }).where(eq(sessions.id, row.id));
    await recordAudit(
      app,
      {
        action: 'session.network_changed',
        actor: { id: row.user_id, login: row.login },
        target: row.login,
        ip,
        details: { from: before?.name ?? null, to: after?.name ?? null, kind: access.location.kind, ended },
      },
      tx,
    );
  });
  return ended;
}

/** What a new session id inherits from the one it replaces; unset at the password step. */
export interface SessionLineage {
  /** The absolute end, fixed at the password step. */
  expiresAt: Date;
  /** When every factor was last proved. */
  authenticatedAt: Date;
  /** An SSO identity waiting to be linked when this login reaches its last step (sso/links.ts). */
  pendingSsoLink?: string | null;
  /** How this login's first factor was proved (security/mfa.ts), for the steps still to come. */
  firstFactor?: FirstFactor;
}

/**
 * Starts a brand-new session (a fresh random id: a pre-login id is never promoted). A rotation
 * passes `lineage`, so that the absolute lifetime still counts from the password step and a
 * chain of rotations cannot keep a session alive for ever.
 */
export async function createSession(
  app: App,
  tx: Tx,
  input: {
    userId: string;
    stage: SessionStage;
    client: { ip: string; userAgent?: string };
    settings: SiteSettings;
    lineage?: SessionLineage;
    authenticatedAt?: Date;
    pendingSsoLink?: string | null;
    firstFactor?: FirstFactor;
  },
): Promise<string> {
  const token = generateSecretToken();
  const now = app.clock.now();
  await tx.insert(sessions).values({
    id: hashToken(token),
    userId: input.userId,
    stage: input.stage,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: input.lineage?.expiresAt ?? absoluteExpiry(now, input.settings.session_max_hours),
    authenticatedAt: input.authenticatedAt ?? input.lineage?.authenticatedAt ?? now,
    ip: input.client.ip,
    userAgent: input.client.userAgent?.slice(0, 400),
    pendingSsoLink: input.stage === 'full' ? null : (input.pendingSsoLink ?? input.lineage?.pendingSsoLink ?? null),
    firstFactor: input.firstFactor ?? input.lineage?.firstFactor ?? 'password',
  });
  return token;
}

/** The lineage of an existing session, to carry into the id that replaces it. */
export async function sessionLineage(tx: Db, sessionId: string): Promise<SessionLineage | undefined> {
  const [row] = await tx.select({ expiresAt: sessions.expiresAt, authenticatedAt: sessions.authenticatedAt }).from(sessions).where(eq(sessions.id, sessionId));
  return row;
}

export async function endSession(app: App, session: { id: string; expiresAt: Date }): Promise<void> {
  if (session.id.startsWith(READ_ONLY_SESSION_ID)) return endReadOnlySession(app, session.id, session.expiresAt);
  // Read-only mode: a database session's row stays until a primary takes writes; this instance
  // refuses it meanwhile, like a read-only session signed out.
  if (isReadOnly(app)) return endReadOnlySession(app, session.id, session.expiresAt);
  await app.db.delete(sessions).where(eq(sessions.id, session.id));
}

/** Ends every other session of the user, e.g. after a password change. */
export async function endOtherSessions(tx: Db, userId: string, keepSessionId: string): Promise<void> {
  await tx.delete(sessions).where(and(eq(sessions.userId, userId), ne(sessions.id, keepSessionId)));
}

/** "Extend Login": the session counts as active now; returns the seconds it has left. */
export async function extendSession(app: App, session: SessionContext): Promise<number> {
  const now = app.clock.now();
  await app.db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, session.id));
  return secondsUntilIdleTimeout({ lastSeenAt: now, expiresAt: session.expiresAt }, session.idleTimeoutMinutes, now);
}

/**
 * Takes this session's pending value of a one-time column (read and cleared in one statement),
 * so that two requests racing for it cannot both have it.
 */
export async function takeSessionValue(app: App, sessionId: string, column: 'webauthn_challenge' | 'recovery_codes_sealed' | 'new_api_token_sealed'): Promise<string | null> {
  const rows = await app.database.rows<{ value: string | null }>(sql`
    UPDATE sessions s SET ${sql.identifier(column)} = NULL
      FROM (SELECT id, ${sql.identifier(column)} AS value FROM sessions WHERE id = ${sessionId} FOR UPDATE) old
     WHERE s.id = old.id AND old.value IS NOT NULL
    RETURNING old.value`);
  return rows[0]?.value ?? null;
}

/**
 * Replaces a session's id with a new one at the same step (a privilege change that is not a
 * login step: a re-authentication). The absolute end is carried over; `proved` renews
 * authenticated_at. Returns the new token, or null if the session is gone.
 */
export async function rotateSession(app: App, tx: Tx, sessionId: string, input: { client: { ip: string; userAgent?: string }; proved: boolean }): Promise<string | null> {
  const [old] = await tx
    .delete(sessions)
    .where(eq(sessions.id, sessionId))
    .returning({
      userId: sessions.userId,
      stage: sessions.stage,
      expiresAt: sessions.expiresAt,
      authenticatedAt: sessions.authenticatedAt,
      pendingSsoLink: sessions.pendingSsoLink,
      firstFactor: sessions.firstFactor,
    });
  if (!old) return null;
  const settings = await getSiteSettings(app, tx);
  return createSession(app, tx, {
    userId: old.userId,
    stage: old.stage as SessionStage,
    client: input.client,
    settings,
    lineage: { expiresAt: old.expiresAt, authenticatedAt: old.authenticatedAt, pendingSsoLink: old.pendingSsoLink, firstFactor: firstFactorOf(old.firstFactor) },
    authenticatedAt: input.proved ? app.clock.now() : undefined,
  });
}

/** Re-authentication, first half: the password is confirmed; the factor must follow soon. */
export async function markPasswordConfirmed(app: App, sessionId: string): Promise<void> {
  await app.db.update(sessions).set({ passwordConfirmedAt: app.clock.now() }).where(eq(sessions.id, sessionId));
}

/** Keeps a sealed value (new recovery codes, a new API token) in the session's row until it is taken. */
export async function putSessionValue(tx: Db, sessionId: string, sealed: string, column: 'recovery_codes_sealed' | 'new_api_token_sealed' = 'recovery_codes_sealed'): Promise<void> {
  await tx
    .update(sessions)
    .set(column === 'recovery_codes_sealed' ? { recoveryCodesSealed: sealed } : { newApiTokenSealed: sealed })
    .where(eq(sessions.id, sessionId));
}
