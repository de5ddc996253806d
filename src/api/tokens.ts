import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Db, Tx } from '../db/client.ts';
import { apiTokens } from '../db/schema.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { hashToken } from '../security/tokens.ts';
import { API_TOKENS_PER_USER, checkTokenForm, newApiToken, rateVerdict, rateWindowStart, tokenExpiry } from '../security/api-tokens.ts';
import { hasPermission } from '../security/permissions.ts';
import { sessionRowJson, sessionAccessOf, sessionUserOf, type SessionUserRow } from '../sessions/access.ts';
import type { SessionContext } from '../sessions/service.ts';
import { isReadOnly } from '../failover/state.ts';

export interface ApiTokenRow {
  id: string;
  name: string;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  revokedAt: Date | null;
}

export function listApiTokens(app: App, userId: string): Promise<ApiTokenRow[]> {
  return app.db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      createdAt: apiTokens.createdAt,
      expiresAt: apiTokens.expiresAt,
      lastUsedAt: apiTokens.lastUsedAt,
      lastUsedIp: apiTokens.lastUsedIp,
      revokedAt: apiTokens.revokedAt,
    })
    .from(apiTokens)
    .where(eq(apiTokens.userId, userId))
    .orderBy(desc(apiTokens.createdAt));
}

/**
 * Creates a personal access token for the signed-in user. The token itself is returned once,
 * for the caller to show; only its hash is stored. Audited with its name and expiry.
 */
export async function createApiToken(
  app: App,
  user: Actor,
  input: { token_name: string; expires_in_days: string },
  ip: string,
): Promise<{ ok: true; token: string; id: string } | { ok: false; errors: Record<string, string> }> {
  const now = app.clock.now();
  const existing = await listApiTokens(app, user.id);
  const live = existing.filter((t) => !t.revokedAt && t.expiresAt > now);
  const checked = checkTokenForm(input, live.map((t) => t.name));
  if (!checked.ok) return checked;
  if (live.length >= API_TOKENS_PER_USER) return { ok: false, errors: { token_name: `You have ${API_TOKENS_PER_USER} tokens already: revoke one you no longer use first.` } };
  const token = newApiToken();
  const expiresAt = tokenExpiry(now, checked.days);
  const id = await app.db.transaction(async (tx) => {
    const [row] = await tx.insert(apiTokens).values({ userId: user.id, name: checked.name, tokenHash: hashToken(token), createdAt: now, expiresAt }).returning({ id: apiTokens.id });
    await recordAudit(app, { action: 'api.token_created', actor: user, target: checked.name, ip, details: { expiresAt: expiresAt.toISOString() } }, tx);
    return row!.id;
  });
  return { ok: true, token, id };
}

/** Revokes one of the user's own tokens; false if they have no such live token. */
export async function revokeApiToken(app: App, user: Actor, tokenId: string, ip: string): Promise<boolean> {
  return app.db.transaction(async (tx) => {
    const [row] = await tx
      .update(apiTokens)
      .set({ revokedAt: app.clock.now() })
      .where(and(eq(apiTokens.id, tokenId), eq(apiTokens.userId, user.id), isNull(apiTokens.revokedAt)))
      .returning({ name: apiTokens.name });
    if (!row) return false;
    await recordAudit(app, { action: 'api.token_revoked', actor: user, target: row.name, ip }, tx);
    return true;
  });
}

/** Every live token of a user ends (deactivation), in the caller's transaction. */
export async function revokeApiTokensOf(app: App, tx: Tx | Db, userId: string): Promise<void> {
  await tx.update(apiTokens).set({ revokedAt: app.clock.now() }).where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)));
}

const TOKEN_LOOKUP = `
  SELECT ${sessionRowJson(`'token_id', t.id, 'token_name', t.name, 'expires_at', t.expires_at, 'revoked_at', t.revoked_at, 'created_at', t.created_at, 'user_id', u.id`)}
    FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN roles r ON r.id = u.role_id
   WHERE t.token_hash = $1`;

interface TokenRow extends SessionUserRow {
  token_id: string;
  token_name: string;
  expires_at: string;
  revoked_at: string | null;
  created_at: string;
  user_id: string;
}

export type ApiTokenRefusal = 'unknown' | 'revoked' | 'expired' | 'inactive' | 'no_login_permission' | 'no_api_access';

export type ApiTokenLookup =
  | { ok: true; session: SessionContext; token: { id: string; name: string } }
  | { ok: false; reason: ApiTokenRefusal; token?: { id: string; name: string }; user?: Actor };

/**
 * Resolves a bearer token like a session cookie, in one prepared statement: the token, its
 * user's Login Active flag, the role's two sets and the networks. A token works only while it
 * is live, the user is active, and the user's role grants the Login permission and API Access
 * for where the call comes from (DESIGN §1.6, §1.7). It never passes through the MFA step.
 */
export async function lookupApiToken(app: App, token: string, ip: string): Promise<ApiTokenLookup> {
  const row = (await app.database.prepared<{ row: TokenRow }>('haven_api_token_lookup_v2', TOKEN_LOOKUP, [hashToken(token)]))[0]?.row;
  if (!row) return { ok: false, reason: 'unknown' };
  const who = { token: { id: row.token_id, name: row.token_name }, user: { id: row.user_id, login: row.login } };
  const now = app.clock.now();
  if (row.revoked_at !== null) return { ok: false, reason: 'revoked', ...who };
  if (new Date(row.expires_at) <= now) return { ok: false, reason: 'expired', ...who };
  const access = sessionAccessOf(row, ip);
  if (access.refusal) return { ok: false, reason: access.refusal, ...who };
  if (!hasPermission(access.permissions, 'api_access')) return { ok: false, reason: 'no_api_access', ...who };
  const expiresAt = new Date(row.expires_at);
  return {
    ok: true,
    token: who.token,
    session: {
      id: `api:${row.token_id}`,
      stage: 'full',
      user: sessionUserOf(row.user_id, row),
      permissions: access.permissions,
      location: { kind: access.location.kind, networkName: access.location.network?.name ?? null },
      caseScope: { offices: row.offices, programs: row.programs },
      idleTimeoutMinutes: access.idleTimeoutMinutes,
      expiresAt,
      authenticatedAt: new Date(row.created_at),
      passwordConfirmedAt: null,
      secondsUntilTimeout: Math.max(0, Math.floor((expiresAt.getTime() - now.getTime()) / 1000)),
    },
  };
}

/**
 * Counts a call against its token's and its address's one-minute windows, and notes the
 * token's last use, in one statement. Over either limit: the seconds until the window ends.
 * Read-only mode cannot count (nothing is written); calls are not limited there.
 */
export async function chargeApiCall(app: App, tokenId: string, ip: string): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> {
  if (isReadOnly(app)) return { ok: true };
  const now = app.clock.now();
  const windowStart = rateWindowStart(now);
  const tokenKey = `token:${tokenId}`;
  const rows = await app.database.rows<{ key: string; calls: number }>(sql`
    WITH counted AS (
      INSERT INTO api_rate_windows AS w (key, window_start, calls)
      VALUES (${tokenKey}, ${windowStart.toISOString()}, 1), (${`ip:${ip}`}, ${windowStart.toISOString()}, 1)
      ON CONFLICT (key) DO UPDATE
        SET calls = CASE WHEN w.window_start = EXCLUDED.window_start THEN w.calls + 1 ELSE 1 END,
            window_start = EXCLUDED.window_start
      RETURNING w.key, w.calls),
    used AS (UPDATE api_tokens SET last_used_at = ${now.toISOString()}, last_used_ip = ${ip} WHERE id = ${tokenId})
    SELECT key, calls FROM counted`);
  for (const row of rows) {
    const limit = row.key === tokenKey ? app.config.apiRateLimits.perToken : app.config.apiRateLimits.perAddress;
    const verdict = rateVerdict(row.calls, limit, windowStart, now);
    if (!verdict.ok) return verdict;
  }
  return { ok: true };
}
