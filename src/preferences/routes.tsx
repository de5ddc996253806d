import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { sendErrorPage } from '../web/errors.tsx';
import { form, ID_PARAMS, line, NO_BODY, NO_QUERY, optional, query, type FieldErrors } from '../web/input.ts';
import { clearMfaDeviceCookie, sessionCookieToken } from '../web/cookies.ts';
import { disableOwnMfa } from '../mfa/service.ts';
import { mayChangeMfa } from '../mfa/reauth.ts';
import { preferencesOf } from './service.ts';
import { PreferencesPage, type TokensView } from './views.tsx';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sealForSession, unsealForSession } from '../security/session-sealing.ts';
import { putSessionValue, takeSessionValue } from '../sessions/service.ts';
import { createApiToken, listApiTokens, revokeApiToken } from '../api/tokens.ts';
import { hasPermission } from '../security/permissions.ts';

const NEW_TOKEN_SEAL = 'new api token';
const tokenForm = form({ token_name: optional(line(200)), expires_in_days: optional(line(20)) });

const NOTICES: Record<string, string> = {
  'mfa-disabled': 'Multifactor authentication is off. Your other sessions were signed out.',
  'token-revoked': 'The token is revoked: programs using it are refused from now on.',
};

/** My Preferences: the user's own account, password, MFA and API tokens. */
export const preferencesRoutes: HavenRoutes = async (server, { app }) => {
  async function render(request: FastifyRequest, reply: FastifyReply, extra: { notice?: string; newToken?: TokensView['newToken']; values?: TokensView['values']; errors?: FieldErrors; status?: number } = {}) {
    const session = request.session!;
    const prefs = await preferencesOf(app, session);
    if (!prefs) return reply.callNotFound();
    const tokens: TokensView | null = hasPermission(session.permissions, 'api_access')
      ? {
          tokens: await listApiTokens(app, session.user.id),
          now: app.clock.now(),
          newToken: extra.newToken ?? null,
          values: extra.values ?? { token_name: '', expires_in_days: '' },
          errors: extra.errors ?? {},
        }
      : null;
    return sendPage(reply, <PreferencesPage ctx={pageContext(request, reply)} state={prefs.mfa} methods={prefs.methods} mayDisable={prefs.mayDisableMfa} notice={extra.notice} tokens={tokens} />, extra.status ?? 200);
  }

  server.get('/preferences', { config: { access: 'signed-in' }, schema: { querystring: query({ done: z.string().max(40).optional() }) } }, async (request, reply) => {
    const done = request.query.done;
    const notice = done && Object.hasOwn(NOTICES, done) ? NOTICES[done] : undefined;
    // A token created a moment ago is shown this once: taken from the session as it is read.
    let newToken: TokensView['newToken'] = null;
    if (done === 'token-created') {
      const sealed = await takeSessionValue(app, request.session!.id, 'new_api_token_sealed');
      const opened = sealed ? unsealForSession(sessionCookieToken(request), NEW_TOKEN_SEAL, sealed) : null;
      if (opened) newToken = JSON.parse(opened) as TokensView['newToken'];
    }
    return render(request, reply, { notice, newToken });
  });

  // API tokens (DESIGN §1.7): a token is a credential that never passes the MFA step, so making
  // one needs a sign-in or re-authentication of the last five minutes, like changing MFA.
  server.post(
    '/preferences/api-tokens',
    {
      config: { access: 'api_access', onInvalidInput: (request, reply, errors) => render(request, reply, { errors, status: 400 }) },
      schema: { body: tokenForm, querystring: NO_QUERY },
    },
    async (request, reply) => {
      const session = request.session!;
      if (!mayChangeMfa(app, session)) return reply.redirect(`/reauth?${new URLSearchParams({ next: '/preferences#api-tokens' })}`, 303);
      const created = await createApiToken(app, session.user, request.body, request.ip);
      if (!created.ok) return render(request, reply, { values: request.body, errors: created.errors, status: 400 });
      const shown = JSON.stringify({ name: request.body.token_name.trim(), token: created.token });
      await putSessionValue(app.db, session.id, sealForSession(sessionCookieToken(request), NEW_TOKEN_SEAL, shown), 'new_api_token_sealed');
      return reply.redirect('/preferences?done=token-created#api-tokens', 303);
    },
  );

  // Revoking needs no permission beyond being signed in: one's own tokens can always be ended.
  server.post('/preferences/api-tokens/:id/revoke', { config: { access: 'signed-in' }, schema: { params: ID_PARAMS, body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    const revoked = await revokeApiToken(app, request.session!.user, request.params.id, request.ip);
    if (!revoked) return reply.callNotFound();
    return reply.redirect('/preferences?done=token-revoked#api-tokens', 303);
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

