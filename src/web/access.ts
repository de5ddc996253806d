import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { App } from '../app.ts';
import { isPermission, hasPermission, type Permission } from '../security/permissions.ts';
import { lookupSession, SESSION_COOKIE, type SessionContext } from '../sessions/service.ts';

/**
 * Who may call a route, declared in the route's own options (`config.access`):
 * - 'public': anyone;
 * - 'signed-in': a session past every login step;
 * - 'any-session': any session, also one that must still change its password;
 * - a Permission: a full session whose role grants it.
 */
export type Access = 'public' | 'signed-in' | 'any-session' | Permission;

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    session: SessionContext | null;
  }
}

function describe(route: RouteOptions): string {
  return `${Array.isArray(route.method) ? route.method.join(',') : route.method} ${route.url}`;
}

/** A route without an access declaration is a boot failure, not a hole. */
export function assertAccessDeclared(route: RouteOptions): void {
  const access = route.config?.access as unknown;
  const valid =
    access === 'public' || access === 'signed-in' || access === 'any-session' || (typeof access === 'string' && isPermission(access));
  if (!valid) throw new Error(`Route ${describe(route)} does not declare who may call it (config.access).`);
}

function wantsHtml(request: FastifyRequest): boolean {
  return request.method === 'GET' || request.method === 'HEAD';
}

function sendToLogin(request: FastifyRequest, reply: FastifyReply, reason?: string) {
  if (!wantsHtml(request)) return reply.code(401).type('text/plain').send('Your session has ended. Please log in again.');
  const params = new URLSearchParams({ next: request.url });
  if (reason) params.set('reason', reason);
  return reply.redirect(`/login?${params}`, 303);
}

/** Loads the session (one query) and enforces the route's declared access. Deny by default. */
export function registerAccessControl(server: FastifyInstance, app: App): void {
  server.decorateRequest('session', null);
  server.addHook('onRoute', assertAccessDeclared);
  server.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access;
    const token = request.cookies[SESSION_COOKIE];
    let endedReason: string | undefined;
    if (token) {
      const found = await lookupSession(app, token);
      if (found.ok) request.session = found.session;
      else {
        reply.clearCookie(SESSION_COOKIE, { path: '/', secure: true, httpOnly: true, sameSite: 'lax' });
        endedReason = found.reason === 'idle_timeout' ? 'timeout' : found.reason === 'unknown' ? undefined : 'ended';
      }
    }
    if (access === 'public') return;
    const session = request.session;
    if (!session) return sendToLogin(request, reply, endedReason);
    if (access === 'any-session') return;
    if (session.stage === 'password_change') {
      return wantsHtml(request) ? reply.redirect('/password/change', 303) : reply.code(403).type('text/plain').send('Change your password first.');
    }
    if (access === 'signed-in') return;
    if (!access || !hasPermission(session.permissions, access)) {
      return reply.code(403).type('text/html').send(forbiddenPage);
    }
  });
}

const forbiddenPage =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not allowed - Haven</title>' +
  '<link rel="stylesheet" href="/assets/pico.min.css"></head><body><main class="container">' +
  '<h1>Not allowed</h1><p role="alert">Your role does not give you access to this page.</p><p><a href="/">Back to the dashboard</a></p></main></body></html>';
