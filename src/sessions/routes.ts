import type { HavenRoutes } from '../web/plugin.ts';
import { form, NO_QUERY, redirectTarget } from '../web/input.ts';
import { wantsJson } from '../web/errors.tsx';
import { extendSession } from './service.ts';

export const sessionRoutes: HavenRoutes = async (server, { app }) => {
  // "Extend Login": any request refreshes the session; this one does so explicitly and says
  // how long the session now has, for the page's timer.
  server.post('/session/extend', { config: { access: 'any-session' }, schema: { body: form({ return: redirectTarget() }), querystring: NO_QUERY } }, async (request, reply) => {
    const secondsLeft = await extendSession(app, request.session!);
    if (wantsJson(request)) return reply.send({ secondsLeft });
    return reply.redirect(request.body.return, 303);
  });

  // How long the session has left, for a page whose timer ran out: asking is not activity, so a
  // tab left open still signs out at the timeout. An ended session gets 401 (web/access.ts).
  server.get('/session/status', { config: { access: 'any-session', activity: false }, schema: { querystring: NO_QUERY } }, async (request, reply) => {
    return reply.header('cache-control', 'no-store').send({ secondsLeft: request.session!.secondsUntilTimeout });
  });
};
