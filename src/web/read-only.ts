import type { FastifyInstance } from 'fastify';
import type { App } from '../context.ts';
import { isReadOnly } from '../failover/state.ts';
import { sendErrorPage, wantsJson } from './errors.tsx';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** 'allowed': this write still works while the site is read-only (sign-in, the MFA step, sign-out). */
    duringReadOnly?: 'allowed';
  }
  interface FastifyRequest {
    /** The site was read-only when this request arrived (failover): pages show the banner. */
    readOnly: boolean;
  }
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Before anything answers: whether this request is served read-only, for every page it may get. */
export function markReadOnlyRequests(server: FastifyInstance, app: App): void {
  server.decorateRequest('readOnly', false);
  server.addHook('onRequest', (request, _reply, done) => {
    request.readOnly = isReadOnly(app);
    done();
  });
}

/**
 * Read-only mode (DESIGN §2.4): every write but the few a route allows answers 503 before its
 * handler runs, a page with the banner for a browser and `{"error":"read_only"}` for the API.
 * Registered after access control, so a visitor without a session is still sent to sign in.
 */
export function refuseWritesWhileReadOnly(server: FastifyInstance): void {
  server.addHook('onRequest', async (request, reply) => {
    if (!request.readOnly || READS.has(request.method)) return;
    if (request.routeOptions.config.duringReadOnly === 'allowed') return;
    reply.header('retry-after', '30');
    if (wantsJson(request) || request.url.startsWith('/api/')) return reply.code(503).send({ error: 'read_only' });
    return sendErrorPage(
      request,
      reply,
      503,
      'Read-only for now',
      'Haven is read-only while its database is switched over: nothing was saved. Keep what you typed aside and try again when the message at the top is gone.',
      undefined,
      { alwaysPage: true },
    );
  });
}
