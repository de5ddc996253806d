import type { FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import { z } from 'zod';
import type { App } from '../context.ts';
import type { Tx } from '../db/client.ts';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { formField, pageContext } from '../web/page.ts';
import { sendErrorPage, wantsJson } from '../web/errors.tsx';
import { form, ID_PARAMS, line, NO_BODY, NO_QUERY, optional, query, redirectTarget, secret, type FieldErrors } from '../web/input.ts';
import { sessionCookieToken, setMfaDeviceCookie, setSessionCookie } from '../web/cookies.ts';
import { safeRedirectPath } from '../security/redirect.ts';
import { isMfaMethod } from '../security/site-settings.ts';
import { availableMethods, preselectedMethod, usableMethods, type MethodAvailability } from '../security/mfa.ts';
import type { SiteSettings } from '../security/site-settings.ts';
import { unsealForSession } from '../security/session-sealing.ts';
import { getSiteSettings } from '../settings/service.ts';
import { pageForStep, tooManyAttempts } from '../auth/routes.tsx';
import { mayManageAccountsWithRole } from '../users/service.ts';
import { refuseToManage } from '../users/routes.tsx';
import { getRole } from '../roles/service.ts';
import { takeSessionValue, type SessionContext } from '../sessions/service.ts';
import {
  applyAdminMfaAction,
  cancelEnrolment,
  afterSecondFactorWhileReadOnly,
  checkCodeWhileReadOnly,
  checkUserCode,
  confirmEnrolmentCode,
  currentMethod,
  completeSecondFactor,
  mfaState,
  otpauthUri,
  pendingEnrolment,
  RECOVERY_CODES_SEAL,
  recoveryCodeCounts,
  replaceRecoveryCodes,
  resendCode,
  startEnrolment,
  usableEmailCode,
  userForSecurityForm,
  type AdminMfaAction,
  type IssueOutcome,
} from './service.ts';
import { completeReauthentication, confirmCode, confirmPassword, mayChangeMfa, reauthStep } from './reauth.ts';
import { authenticationOptions, authenticationOptionsWhileReadOnly, completePasskeyRegistration, registrationOptions, verifyPasskey, verifyPasskeyWhileReadOnly } from './passkeys.ts';
import {
  ADMIN_EMAIL_UNAVAILABLE,
  AdminSecurityPage,
  EnrolAppPage,
  EnrolChoosePage,
  EnrolEmailPage,
  EnrolPasskeyPage,
  MfaChallengePage,
  ReauthPage,
  RecoveryCodesPage,
} from './views.tsx';

// A WebAuthn response is checked by @simplewebauthn/server; here only its outer shape, so that
// junk is a 400 naming the field rather than an exception deep in the library.
const webauthnResponse = z.object({
  id: z.string().min(1).max(1024),
  rawId: z.string().min(1).max(1024),
  type: z.literal('public-key'),
  response: z.record(z.string(), z.unknown()),
  clientExtensionResults: z.record(z.string(), z.unknown()).optional().default({}),
  authenticatorAttachment: z.string().max(40).optional(),
});

const codeForm = form({ code: optional(secret(100)), next: redirectTarget() });
// The options requests carry nothing: the server knows the session and the user.
const EMPTY_JSON = z.object({}).optional();
const noticeQuery = {
  sent: z.string().max(10).optional(),
  wait: z.coerce.number().int().min(1).max(3600).optional().catch(undefined),
  limit: z.coerce.number().int().min(1).max(3600).optional().catch(undefined),
};

const mfaUserOf = (session: SessionContext) => ({ id: session.user.id, login: session.user.login, email: session.user.email });
const clientOf = (request: FastifyRequest) => ({ ip: request.ip, userAgent: request.headers['user-agent'] });

/** After "Send a new code": what happened, as the query of the page the browser is sent back to. */
function sentQuery(outcome: IssueOutcome): Record<string, string> {
  if (outcome.ok) return { sent: '1' };
  return outcome.reason === 'hourly_limit' ? { limit: String(outcome.retryInSeconds) } : { wait: String(outcome.retryInSeconds) };
}

/** The notice a code page shows after "Send a new code". */
function sentNotice(query: { sent?: string; wait?: number; limit?: number }): string | undefined {
  if (query.sent) return 'A new code is on its way.';
  if (query.limit) return `Too many codes were sent in the last hour. The next one can be sent in ${Math.ceil(query.limit / 60)} minutes; until then use the last code you received, or a recovery code.`;
  if (query.wait) return `Wait ${query.wait} seconds before asking for another code.`;
  return undefined;
}

/** The QR code is drawn this wide at most, and at least QR_MIN_PX (DESIGN §1.3: scannable, not a wall). */
const QR_MAX_PX = 256;
const QR_MIN_PX = 200;
const QR_MARGIN = 2;

/**
 * The QR code of an otpauth:// URI as an <img> source: an SVG (qrcode) with its width and height,
 * in a data: URL (the CSP allows data: images; no markup is inlined into the page). Each module
 * gets a whole number of pixels when that keeps the picture between QR_MIN_PX and QR_MAX_PX.
 */
export async function qrCodeImage(uri: string): Promise<{ src: string; size: number }> {
  const modules = QRCode.create(uri, { errorCorrectionLevel: 'M' }).modules.size + 2 * QR_MARGIN;
  const whole = Math.floor(QR_MAX_PX / modules) * modules;
  const size = whole >= QR_MIN_PX ? whole : QR_MAX_PX;
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: QR_MARGIN, width: size });
  return { src: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`, size };
}

/** The notices of the recovery codes page (?done=), shown with the codes they are about. */
const RECOVERY_NOTICES: Record<string, string> = {
  'new-codes': 'New recovery codes made: the old ones no longer work.',
};

/** Where a session must go to re-authenticate before changing its MFA; JSON callers get 403. */
function sendToReauthentication(request: FastifyRequest, reply: FastifyReply, next: string) {
  if (wantsJson(request)) return reply.code(403).send({ error: 'reauthentication_required', redirect: `/reauth?${new URLSearchParams({ next })}` });
  return reply.redirect(`/reauth?${new URLSearchParams({ next })}`, 303);
}

export const mfaRoutes: HavenRoutes = async (server, { app }) => {
  const challenge = { access: 'mfa-challenge' as const };
  const enrolment = { access: 'mfa-enrolment' as const };
  const signedIn = { access: 'signed-in' as const };
  const mailConfigured = Boolean(app.config.smtpUrl);
  /** The site's methods, each with whether it can be chosen now (e-mail needs a mail relay). */
  const methodsOf = (settings: Pick<SiteSettings, 'mfa_enabled' | 'mfa_methods'>): MethodAvailability[] => availableMethods(settings, { mailConfigured });

  /** A second factor was just proved, in `tx`: the login goes on (mfa/service.ts `completeSecondFactor`). */
  const afterSecondFactor = (tx: Tx, request: FastifyRequest, done: 'mfa' | 'mfa_enrol' | 'full', withRecoveryCodes: boolean) =>
    completeSecondFactor(app, tx, { session: request.session!, done, client: clientOf(request), withRecoveryCodes });

  function setLoginCookies(reply: FastifyReply, result: { secret: string; sessionToken: string }) {
    setSessionCookie(reply, result.sessionToken);
    setMfaDeviceCookie(reply, result.secret);
  }

  // ---- /login/mfa: the code step --------------------------------------------------------

  async function challengePage(request: FastifyRequest, reply: FastifyReply, next: string, extra: { error?: string; notice?: string } = {}, status = 200) {
    const session = request.session!;
    const method = await currentMethod(app, session.user.id);
    const emailCode = method === 'email' ? await usableEmailCode(app, session.user.id) : null;
    return sendPage(
      reply,
      <MfaChallengePage
        ctx={pageContext(request, reply)}
        method={method}
        email={session.user.email}
        emailCode={emailCode}
        mailConfigured={mailConfigured}
        next={next}
        {...extra}
      />,
      status,
    );
  }

  server.get('/login/mfa', { config: challenge, schema: { querystring: query({ next: redirectTarget(), ...noticeQuery }) } }, async (request, reply) => {
    return challengePage(request, reply, request.query.next, { notice: sentNotice(request.query) });
  });

  const codeInvalid = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) =>
    challengePage(request, reply, safeRedirectPath(formField(request.body, 'next')), { error: errors.code ?? Object.values(errors)[0] }, 400);

  server.post('/login/mfa', { config: { ...challenge, duringReadOnly: 'allowed', onInvalidInput: codeInvalid }, schema: { body: codeForm, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const { next, code } = request.body;
    if (!code.trim()) return challengePage(request, reply, next, { error: 'Enter the code.' }, 400);
    if (request.readOnly) {
      const checked = await checkCodeWhileReadOnly(app, { session, code, ip: request.ip });
      if (checked.outcome === 'refused') return challengePage(request, reply, next, { error: tooManyAttempts(reply, checked.retryAfterSeconds) }, 429);
      if (checked.outcome === 'failed') return challengePage(request, reply, next, { error: 'That code is not valid or was already used. While Haven is read-only, a code from your authenticator app or the one just e-mailed works; recovery codes wait until it is back.' }, 400);
      setSessionCookie(reply, checked.value.sessionToken);
      return reply.redirect(pageForStep(checked.value.step, next), 303);
    }
    const checked = await checkUserCode(app, { userId: session.user.id, code, ip: request.ip, purpose: 'login' }, (tx) => afterSecondFactor(tx, request, 'mfa', false));
    if (checked.outcome === 'refused') return challengePage(request, reply, next, { error: tooManyAttempts(reply, checked.retryAfterSeconds) }, 429);
    if (checked.outcome === 'failed') return challengePage(request, reply, next, { error: 'That code is not valid, has expired or was already used.' }, 400);
    setLoginCookies(reply, checked.value.value);
    return reply.redirect(pageForStep(checked.value.value.step, next), 303);
  });

  server.post('/login/mfa/resend', { config: challenge, schema: { body: form({ next: redirectTarget() }), querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const next = request.body.next;
    const query = new URLSearchParams(next === '/' ? {} : { next });
    // Without a mail relay no code can be sent: nothing is queued, and no "on its way" is said.
    if (mailConfigured && (await currentMethod(app, session.user.id)) === 'email') {
      for (const [k, v] of Object.entries(sentQuery(await resendCode(app, mfaUserOf(session), 'login')))) query.set(k, v);
    }
    return reply.redirect(`/login/mfa?${query}`, 303);
  });

  server.post('/login/mfa/passkey/options', { config: { ...challenge, duringReadOnly: 'allowed' }, schema: { body: EMPTY_JSON, querystring: NO_QUERY } }, async (request, reply) => {
    if (request.readOnly) {
      const prepared = await authenticationOptionsWhileReadOnly(app, request.session!);
      if (!prepared) return reply.code(400).send({ error: 'Haven became read-only during your sign-in: sign in again.' });
      setSessionCookie(reply, prepared.sessionToken);
      return reply.send(prepared.options);
    }
    return reply.send(await authenticationOptions(app, request.session!.id, request.session!.user.id));
  });

  server.post('/login/mfa/passkey', { config: { ...challenge, duringReadOnly: 'allowed' }, schema: { body: webauthnResponse, querystring: query({ next: redirectTarget() }) } }, async (request, reply) => {
    const session = request.session!;
    if (request.readOnly) {
      const outcome = await verifyPasskeyWhileReadOnly(app, { session, response: request.body as never, ip: request.ip });
      if (!outcome.ok) return reply.code(400).send({ error: outcome.error });
      const result = await afterSecondFactorWhileReadOnly(app, session);
      setSessionCookie(reply, result.sessionToken);
      return reply.send({ redirect: pageForStep(result.step, request.query.next) });
    }
    const outcome = await verifyPasskey(app, { sessionId: session.id, user: mfaUserOf(session), response: request.body as never, ip: request.ip, purpose: 'login' });
    if (!outcome.ok) return reply.code(400).send({ error: outcome.error });
    const result = await completeSecondFactor(app, null, { session, done: 'mfa', client: clientOf(request), withRecoveryCodes: false });
    setLoginCookies(reply, result);
    return reply.send({ redirect: pageForStep(result.step, request.query.next) });
  });

  // ---- Re-authentication (before any change to one's MFA) -------------------------------

  async function reauthPage(request: FastifyRequest, reply: FastifyReply, next: string, extra: { error?: string } = {}, status = 200) {
    const session = request.session!;
    const step = await reauthStep(app, session);
    const emailCode = step.step === 'factor' && step.method === 'email' ? await usableEmailCode(app, session.user.id) : null;
    return sendPage(reply, <ReauthPage ctx={pageContext(request, reply)} step={step} next={next} email={session.user.email} emailCode={emailCode} mailConfigured={mailConfigured} {...extra} />, status);
  }

  server.get('/reauth', { config: enrolment, schema: { querystring: query({ next: redirectTarget() }) } }, async (request, reply) => reauthPage(request, reply, request.query.next));

  const reauthPasswordForm = form({ password: optional(secret()), next: redirectTarget() });
  const reauthInvalid = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) =>
    reauthPage(request, reply, safeRedirectPath(formField(request.body, 'next')), { error: Object.values(errors)[0] }, 400);

  server.post('/reauth/password', { config: { ...enrolment, onInvalidInput: reauthInvalid }, schema: { body: reauthPasswordForm, querystring: NO_QUERY } }, async (request, reply) => {
    const { password, next } = request.body;
    const outcome = await confirmPassword(app, request.session!, password, clientOf(request));
    if (!outcome.ok) {
      if (outcome.retryAfterSeconds) tooManyAttempts(reply, outcome.retryAfterSeconds);
      return reauthPage(request, reply, next, { error: outcome.error }, outcome.retryAfterSeconds ? 429 : 400);
    }
    if (outcome.sessionToken) {
      setSessionCookie(reply, outcome.sessionToken);
      return reply.redirect(next, 303);
    }
    return reply.redirect(`/reauth?${new URLSearchParams({ next })}`, 303);
  });

  server.post('/reauth/code', { config: { ...enrolment, onInvalidInput: reauthInvalid }, schema: { body: codeForm, querystring: NO_QUERY } }, async (request, reply) => {
    const { code, next } = request.body;
    const outcome = await confirmCode(app, request.session!, code, clientOf(request));
    if (!outcome.ok) {
      if (outcome.retryAfterSeconds) tooManyAttempts(reply, outcome.retryAfterSeconds);
      return reauthPage(request, reply, next, { error: outcome.error }, outcome.retryAfterSeconds ? 429 : 400);
    }
    if (outcome.sessionToken) setSessionCookie(reply, outcome.sessionToken);
    return reply.redirect(next, 303);
  });

  server.post('/reauth/passkey/options', { config: enrolment, schema: { body: EMPTY_JSON, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    if ((await reauthStep(app, session)).step !== 'factor') return reply.code(400).send({ error: 'Confirm your password first.' });
    return reply.send(await authenticationOptions(app, session.id, session.user.id));
  });

  server.post('/reauth/passkey', { config: enrolment, schema: { body: webauthnResponse, querystring: query({ next: redirectTarget() }) } }, async (request, reply) => {
    const session = request.session!;
    if ((await reauthStep(app, session)).step !== 'factor') return reply.code(400).send({ error: 'Confirm your password first.' });
    const outcome = await verifyPasskey(app, { sessionId: session.id, user: mfaUserOf(session), response: request.body as never, ip: request.ip, purpose: 'reauth' });
    if (!outcome.ok) return reply.code(400).send({ error: outcome.error });
    const token = await completeReauthentication(app, session, clientOf(request));
    if (token) setSessionCookie(reply, token);
    return reply.send({ redirect: request.query.next });
  });

  // ---- Enrolment (Actions > Enable MFA, or forced at login) ------------------------------

  /** Enrolment done, in its transaction: new session id, the device remembered, recovery codes to show. */
  const finishEnrolment = (request: FastifyRequest) => (tx: Tx) =>
    afterSecondFactor(tx, request, request.session!.stage === 'full' ? 'full' : 'mfa_enrol', true);

  const afterEnrolment = (step: string) => (step === 'full' ? '/mfa/recovery-codes' : pageForStep(step as never, '/'));

  async function enrolmentPage(request: FastifyRequest, reply: FastifyReply, extra: { error?: string; notice?: string } = {}, status = 200) {
    const session = request.session!;
    if (!mayChangeMfa(app, session)) return sendToReauthentication(request, reply, '/mfa/enrol');
    const ctx = pageContext(request, reply);
    const required = session.stage === 'mfa_enrol';
    const settings = await getSiteSettings(app);
    const state = await mfaState(app, session.user.id);
    if (state?.mfaEnabled) return reply.redirect('/preferences', 303);
    const pending = await pendingEnrolment(app, session.user.id);
    const methods = methodsOf(settings);
    if (!pending || !usableMethods(methods).includes(pending.method)) {
      return sendPage(reply, <EnrolChoosePage ctx={ctx} methods={methods} selected={preselectedMethod(methods)} required={required} error={extra.error} />, status);
    }
    if (pending.method === 'app') {
      const qr = await qrCodeImage(otpauthUri(pending.totpSecret!, session.user.login));
      return sendPage(reply, <EnrolAppPage ctx={ctx} qr={qr} manualKey={pending.totpSecret!} required={required} error={extra.error} />, status);
    }
    if (pending.method === 'email') return sendPage(reply, <EnrolEmailPage ctx={ctx} email={session.user.email} required={required} {...extra} />, status);
    return sendPage(reply, <EnrolPasskeyPage ctx={ctx} required={required} error={extra.error} />, status);
  }

  server.get('/mfa/enrol', { config: enrolment, schema: { querystring: query(noticeQuery) } }, async (request, reply) => {
    return enrolmentPage(request, reply, { notice: sentNotice(request.query) });
  });

  const enrolInvalid = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => enrolmentPage(request, reply, { error: Object.values(errors)[0] }, 400);

  server.post('/mfa/enrol', { config: { ...enrolment, onInvalidInput: enrolInvalid }, schema: { body: form({ method: optional(line(20)) }), querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    if (!mayChangeMfa(app, session)) return sendToReauthentication(request, reply, '/mfa/enrol');
    const method = request.body.method;
    const methods = methodsOf(await getSiteSettings(app));
    const choice = isMfaMethod(method) ? methods.find((m) => m.method === method) : undefined;
    if (!choice?.available) {
      const error = choice?.reason ?? (!methods.length ? 'No method is offered.' : method ? 'Choose one of the methods listed.' : 'Choose a method.');
      return enrolmentPage(request, reply, { error }, 400);
    }
    const state = await mfaState(app, session.user.id);
    if (state?.mfaEnabled) return reply.redirect('/preferences', 303);
    await startEnrolment(app, mfaUserOf(session), choice.method);
    return reply.redirect('/mfa/enrol', 303);
  });

  server.post('/mfa/enrol/confirm', { config: { ...enrolment, onInvalidInput: enrolInvalid }, schema: { body: codeForm, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    if (!mayChangeMfa(app, session)) return sendToReauthentication(request, reply, '/mfa/enrol');
    const code = request.body.code;
    if (!code.trim()) return enrolmentPage(request, reply, { error: 'Enter the code.' }, 400);
    const outcome = await confirmEnrolmentCode(app, { user: mfaUserOf(session), code, ip: request.ip, sessionId: session.id }, finishEnrolment(request));
    if (!outcome.ok) {
      if (outcome.retryAfterSeconds) tooManyAttempts(reply, outcome.retryAfterSeconds);
      return enrolmentPage(request, reply, { error: outcome.error }, outcome.retryAfterSeconds ? 429 : 400);
    }
    setLoginCookies(reply, outcome.value);
    return reply.redirect(afterEnrolment(outcome.value.step), 303);
  });

  server.post('/mfa/enrol/resend', { config: enrolment, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    const pending = await pendingEnrolment(app, request.session!.user.id);
    if (pending?.method !== 'email' || !mailConfigured) return reply.redirect('/mfa/enrol', 303);
    const outcome = await resendCode(app, mfaUserOf(request.session!), 'enrol');
    return reply.redirect(`/mfa/enrol?${new URLSearchParams(sentQuery(outcome))}`, 303);
  });

  server.post('/mfa/enrol/cancel', { config: enrolment, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    await cancelEnrolment(app, request.session!.user.id);
    return reply.redirect('/mfa/enrol', 303);
  });

  server.post('/mfa/enrol/passkey/options', { config: enrolment, schema: { body: EMPTY_JSON, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    if (!mayChangeMfa(app, session)) return sendToReauthentication(request, reply, '/mfa/enrol');
    const pending = await pendingEnrolment(app, session.user.id);
    if (pending?.method !== 'passkey') return reply.code(400).send({ error: 'Choose the passkey method first.' });
    return reply.send(await registrationOptions(app, session.id, { ...mfaUserOf(session), fullName: session.user.fullName }));
  });

  server.post('/mfa/enrol/passkey', { config: enrolment, schema: { body: webauthnResponse, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    if (!mayChangeMfa(app, session)) return sendToReauthentication(request, reply, '/mfa/enrol');
    const pending = await pendingEnrolment(app, session.user.id);
    if (pending?.method !== 'passkey') return reply.code(400).send({ error: 'Choose the passkey method first.' });
    const outcome = await completePasskeyRegistration(app, session.id, mfaUserOf(session), request.body as never, finishEnrolment(request));
    if (!outcome.ok) return reply.code(400).send({ error: outcome.error });
    setLoginCookies(reply, outcome.value);
    return reply.send({ redirect: afterEnrolment(outcome.value.step) });
  });

  // ---- Recovery codes -----------------------------------------------------------------------

  // New codes are made by a POST (an enrolment, or "make new codes") and wait, sealed, in the
  // session; this page takes them (read and cleared at once) and shows them, once. Opening it
  // again, or from another request racing this one, shows only how many are left.
  server.get('/mfa/recovery-codes', { config: signedIn, schema: { querystring: query({ done: z.string().max(20).optional() }) } }, async (request, reply) => {
    const session = request.session!;
    const state = await mfaState(app, session.user.id);
    if (!state?.mfaEnabled) return reply.redirect('/preferences', 303);
    const sealed = await takeSessionValue(app, session.id, 'recovery_codes_sealed');
    const opened = sealed ? unsealForSession(sessionCookieToken(request), RECOVERY_CODES_SEAL, sealed) : null;
    const codes = opened ? opened.split('\n') : null;
    const counts = codes ? null : await recoveryCodeCounts(app, session.user.id);
    const done = request.query.done;
    // Codes just made: by an enrolment (MFA has just been turned on), or by "Make ten new codes".
    const notice = !codes ? undefined : done && Object.hasOwn(RECOVERY_NOTICES, done) ? RECOVERY_NOTICES[done] : 'Multifactor authentication is on.';
    const account = { login: session.user.login, site: app.config.baseUrl, madeAt: app.clock.now() };
    return sendPage(
      reply,
      <RecoveryCodesPage ctx={pageContext(request, reply)} codes={codes} unused={codes ? codes.length : counts!.unused} notice={notice} account={account} />,
    );
  });

  server.post('/mfa/recovery-codes', { config: signedIn, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    if (!mayChangeMfa(app, session)) return sendToReauthentication(request, reply, '/mfa/recovery-codes');
    const state = await mfaState(app, session.user.id);
    if (!state?.mfaEnabled) return reply.redirect('/preferences', 303);
    await replaceRecoveryCodes(app, mfaUserOf(session), { id: session.id, token: sessionCookieToken(request) });
    return reply.redirect('/mfa/recovery-codes?done=new-codes', 303);
  });

  // ---- Administrator-only security form ------------------------------------------------

  async function adminPage(request: FastifyRequest, reply: FastifyReply, extra: { notice?: string; error?: string } = {}, status = 200) {
    const id = (request.params as { id: string }).id;
    const user = await userForSecurityForm(app, id);
    const state = user ? await mfaState(app, id) : null;
    if (!user || !state) return sendErrorPage(request, reply, 404, 'Not found', 'There is no such user.');
    const role = await getRole(app, user.roleId);
    if (!(await mayManageAccountsWithRole(app, request.session!.user, role))) return refuseToManage(request, reply);
    const settings = await getSiteSettings(app);
    return sendPage(
      reply,
      <AdminSecurityPage ctx={pageContext(request, reply)} user={{ ...user, roleName: role?.name ?? '' }} state={state} methods={methodsOf(settings)} {...extra} />,
      status,
    );
  }

  server.get('/admin/users/:id/security', { config: { access: 'admin_users' }, schema: { params: ID_PARAMS, querystring: query({ done: z.string().max(10).optional() }) } }, async (request, reply) =>
    adminPage(request, reply, { notice: request.query.done ? 'Done. The user has been signed out everywhere.' : undefined }),
  );

  const adminInvalid = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => adminPage(request, reply, { error: Object.values(errors)[0] }, 400);
  const adminForm = form({ action: optional(line(40)), method: optional(line(20)) });

  server.post(
    '/admin/users/:id/security',
    { config: { access: 'admin_users', onInvalidInput: adminInvalid }, schema: { params: ID_PARAMS, body: adminForm, querystring: NO_QUERY } },
    async (request, reply) => {
      const session = request.session!;
      const { action: kind, method } = request.body;
      const target = await userForSecurityForm(app, request.params.id);
      if (!target) return sendErrorPage(request, reply, 404, 'Not found', 'There is no such user.');
      if (!(await mayManageAccountsWithRole(app, session.user, await getRole(app, target.roleId)))) return refuseToManage(request, reply);
      let action: AdminMfaAction | null = null;
      let error = 'Unknown action.';
      if (kind === 'disable' || kind === 'require_enrolment') action = { kind };
      else if (kind === 'change_method') {
        const choice = isMfaMethod(method) ? methodsOf(await getSiteSettings(app)).find((m) => m.method === method) : undefined;
        if (choice?.available) action = { kind, method: choice.method };
        else error = choice?.method === 'email' ? ADMIN_EMAIL_UNAVAILABLE : (choice?.reason ?? 'Choose a method the site offers.');
      }
      if (!action) return adminPage(request, reply, { error }, 400);
      const done = await applyAdminMfaAction(app, request.params.id, action, { actor: session.user, ip: request.ip });
      if (!done) return sendErrorPage(request, reply, 404, 'Not found', 'There is no such user.');
      return reply.redirect(`/admin/users/${request.params.id}/security?done=1`, 303);
    },
  );
};
