import type { FastifyReply, FastifyRequest } from 'fastify';
import { eq } from 'drizzle-orm';
import QRCode from 'qrcode';
import { z } from 'zod';
import type { App } from '../context.ts';
import type { HavenRoutes } from '../web/plugin.ts';
import { form, ID_PARAMS, line, NO_BODY, NO_QUERY, optional, query, redirectTarget, secret, type FieldErrors } from '../web/input.ts';
import type { Db } from '../db/client.ts';
import { roles, users } from '../db/schema.ts';
import { sendPage } from '../web/render.ts';
import { formField, pageContext } from '../web/page.ts';
import { sendErrorPage } from '../web/errors.tsx';
import { safeRedirectPath } from '../security/redirect.ts';
import { isMfaMethod, type MfaMethod } from '../security/site-settings.ts';
import { mayDisableOwnMfa, offeredMethods, TRUSTED_DEVICE_MS } from '../security/mfa.ts';
import { getSiteSettings } from '../settings/service.ts';
import { continueLogin, MFA_DEVICE_COOKIE } from '../auth/steps.ts';
import { pageForStep, setSessionCookie } from '../auth/routes.tsx';
import type { SessionContext } from '../sessions/service.ts';
import {
  applyAdminMfaAction,
  cancelEnrolment,
  confirmEnrolmentCode,
  disableMfa,
  discardRecoveryCodes,
  issueRecoveryCodes,
  mfaState,
  otpauthUri,
  pendingEnrolment,
  recoveryCodeCounts,
  rememberDevice,
  resendCode,
  startEnrolment,
  verifyLoginCode,
  type AdminMfaAction,
} from './service.ts';
import { authenticationOptions, completePasskeyRegistration, registrationOptions, verifyPasskeyLogin } from './passkeys.ts';
import {
  AdminSecurityPage,
  EnrolAppPage,
  EnrolChoosePage,
  EnrolEmailPage,
  EnrolPasskeyPage,
  MfaChallengePage,
  PreferencesPage,
  RecoveryCodesPage,
} from './views.tsx';

const MFA_COOKIE_OPTIONS = { path: '/', secure: true, httpOnly: true, sameSite: 'lax', maxAge: TRUSTED_DEVICE_MS / 1000 } as const;

// A WebAuthn response is checked by @simplewebauthn/server; here only its outer shape, so that
// junk is a 400 naming the field rather than an exception deep in the library.
const webauthnResponse = z.object({
  id: z.string().min(1).max(1024),
  rawId: z.string().min(1).max(1024),
  type: z.literal('public-key'),
  response: z.record(z.string(), z.unknown()),
  clientExtensionResults: z.record(z.string(), z.unknown()).optional().default({}),
  authenticatorAttachment: z.string().optional(),
});

const mfaUserOf = (session: SessionContext) => ({ id: session.user.id, login: session.user.login, email: session.user.email });

async function currentMethod(app: App, userId: string): Promise<MfaMethod | null> {
  const [row] = await app.db.select({ method: users.mfaMethod }).from(users).where(eq(users.id, userId));
  return row?.method && isMfaMethod(row.method) ? row.method : null;
}

const codeForm = form({ code: optional(secret(100)), next: redirectTarget() });
// The options requests carry nothing: the server knows the session and the user.
const EMPTY_JSON = z.object({}).optional();

export const mfaRoutes: HavenRoutes = async (server, { app }) => {
  const challenge = { config: { access: 'mfa-challenge' as const } };
  const enrolment = { config: { access: 'mfa-enrolment' as const } };
  const signedIn = { config: { access: 'signed-in' as const } };

  /**
   * A second factor was just proved (the code step, or an enrolment): this device is remembered
   * for 24 hours, and the login goes on from `done` with a new session id (a privilege change).
   */
  async function afterSecondFactor(request: FastifyRequest, reply: FastifyReply, done: 'mfa' | 'mfa_enrol' | 'full') {
    const session = request.session!;
    const result = await app.db.transaction(async (t) => {
      const secret = await rememberDevice(app, t, session.user.id);
      const continued = await continueLogin(app, t, {
        userId: session.user.id,
        done,
        previousSessionId: session.id,
        client: { ip: request.ip, userAgent: request.headers['user-agent'] },
      });
      return { secret, ...continued };
    });
    setSessionCookie(reply, result.sessionToken);
    reply.setCookie(MFA_DEVICE_COOKIE, result.secret, MFA_COOKIE_OPTIONS);
    return result.step;
  }

  const passChallenge = async (request: FastifyRequest, reply: FastifyReply, next: string) =>
    pageForStep(await afterSecondFactor(request, reply, 'mfa'), next);

  // ---- /login/mfa: the challenge ----------------------------------------------------------

  const noticeQuery = { sent: z.string().max(10).optional(), wait: z.coerce.number().int().min(1).max(3600).optional().catch(undefined) };
  server.get('/login/mfa', { ...challenge, schema: { querystring: query({ next: redirectTarget(), ...noticeQuery }) } }, async (request, reply) => {
    const session = request.session!;
    const notice = request.query.sent ? 'A new code is on its way.' : request.query.wait ? `Wait ${request.query.wait} seconds before asking for another code.` : undefined;
    return sendPage(
      reply,
      <MfaChallengePage ctx={pageContext(request, reply)} method={await currentMethod(app, session.user.id)} email={session.user.email} next={request.query.next} notice={notice} />,
    );
  });

  const codeInvalid = async (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => {
    const session = request.session!;
    const method = await currentMethod(app, session.user.id);
    const next = safeRedirectPath(formField(request.body, 'next'));
    return sendPage(reply, <MfaChallengePage ctx={pageContext(request, reply)} method={method} email={session.user.email} next={next} error={errors.code ?? Object.values(errors)[0]} />, 400);
  };
  server.post('/login/mfa', { config: { access: 'mfa-challenge', onInvalidInput: codeInvalid }, schema: { body: codeForm, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const { next, code } = request.body;
    const check = code.trim() ? await verifyLoginCode(app, { userId: session.user.id, code, ip: request.ip }) : { ok: false as const };
    if (!check.ok) {
      const error = code.trim() ? 'That code is not valid, has expired or was already used.' : 'Enter the code.';
      const method = await currentMethod(app, session.user.id);
      return sendPage(reply, <MfaChallengePage ctx={pageContext(request, reply)} method={method} email={session.user.email} next={next} error={error} />, 400);
    }
    return reply.redirect(await passChallenge(request, reply, next), 303);
  });

  server.post('/login/mfa/resend', { ...challenge, schema: { body: form({ next: redirectTarget() }), querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const next = request.body.next;
    const query = new URLSearchParams(next === '/' ? {} : { next });
    if ((await currentMethod(app, session.user.id)) === 'email') {
      const outcome = await resendCode(app, mfaUserOf(session), 'login');
      query.set(outcome.ok ? 'sent' : 'wait', outcome.ok ? '1' : String(outcome.retryInSeconds));
    }
    return reply.redirect(`/login/mfa?${query}`, 303);
  });

  server.post('/login/mfa/passkey/options', { ...challenge, schema: { body: EMPTY_JSON, querystring: NO_QUERY } }, async (request, reply) => {
    return reply.send(await authenticationOptions(app, request.session!.id, request.session!.user.id));
  });

  server.post('/login/mfa/passkey', { ...challenge, schema: { body: webauthnResponse, querystring: query({ next: redirectTarget() }) } }, async (request, reply) => {
    const session = request.session!;
    const outcome = await verifyPasskeyLogin(app, session.id, mfaUserOf(session), request.body as never, request.ip);
    if (!outcome.ok) return reply.code(400).send({ error: outcome.error });
    return reply.send({ redirect: await passChallenge(request, reply, request.query.next) });
  });

  // ---- Enrolment (Actions > Enable MFA, or forced at login) ------------------------------

  /** Enrolment done: the session id changes (a privilege change) and the login, if forced, goes on. */
  async function finishEnrolment(request: FastifyRequest, reply: FastifyReply) {
    const step = await afterSecondFactor(request, reply, request.session!.stage === 'full' ? 'full' : 'mfa_enrol');
    return step === 'full' ? '/mfa/recovery-codes' : pageForStep(step, '/');
  }

  async function enrolmentPage(request: FastifyRequest, reply: FastifyReply, extra: { error?: string; notice?: string } = {}, status = 200) {
    const session = request.session!;
    const ctx = pageContext(request, reply);
    const required = session.stage === 'mfa_enrol';
    const settings = await getSiteSettings(app);
    const state = await mfaState(app, session.user.id);
    if (state?.mfaEnabled) return reply.redirect('/preferences', 303);
    const pending = await pendingEnrolment(app, session.user.id);
    const offered = offeredMethods(settings);
    if (!pending || !offered.includes(pending.method)) return sendPage(reply, <EnrolChoosePage ctx={ctx} methods={offered} required={required} error={extra.error} />, status);
    if (pending.method === 'app') {
      const uri = otpauthUri(pending.totpSecret!, session.user.login);
      const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      return sendPage(reply, <EnrolAppPage ctx={ctx} qrSvg={qrSvg} manualKey={pending.totpSecret!} required={required} error={extra.error} />, status);
    }
    if (pending.method === 'email') return sendPage(reply, <EnrolEmailPage ctx={ctx} email={session.user.email} required={required} {...extra} />, status);
    return sendPage(reply, <EnrolPasskeyPage ctx={ctx} required={required} error={extra.error} />, status);
  }

  server.get('/mfa/enrol', { ...enrolment, schema: { querystring: query(noticeQuery) } }, async (request, reply) => {
    const notice = request.query.sent ? 'A new code is on its way.' : request.query.wait ? `Wait ${request.query.wait} seconds before asking for another code.` : undefined;
    return enrolmentPage(request, reply, { notice });
  });

  const enrolInvalid = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => enrolmentPage(request, reply, { error: Object.values(errors)[0] }, 400);
  server.post('/mfa/enrol', { config: { access: 'mfa-enrolment', onInvalidInput: enrolInvalid }, schema: { body: form({ method: optional(line(20)) }), querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const method = request.body.method;
    const offered = offeredMethods(await getSiteSettings(app));
    if (!isMfaMethod(method) || !offered.includes(method)) {
      return enrolmentPage(request, reply, { error: offered.length ? `Choose one of: ${offered.join(', ')}.` : 'No method is offered.' }, 400);
    }
    const state = await mfaState(app, session.user.id);
    if (state?.mfaEnabled) return reply.redirect('/preferences', 303);
    await startEnrolment(app, mfaUserOf(session), method);
    return reply.redirect('/mfa/enrol', 303);
  });

  server.post('/mfa/enrol/confirm', { config: { access: 'mfa-enrolment', onInvalidInput: enrolInvalid }, schema: { body: codeForm, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const code = request.body.code;
    if (!code.trim()) return enrolmentPage(request, reply, { error: 'Enter the code.' }, 400);
    const outcome = await confirmEnrolmentCode(app, mfaUserOf(session), code, request.ip, session.id);
    if (!outcome.ok) return enrolmentPage(request, reply, { error: outcome.error }, 400);
    return reply.redirect(await finishEnrolment(request, reply), 303);
  });

  server.post('/mfa/enrol/resend', { ...enrolment, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    const pending = await pendingEnrolment(app, request.session!.user.id);
    if (pending?.method !== 'email') return reply.redirect('/mfa/enrol', 303);
    const outcome = await resendCode(app, mfaUserOf(request.session!), 'enrol');
    return reply.redirect(outcome.ok ? '/mfa/enrol?sent=1' : `/mfa/enrol?wait=${outcome.retryInSeconds}`, 303);
  });

  server.post('/mfa/enrol/cancel', { ...enrolment, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    await cancelEnrolment(app, request.session!.user.id);
    return reply.redirect('/mfa/enrol', 303);
  });

  server.post('/mfa/enrol/passkey/options', { ...enrolment, schema: { body: EMPTY_JSON, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const pending = await pendingEnrolment(app, session.user.id);
    if (pending?.method !== 'passkey') return reply.code(400).send({ error: 'Choose the passkey method first.' });
    return reply.send(await registrationOptions(app, session.id, { ...mfaUserOf(session), fullName: session.user.fullName }));
  });

  server.post('/mfa/enrol/passkey', { ...enrolment, schema: { body: webauthnResponse, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const pending = await pendingEnrolment(app, session.user.id);
    if (pending?.method !== 'passkey') return reply.code(400).send({ error: 'Choose the passkey method first.' });
    const outcome = await completePasskeyRegistration(app, session.id, mfaUserOf(session), request.body as never);
    if (!outcome.ok) return reply.code(400).send({ error: outcome.error });
    return reply.send({ redirect: await finishEnrolment(request, reply) });
  });

  // ---- Recovery codes -----------------------------------------------------------------------

  // Shown once: the page makes the ten codes the first time it is opened after an enrolment
  // (none exist yet), and never shows them again; "make new codes" empties the set first.
  server.get('/mfa/recovery-codes', { ...signedIn, schema: { querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const state = await mfaState(app, session.user.id);
    if (!state?.mfaEnabled) return reply.redirect('/preferences', 303);
    const counts = await recoveryCodeCounts(app, session.user.id);
    const codes = counts.total === 0 ? await app.db.transaction(async (tx) => issueRecoveryCodes(app, tx, mfaUserOf(session))) : null;
    return sendPage(reply, <RecoveryCodesPage ctx={pageContext(request, reply)} codes={codes} unused={codes ? codes.length : counts.unused} />);
  });

  server.post('/mfa/recovery-codes', { ...signedIn, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const state = await mfaState(app, session.user.id);
    if (!state?.mfaEnabled) return reply.redirect('/preferences', 303);
    // The old codes die now; the page made next shows the new ones, once.
    await discardRecoveryCodes(app, mfaUserOf(session));
    return reply.redirect('/mfa/recovery-codes', 303);
  });

  // ---- My Preferences -----------------------------------------------------------------------

  async function preferencesPage(request: FastifyRequest, reply: FastifyReply, notice?: string) {
    const session = request.session!;
    const settings = await getSiteSettings(app);
    const state = (await mfaState(app, session.user.id))!;
    const mayDisable = mayDisableOwnMfa(settings, { roleName: session.user.roleName, permissions: session.permissions });
    return sendPage(reply, <PreferencesPage ctx={pageContext(request, reply)} state={state} offered={offeredMethods(settings)} mayDisable={mayDisable} notice={notice} />);
  }

  server.get('/preferences', { ...signedIn, schema: { querystring: query({ done: z.string().max(40).optional() }) } }, async (request, reply) =>
    preferencesPage(request, reply, request.query.done === 'mfa-disabled' ? 'Multifactor authentication is off.' : undefined),
  );

  server.post('/preferences/mfa/disable', { ...signedIn, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const settings = await getSiteSettings(app);
    if (!mayDisableOwnMfa(settings, { roleName: session.user.roleName, permissions: session.permissions })) {
      return sendErrorPage(request, reply, 403, 'Not allowed', 'Your role requires multifactor authentication: it cannot be turned off.');
    }
    await app.db.transaction(async (tx) =>
      disableMfa(app, tx, mfaUserOf(session), { actor: { id: session.user.id, login: session.user.login }, ip: request.ip, reason: 'self' }),
    );
    reply.clearCookie(MFA_DEVICE_COOKIE, { path: '/', secure: true, httpOnly: true, sameSite: 'lax' });
    return reply.redirect('/preferences?done=mfa-disabled', 303);
  });

  // ---- Administrator-only security form ------------------------------------------------

  const adminAccess = { config: { access: 'admin_users' as const } };

  async function adminPage(request: FastifyRequest, reply: FastifyReply, extra: { notice?: string; error?: string } = {}, status = 200) {
    const id = (request.params as { id: string }).id;
    const [user] = await app.db
      .select({ id: users.id, login: users.login, fullName: users.fullName, email: users.email, roleName: roles.name })
      .from(users)
      .innerJoin(roles, eq(roles.id, users.roleId))
      .where(eq(users.id, id));
    const state = user ? await mfaState(app, id) : null;
    if (!user || !state) return sendErrorPage(request, reply, 404, 'Not found', 'There is no such user.');
    const settings = await getSiteSettings(app);
    return sendPage(reply, <AdminSecurityPage ctx={pageContext(request, reply)} user={user} state={state} methods={offeredMethods(settings)} {...extra} />, status);
  }

  server.get('/admin/users/:id/security', { ...adminAccess, schema: { params: ID_PARAMS, querystring: query({ done: z.string().max(10).optional() }) } }, async (request, reply) =>
    adminPage(request, reply, { notice: request.query.done ? 'Done. The user has been signed out everywhere.' : undefined }),
  );

  const adminInvalid = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => adminPage(request, reply, { error: Object.values(errors)[0] }, 400);
  const adminForm = form({ action: optional(line(40)), method: optional(line(20)) });
  server.post('/admin/users/:id/security', { config: { access: 'admin_users', onInvalidInput: adminInvalid }, schema: { params: ID_PARAMS, body: adminForm, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const { action: kind, method } = request.body;
    let action: AdminMfaAction | null = null;
    if (kind === 'disable' || kind === 'require_enrolment') action = { kind };
    else if (kind === 'change_method' && isMfaMethod(method) && offeredMethods(await getSiteSettings(app)).includes(method)) action = { kind, method };
    if (!action) return adminPage(request, reply, { error: kind === 'change_method' ? 'Choose a method the site offers.' : 'Unknown action.' }, 400);
    const done = await applyAdminMfaAction(app, request.params.id, action, { actor: { id: session.user.id, login: session.user.login }, ip: request.ip });
    if (!done) return sendErrorPage(request, reply, 404, 'Not found', 'There is no such user.');
    return reply.redirect(`/admin/users/${request.params.id}/security?done=1`, 303);
  });
};
