import { eq } from 'drizzle-orm';
import type { HavenRoutes } from '../web/plugin.ts';
import { form, NO_QUERY, redirectTarget } from '../web/input.ts';
import { sessions } from '../db/schema.ts';
import { secondsUntilIdleTimeout } from '../security/session-policy.ts';

export const sessionRoutes: HavenRoutes = async (server, { app }) => {
  // "Extend Login": any request refreshes the session; this one does so explicitly and says
  // how long the session now has, for the page's timer.
  server.post('/session/extend', { config: { access: 'any-session' }, schema: { body: form({ return: redirectTarget() }), querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const now = app.clock.now();
    await app.db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, session.id));
    const secondsLeft = secondsUntilIdleTimeout({ lastSeenAt: now, expiresAt: session.expiresAt }, session.idleTimeoutMinutes, now);
    if ((request.headers.accept ?? '').includes('application/json')) return reply.send({ secondsLeft });
    return reply.redirect(request.body.return, 303);
  });
};
