import type { FastifyPluginAsync } from 'fastify';
import { eq } from 'drizzle-orm';
import type { App } from '../context.ts';
import { sessions } from '../db/schema.ts';
import { safeRedirectPath } from '../security/redirect.ts';
import { formField } from '../web/page.ts';
import { secondsUntilIdleTimeout } from '../security/session-policy.ts';

export const sessionRoutes: FastifyPluginAsync<{ app: App }> = async (server, { app }) => {
  // "Extend Login": any request refreshes the session; this one does so explicitly and says
  // how long the session now has, for the page's timer.
  server.post('/session/extend', { config: { access: 'any-session' } }, async (request, reply) => {
    const session = request.session!;
    const now = app.clock.now();
    await app.db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, session.id));
    const secondsLeft = secondsUntilIdleTimeout({ lastSeenAt: now, expiresAt: session.expiresAt }, session.idleTimeoutMinutes, now);
    if ((request.headers.accept ?? '').includes('application/json')) return reply.send({ secondsLeft });
    return reply.redirect(safeRedirectPath(formField(request.body, 'return')), 303);
  });
};
