import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { sendErrorPage } from '../web/errors.tsx';
import { NO_BODY, NO_QUERY, query } from '../web/input.ts';
import { clearMfaDeviceCookie } from '../web/cookies.ts';
import { disableOwnMfa } from '../mfa/service.ts';
import { mayChangeMfa } from '../mfa/reauth.ts';
import { preferencesOf } from './service.ts';
import { PreferencesPage } from './views.tsx';

const NOTICES: Record<string, string> = {
  'mfa-disabled': 'Multifactor authentication is off. Your other sessions were signed out.',
};

/** My Preferences: the user's own account, password and MFA (and, later, API tokens). */
export const preferencesRoutes: HavenRoutes = async (server, { app }) => {
  server.get('/preferences', { config: { access: 'signed-in' }, schema: { querystring: query({ done: z.string().max(40).optional() }) } }, async (request, reply) => {
    const prefs = await preferencesOf(app, request.session!);
    if (!prefs) return reply.callNotFound();
    const done = request.query.done;
    const notice = done && Object.hasOwn(NOTICES, done) ? NOTICES[done] : undefined;
    return sendPage(reply, <PreferencesPage ctx={pageContext(request, reply)} state={prefs.mfa} methods={prefs.methods} mayDisable={prefs.mayDisableMfa} notice={notice} />);
  });

  // Actions > Disable MFA: only with a re-authentication of the last five minutes.
  server.post('/preferences/mfa/disable', { config: { access: 'signed-in' }, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const prefs = await preferencesOf(app, session);
    if (!prefs?.mayDisableMfa) return sendErrorPage(request, reply, 403, 'Not allowed', 'Your role requires multifactor authentication: it cannot be turned off.');
    if (!mayChangeMfa(app, session)) return reply.redirect(`/reauth?${new URLSearchParams({ next: '/preferences#mfa' })}`, 303);
    await disableOwnMfa(app, { id: session.user.id, login: session.user.login, email: session.user.email }, session.id, request.ip);
    clearMfaDeviceCookie(reply);
    return reply.redirect('/preferences?done=mfa-disabled', 303);
  });
};

