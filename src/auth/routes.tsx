import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { formField, pageContext } from '../web/page.ts';
import { form, line, NO_BODY, NO_QUERY, optional, query, redirectTarget, secret, type FieldErrors } from '../web/input.ts';
import { clearSessionCookie, DEVICE_COOKIE, MFA_DEVICE_COOKIE, setDeviceCookie, setSessionCookie } from '../web/cookies.ts';
import { wantsJson } from '../web/errors.tsx';
import { safeRedirectPath } from '../security/redirect.ts';
import { endSession, type SessionStage } from '../sessions/service.ts';
import { STEP_PAGES } from '../web/access.ts';
import { recordAudit } from '../audit/service.ts';
import { attemptPasswordLogin, changeOwnPassword, completeSetup, isSetupTokenValid, type LoginClient } from './service.ts';
import { LoginPage, PasswordChangePage, SetupExpiredPage, SetupPage } from './views.tsx';
import { providersForLoginPage } from '../sso/service.ts';

/** Where the browser goes after a login step: the next step's page, or where it was going. */
export function pageForStep(step: SessionStage, next: string): string {
  if (step === 'full') return next;
  if (step === 'mfa') return next === '/' ? STEP_PAGES.mfa : `${STEP_PAGES.mfa}?${new URLSearchParams({ next })}`;
  return STEP_PAGES[step];
}

/** Where a login comes from, as the request tells: its address, browser and device cookies. */
export function loginClientOf(request: FastifyRequest): LoginClient {
  return {
    ip: request.ip,
    userAgent: request.headers['user-agent'],
    deviceToken: request.cookies[DEVICE_COOKIE],
    mfaDeviceSecret: request.cookies[MFA_DEVICE_COOKIE],
  };
}

/** An attempt refused because its turn is too far away: 429 with Retry-After, and a sentence. */
export function tooManyAttempts(reply: FastifyReply, retryAfterSeconds: number): string {
  reply.code(429).header('retry-after', String(retryAfterSeconds));
  return `Too many attempts. Try again in ${retryAfterSeconds} seconds.`;
}

const NOTICES: Record<string, string> = {
  timeout: 'You were logged out after a period of inactivity.',
  ended: 'Your session has ended. Please log in again.',
  logout: 'You have logged out.',
  setup: 'The administrator account was created. Log in with it now.',
};

const loginForm = form({ login: optional(line(256)), password: optional(secret()), next: redirectTarget() });
const setupForm = form({
  login: optional(line(64)),
  fullName: optional(line(200)),
  email: optional(line(254)),
  password: optional(secret()),
  confirm: optional(secret()),
});
const setupParams = z.object({ token: z.string().max(100) });
const passwordForm = form({ current: optional(secret()), next: optional(secret()), confirm: optional(secret()) });

export const authRoutes: HavenRoutes = async (server, { app }) => {
  const loginQuery = query({ next: redirectTarget(), reason: z.string().max(20).optional().catch(undefined), break_glass: z.string().max(5).optional().catch(undefined) });
  server.get('/login', { config: { access: 'public' }, schema: { querystring: loginQuery } }, async (request, reply) => {
    const reason = request.query.reason;
    const notice = reason && Object.hasOwn(NOTICES, reason) ? NOTICES[reason] : undefined;
    const sso = await providersForLoginPage(app);
    return sendPage(reply, <LoginPage ctx={{ ...pageContext(request, reply), session: null }} next={request.query.next} notice={notice} sso={sso} breakGlass={request.query.break_glass === '1'} />);
  });

  // A password posted while SSO is required is the break-glass form's: it is shown again as that.
  const loginInvalid = async (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) =>
    sendPage(
      reply,
      <LoginPage ctx={{ ...pageContext(request, reply), session: null }} next={safeRedirectPath(formField(request.body, 'next'))} errors={errors} sso={await providersForLoginPage(app)} breakGlass />,
      400,
    );

  server.post('/login', { config: { access: 'public', duringReadOnly: 'allowed', onInvalidInput: loginInvalid }, schema: { body: loginForm, querystring: NO_QUERY } }, async (request, reply) => {
    const { login, password, next } = request.body;
    // Whatever session came with the request is discarded: login always starts a new one.
    if (request.session) await endSession(app, request.session);
    const outcome = await attemptPasswordLogin(app, { login, password, ...loginClientOf(request) });
    if (!outcome.ok) {
      clearSessionCookie(reply);
      const ctx = { ...pageContext(request, reply), session: null };
      const sso = wantsJson(request) ? undefined : await providersForLoginPage(app);
      if (outcome.retryAfterSeconds !== undefined) {
        const message = tooManyAttempts(reply, outcome.retryAfterSeconds);
        if (wantsJson(request)) return reply.send({ error: 'too_many_attempts', retryAfterSeconds: outcome.retryAfterSeconds });
        return sendPage(reply, <LoginPage ctx={ctx} next={next} login={login} error={message} sso={sso} breakGlass />, 429);
      }
      if (wantsJson(request)) return reply.code(401).send({ error: 'incorrect' });
      return sendPage(reply, <LoginPage ctx={ctx} next={next} login={login} error="Login name or password is incorrect." sso={sso} breakGlass />, 401);
    }
    setSessionCookie(reply, outcome.sessionToken);
    setDeviceCookie(reply, outcome.deviceToken);
    return reply.redirect(pageForStep(outcome.stage, next), 303);
  });

  server.post('/logout', { config: { access: 'any-session', duringReadOnly: 'allowed' }, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    await endSession(app, session);
    await recordAudit(app, { action: 'logout', actor: session.user, target: session.user.login, ip: request.ip });
    clearSessionCookie(reply);
    return reply.redirect('/login?reason=logout', 303);
  });

  server.get('/setup/:token', { config: { access: 'public' }, schema: { params: setupParams, querystring: NO_QUERY } }, async (request, reply) => {
    const ctx = { ...pageContext(request, reply), session: null };
    if (!(await isSetupTokenValid(app, request.params.token))) return sendPage(reply, <SetupExpiredPage ctx={ctx} />, 404);
    return sendPage(reply, <SetupPage ctx={ctx} token={request.params.token} values={{}} errors={{}} />);
  });

  const setupInvalid = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => {
    const values = { login: formField(request.body, 'login'), fullName: formField(request.body, 'fullName'), email: formField(request.body, 'email') };
    const token = (request.params as { token?: string }).token ?? '';
    return sendPage(reply, <SetupPage ctx={{ ...pageContext(request, reply), session: null }} token={token} values={values} errors={errors} />, 400);
  };

  server.post(
    '/setup/:token',
    { config: { access: 'public', onInvalidInput: setupInvalid }, schema: { params: setupParams, body: setupForm, querystring: NO_QUERY } },
    async (request, reply) => {
      const { login, fullName, email, password, confirm } = request.body;
      const values = { login, fullName, email };
      const result = await completeSetup(app, request.params.token, { ...values, password, confirm }, request.ip);
      const ctx = { ...pageContext(request, reply), session: null };
      if (!result.ok && 'expired' in result) return sendPage(reply, <SetupExpiredPage ctx={ctx} />, 404);
      if (!result.ok) return sendPage(reply, <SetupPage ctx={ctx} token={request.params.token} values={values} errors={result.errors} />, 400);
      return reply.redirect('/login?reason=setup', 303);
    },
  );

  server.get('/password/change', { config: { access: 'password-change' }, schema: { querystring: NO_QUERY } }, async (request, reply) => {
    return sendPage(reply, <PasswordChangePage ctx={pageContext(request, reply)} forced={request.session!.stage === 'password_change'} errors={{}} />);
  });

  const passwordPage = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors, status: number) =>
    sendPage(reply, <PasswordChangePage ctx={pageContext(request, reply)} forced={request.session!.stage === 'password_change'} errors={errors} />, status);

  server.post(
    '/password/change',
    { config: { access: 'password-change', onInvalidInput: (request, reply, errors) => passwordPage(request, reply, errors, 400) }, schema: { body: passwordForm, querystring: NO_QUERY } },
    async (request, reply) => {
      const session = request.session!;
      const result = await changeOwnPassword(app, {
        userId: session.user.id,
        sessionId: session.id,
        stage: session.stage,
        ...request.body,
        ip: request.ip,
        userAgent: request.headers['user-agent'],
      });
      if (!result.ok) {
        if ('retryAfterSeconds' in result) return passwordPage(request, reply, { current: tooManyAttempts(reply, result.retryAfterSeconds) }, 429);
        return passwordPage(request, reply, result.errors, 400);
      }
      setSessionCookie(reply, result.sessionToken);
      return reply.redirect(pageForStep(result.step, '/?done=password-changed'), 303);
    },
  );
};
