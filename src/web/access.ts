import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { App } from '../context.ts';
import { isPermission, hasPermission, type Permission } from '../security/permissions.ts';
import { isApiRequest, sendErrorPage } from './errors.tsx';
import { lookupSession, type SessionContext, type SessionStage } from '../sessions/service.ts';
import { clearSessionCookie, SESSION_COOKIE, setSessionCookie } from './cookies.ts';
import { chargeApiCall, lookupApiToken, type ApiTokenRefusal } from '../api/tokens.ts';
import { bearerToken } from '../security/api-tokens.ts';
import { recordAudit } from '../audit/service.ts';

/**
 * Who may call a route, declared in the route's own options (`config.access`):
 * - 'public': anyone;
 * - 'signed-in': a session past every login step;
 * - 'any-session': any session, at whatever login step (log out, extend);
 * - 'mfa-challenge': a session whose next step is the MFA code (/login/mfa);
 * - 'password-change': a session that must change its password, or a full one;
 * - 'mfa-enrolment': a session that must enrol in MFA, or a full one;
 * - a Permission: a full session whose role grants it.
 */
export type Access = 'public' | 'signed-in' | 'any-session' | 'mfa-challenge' | 'password-change' | 'mfa-enrolment' | Permission;

const STEP_ACCESS = ['any-session', 'mfa-challenge', 'password-change', 'mfa-enrolment'] as const;

/** Where a session at each unfinished login step is sent, whatever it asked for. */
export const STEP_PAGES: Record<Exclude<SessionStage, 'full'>, string> = {
  mfa: '/login/mfa',
  password_change: '/password/change',
  mfa_enrol: '/mfa/enrol',
};

/** Which sessions a step-level access admits. */
function admits(access: (typeof STEP_ACCESS)[number], stage: SessionStage): boolean {
  switch (access) {
    case 'any-session':
      return true;
    case 'mfa-challenge':
      return stage === 'mfa';
    case 'password-change':
      return stage === 'password_change' || stage === 'full';
    case 'mfa-enrolment':
      return stage === 'mfa_enrol' || stage === 'full';
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /** false: a request to this route is not the user's activity (it does not keep the session alive). */
    activity?: boolean;
    /**
     * An API route (`/api/v1`): callers authenticate with a personal access token
     * (`Authorization: Bearer`), never with the session cookie, and every answer is JSON.
     */
    api?: boolean;
  }
  interface FastifyRequest {
    session: SessionContext | null;
    /** Why the session cookie that came with the request no longer works, if it did not. */
    sessionEnded: string | null;
    /** The personal access token an API call came with (its user is `session`). */
    apiToken: { id: string; name: string } | null;
  }
}

function describe(route: RouteOptions): string {
  return `${Array.isArray(route.method) ? route.method.join(',') : route.method} ${route.url}`;
}

/** A route without an access declaration is a boot failure, not a hole. */
export function assertAccessDeclared(route: RouteOptions): void {
  const access = route.config?.access as unknown;
  const valid =
    access === 'public' ||
    access === 'signed-in' ||
    (STEP_ACCESS as readonly unknown[]).includes(access) ||
    (typeof access === 'string' && isPermission(access));
  if (!valid) throw new Error(`Route ${describe(route)} does not declare who may call it (config.access).`);
}

/** A browser navigating or submitting a form (as opposed to a script asking for JSON). */
function isBrowserNavigation(request: FastifyRequest): boolean {
  return !(request.headers.accept ?? '').includes('application/json');
}

function sendToLogin(request: FastifyRequest, reply: FastifyReply, reason?: string) {
  if (!isBrowserNavigation(request)) return reply.code(401).send({ error: 'session_ended', ...(reason ? { reason } : {}) });
  // A form submitted after the session ended goes to the login page, not to a dead end.
  const params = new URLSearchParams({ next: request.method === 'GET' ? request.url : '/' });
  if (reason) params.set('reason', reason);
  return reply.redirect(`/login?${params}`, 303);
}

function sendToStep(request: FastifyRequest, reply: FastifyReply, stage: Exclude<SessionStage, 'full'>) {
  if (!isBrowserNavigation(request)) return reply.code(403).send({ error: `${stage}_required` });
  return reply.redirect(STEP_PAGES[stage], 303);
}

export interface DeclaredRoute {
  method: string;
  url: string;
  access: Access;
  /** The route's declared input schemas (zod): what the fuzz tests feed. */
  schema: { body?: unknown; querystring?: unknown; params?: unknown };
}

const declaredRoutes = new WeakMap<FastifyInstance, DeclaredRoute[]>();

/** Every route with its declared access: what the access tests walk through. */
export function accessTable(server: FastifyInstance): DeclaredRoute[] {
  return declaredRoutes.get(server) ?? [];
}

/** The session of the cookie, if it still works; otherwise why it ended (for the login page). */
async function resumeSession(app: App, request: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
  const token = request.cookies[SESSION_COOKIE];
  if (!token) return undefined;
  const found = await lookupSession(app, token, { touch: request.routeOptions.config.activity !== false, ip: request.ip });
  if (found.ok) {
    request.session = found.session;
    if (found.renewedToken) setSessionCookie(reply, found.renewedToken);
    return undefined;
  }
  clearSessionCookie(reply);
  const endedReason = found.reason === 'idle_timeout' ? 'timeout' : found.reason === 'unknown' ? undefined : 'ended';
  request.sessionEnded = endedReason ?? 'unknown';
  return endedReason;
}

/** Loads the session (one query) and enforces the route's declared access. Deny by default. */
export function registerAccessControl(server: FastifyInstance, app: App): void {
  server.decorateRequest('session', null);
  server.decorateRequest('sessionEnded', null);
  server.decorateRequest('apiToken', null);
  const table: DeclaredRoute[] = [];
  declaredRoutes.set(server, table);
  server.addHook('onRoute', (route) => {
    assertAccessDeclared(route);
    const { body, querystring, params } = (route.schema ?? {}) as DeclaredRoute['schema'];
    for (const method of [route.method].flat()) table.push({ method, url: route.url, access: route.config!.access as Access, schema: { body, querystring, params } });
  });
  server.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access;
    let endedReason: string | undefined;
    if (request.routeOptions.config.api && access !== 'public') {
      // The API: a bearer token stands for the session; the route's access is then enforced below like any other.
      const refused = await authenticateApiCall(app, request, reply);
      if (refused) return refused;
    } else {
      // No route at this address under /api/: a JSON 404 (there is nothing to protect), rather
      // than the login page a browser would be sent to.
      if (request.is404 && isApiRequest(request)) return;
      endedReason = await resumeSession(app, request, reply);
    }
    if (access === 'public') return;
    const session = request.session;
    if (!session) return sendToLogin(request, reply, endedReason);
    if ((STEP_ACCESS as readonly string[]).includes(access!)) {
      if (admits(access as (typeof STEP_ACCESS)[number], session.stage)) return;
      return session.stage === 'full' ? reply.redirect('/', 303) : sendToStep(request, reply, session.stage);
    }
    // Until every login step is done, nothing else answers: not a page, not the API.
    if (session.stage !== 'full') return sendToStep(request, reply, session.stage);
    // An unknown URL is a 404 for a signed-in user (a visitor without a session is sent to log in).
    if (access === 'signed-in' || request.is404) return;
    if (!access || !isPermission(access) || !hasPermission(session.permissions, access)) {
      return sendErrorPage(request, reply, 403, 'Not allowed', 'Your role does not give you access to this page.');
    }
  });
}

const API_REFUSALS: Record<ApiTokenRefusal, { status: 401 | 403; error: string }> = {
  unknown: { status: 401, error: 'unauthorized' },
  revoked: { status: 401, error: 'token_revoked' },
  expired: { status: 401, error: 'token_expired' },
  inactive: { status: 401, error: 'account_inactive' },
  no_login_permission: { status: 403, error: 'login_not_allowed_here' },
  no_api_access: { status: 403, error: 'no_api_access' },
};

/**
 * An API call's credential: the bearer token instead of the cookie (a cookie is never read
 * here, so a browser's ambient session cannot be used by another site's script), then the rate
 * limits. Sets the request's session, or answers the refusal (a real token's is audited).
 */
async function authenticateApiCall(app: App, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const presented = bearerToken(request.headers.authorization);
  if (!presented) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized' });
  const found = await lookupApiToken(app, presented, request.ip);
  if (!found.ok) {
    const refusal = API_REFUSALS[found.reason];
    if (found.token) {
      await recordAudit(app, { action: 'api.refused', actor: found.user, target: `${request.method} ${request.routeOptions.url}`, ip: request.ip, details: { token: found.token.name, reason: found.reason } });
    }
    if (refusal.status === 401) reply.header('www-authenticate', 'Bearer error="invalid_token"');
    return reply.code(refusal.status).send({ error: refusal.error });
  }
  const charged = await chargeApiCall(app, found.token.id, request.ip);
  if (!charged.ok) return reply.code(429).header('retry-after', String(charged.retryAfterSeconds)).send({ error: 'too_many_requests' });
  request.session = found.session;
  request.apiToken = found.token;
  return undefined;
}
