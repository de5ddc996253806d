import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { formField, pageContext } from '../web/page.ts';
import { form, ID_PARAMS, line, NO_BODY, NO_QUERY, optional, query, redirectTarget, secret, type FieldErrors } from '../web/input.ts';
import { clearSessionCookie, COOKIE_OPTIONS, setDeviceCookie, setSessionCookie } from '../web/cookies.ts';
import { safeRedirectPath } from '../security/redirect.ts';
import { SSO_FLOW_LIFETIME_MS } from '../security/sso.ts';
import { endSession } from '../sessions/service.ts';
import { attemptPasswordLogin } from '../auth/service.ts';
import { loginClientOf, pageForStep, tooManyAttempts } from '../auth/routes.tsx';
import { LoginPage } from '../auth/views.tsx';
import { listRoles } from '../roles/service.ts';
import {
  beginSsoLogin,
  finishSsoLogin,
  getSsoPolicy,
  linkRequestToUser,
  listIdentities,
  listLinkRequests,
  listProviders,
  pendingLinkOf,
  providersForLoginPage,
  removeProvider,
  saveProvider,
  setSsoPolicy,
  ssoReadiness,
  unlinkIdentity,
  type ProviderEditor,
} from './service.ts';
import { EMPTY_PROVIDER, LinkPage, ProviderPage, providerValuesOf, SsoPage, type ProviderFormValues } from './views.tsx';

/** A started sign-in (state, nonce, PKCE verifier), sealed; and an identity waiting for its first link. */
const FLOW_COOKIE = '__Host-haven_sso';
const LINK_COOKIE = '__Host-haven_sso_link';
const FLOW_COOKIE_OPTIONS = { ...COOKIE_OPTIONS, maxAge: SSO_FLOW_LIFETIME_MS / 1000 };

const providerParams = z.object({ provider: z.string().max(100) });

const providerForm = form({
  name: optional(line(200)),
  kind: optional(line(20)),
  issuer: optional(line(1000)),
  client_id: optional(line(1000)),
  client_secret: optional(secret(2000)),
  hosted_domain: optional(line(300)),
  trust_amr: z.enum(['yes']).optional(),
  new_account_role: optional(line(200)),
});
type ProviderBody = z.infer<typeof providerForm>;

const formValues = (body: ProviderBody): ProviderFormValues => ({
  name: body.name,
  kind: body.kind,
  issuer: body.issuer,
  clientId: body.client_id,
  hostedDomain: body.hosted_domain,
  trustAmr: body.trust_amr === 'yes',
  newAccountRole: body.new_account_role,
});

const rawValues = (body: unknown): ProviderFormValues => ({
  name: formField(body, 'name'),
  kind: formField(body, 'kind'),
  issuer: formField(body, 'issuer'),
  clientId: formField(body, 'client_id'),
  hostedDomain: formField(body, 'hosted_domain'),
  trustAmr: formField(body, 'trust_amr') === 'yes',
  newAccountRole: formField(body, 'new_account_role'),
});

const policyForm = form({ policy: optional(line(20)), break_glass: optional(line(256)) });
const linkForm = form({ login: optional(line(256)), password: optional(secret()), next: redirectTarget() });
const adminLinkForm = form({ login: optional(line(256)) });

// The provider's answer. openid-client reads the whole address (parameters named here or not);
// these are only checked to be text of a sane length.
const callbackQuery = query({
  code: z.string().max(4096).optional(),
  state: z.string().max(4096).optional(),
  iss: z.string().max(4096).optional(),
  error: z.string().max(4096).optional(),
  error_description: z.string().max(4096).optional(),
});

export const ssoRoutes: HavenRoutes = async (server, { app }) => {
  const loginPage = (request: FastifyRequest, reply: FastifyReply, props: { next: string; error?: string; login?: string }, status: number) =>
    providersForLoginPage(app).then((sso) => sendPage(reply, <LoginPage ctx={{ ...pageContext(request, reply), session: null }} sso={sso} {...props} />, status));

  // ---- Signing in ------------------------------------------------------------------------

  server.get(
    '/login/sso/:provider',
    { config: { access: 'public' }, schema: { params: providerParams, querystring: query({ next: redirectTarget() }) } },
    async (request, reply) => {
      const started = await beginSsoLogin(app, request.params.provider, request.query.next);
      if (!started.ok && started.reason === 'unknown') return reply.callNotFound();
      if (!started.ok) return loginPage(request, reply, { next: request.query.next, error: 'The identity provider could not be reached. Try again in a moment.' }, 502);
      reply.setCookie(FLOW_COOKIE, started.flowCookie, FLOW_COOKIE_OPTIONS);
      return reply.redirect(started.redirect, 303);
    },
  );

  server.get(
    '/login/sso/:provider/callback',
    { config: { access: 'public' }, schema: { params: providerParams, querystring: callbackQuery } },
    async (request, reply) => {
      if (request.session) await endSession(app, request.session);
      reply.clearCookie(FLOW_COOKIE, COOKIE_OPTIONS);
      // The address the provider redirected to, as Haven published it (never from the Host header).
      const callbackUrl = new URL(request.url, app.config.baseUrl);
      const outcome = await finishSsoLogin(app, {
        providerName: request.params.provider,
        callbackUrl,
        flowCookie: request.cookies[FLOW_COOKIE],
        client: loginClientOf(request),
      });
      if (outcome.kind === 'refused') {
        clearSessionCookie(reply);
        return loginPage(request, reply, { next: '/', error: outcome.message }, outcome.status);
      }
      if (outcome.kind === 'link') {
        clearSessionCookie(reply);
        reply.setCookie(LINK_COOKIE, outcome.linkCookie, FLOW_COOKIE_OPTIONS);
        return reply.redirect('/login/sso/link', 303);
      }
      setSessionCookie(reply, outcome.sessionToken);
      setDeviceCookie(reply, outcome.deviceToken);
      return reply.redirect(pageForStep(outcome.stage, outcome.next), 303);
    },
  );

  /** The link page for this browser's pending identity, or the page that says there is none. */
  const linkPage = (request: FastifyRequest, reply: FastifyReply, props: { next?: string; login?: string; error?: string }, status: number) => {
    const pending = pendingLinkOf(app, request.cookies[LINK_COOKIE]);
    const ctx = { ...pageContext(request, reply), session: null };
    if (!pending) return sendPage(reply, <LinkPage ctx={ctx} providerName="" email={null} next="/" expired />, 400);
    return sendPage(reply, <LinkPage ctx={ctx} providerName={pending.label} email={pending.email} next={props.next ?? pending.next} login={props.login} error={props.error} />, status);
  };

  server.get('/login/sso/link', { config: { access: 'public' }, schema: { querystring: NO_QUERY } }, async (request, reply) => linkPage(request, reply, {}, 200));

  const linkInvalid = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) =>
    linkPage(request, reply, { next: safeRedirectPath(formField(request.body, 'next')), error: Object.values(errors)[0] }, 400);

  server.post(
    '/login/sso/link',
    { config: { access: 'public', onInvalidInput: linkInvalid }, schema: { body: linkForm, querystring: NO_QUERY } },
    async (request, reply) => {
      const pending = pendingLinkOf(app, request.cookies[LINK_COOKIE]);
      if (!pending) return linkPage(request, reply, {}, 400);
      if (request.session) await endSession(app, request.session);
      const { login, password, next } = request.body;
      const outcome = await attemptPasswordLogin(app, { login, password, ...loginClientOf(request), link: pending });
      if (!outcome.ok) {
        clearSessionCookie(reply);
        if (outcome.retryAfterSeconds !== undefined) return linkPage(request, reply, { next, login, error: tooManyAttempts(reply, outcome.retryAfterSeconds) }, 429);
        const message = `Login name or password is incorrect, or this account is linked to another ${pending.providerName} identity already.`;
        return linkPage(request, reply, { next, login, error: message }, 401);
      }
      reply.clearCookie(LINK_COOKIE, COOKIE_OPTIONS);
      setSessionCookie(reply, outcome.sessionToken);
      setDeviceCookie(reply, outcome.deviceToken);
      return reply.redirect(pageForStep(outcome.stage, next), 303);
    },
  );

  // ---- Admin > Single Sign On ------------------------------------------------------------

  const access = 'admin_site_settings' as const;
  const editorOf = (request: FastifyRequest): ProviderEditor => ({ actor: request.session!.user, ip: request.ip });

  async function renderPage(
    request: FastifyRequest,
    reply: FastifyReply,
    options: { values?: ProviderFormValues; errors?: FieldErrors; status?: number; saved?: string; policyValues?: { policy: string; breakGlass: string } } = {},
  ) {
    const [policy, providers, readiness, identities, requests, roles] = await Promise.all([
      getSsoPolicy(app),
      listProviders(app),
      ssoReadiness(app),
      listIdentities(app),
      listLinkRequests(app),
      listRoles(app),
    ]);
    return sendPage(
      reply,
      <SsoPage
        ctx={pageContext(request, reply)}
        policy={policy}
        providers={providers}
        readiness={readiness}
        identities={identities}
        requests={requests}
        roles={roles.map((r) => r.name)}
        baseUrl={app.config.baseUrl}
        values={options.values ?? EMPTY_PROVIDER}
        errors={options.errors ?? {}}
        policyValues={options.policyValues}
        saved={options.saved}
      />,
      options.status ?? 200,
    );
  }

  async function renderProvider(request: FastifyRequest, reply: FastifyReply, id: string, values: ProviderFormValues | null, errors: FieldErrors, status = 200) {
    const [providers, roles] = await Promise.all([listProviders(app), listRoles(app)]);
    const provider = providers.find((p) => p.id === id);
    if (!provider) return reply.callNotFound();
    return sendPage(
      reply,
      <ProviderPage ctx={pageContext(request, reply)} provider={provider} roles={roles.map((r) => r.name)} baseUrl={app.config.baseUrl} values={values ?? providerValuesOf(provider)} errors={errors} />,
      status,
    );
  }

  const SAVED: Record<string, string> = {
    policy: 'Policy saved.',
    added: 'Provider added.',
    changed: 'Provider saved.',
    removed: 'Provider removed.',
    linked: 'Identity linked.',
    unlinked: 'Identity unlinked.',
  };
  const savedQuery = query({ saved: optional(line(200)).catch('') });

  server.get('/admin/sso', { config: { access }, schema: { querystring: savedQuery } }, async (request, reply) => {
    const saved = request.query.saved;
    return renderPage(request, reply, { saved: saved && Object.hasOwn(SAVED, saved) ? SAVED[saved] : undefined });
  });

  server.post(
    '/admin/sso/policy',
    {
      config: {
        access,
        onInvalidInput: (request, reply, errors) =>
          renderPage(request, reply, { errors, status: 400, policyValues: { policy: formField(request.body, 'policy'), breakGlass: formField(request.body, 'break_glass') } }),
      },
      schema: { body: policyForm, querystring: NO_QUERY },
    },
    async (request, reply) => {
      const result = await setSsoPolicy(app, { policy: request.body.policy, breakGlassLogin: request.body.break_glass }, editorOf(request));
      if (!result.ok) return renderPage(request, reply, { errors: result.errors, status: 400, policyValues: { policy: request.body.policy, breakGlass: request.body.break_glass } });
      return reply.redirect('/admin/sso?saved=policy', 303);
    },
  );

  server.post(
    '/admin/sso/providers',
    {
      config: { access, onInvalidInput: (request, reply, errors) => renderPage(request, reply, { values: rawValues(request.body), errors, status: 400 }) },
      schema: { body: providerForm, querystring: NO_QUERY },
    },
    async (request, reply) => {
      const values = formValues(request.body);
      const result = await saveProvider(app, { ...values, clientSecret: request.body.client_secret }, editorOf(request));
      if (!result.ok) return renderPage(request, reply, { values, errors: result.errors, status: 400 });
      return reply.redirect('/admin/sso?saved=added', 303);
    },
  );

  server.get('/admin/sso/providers/:id', { config: { access }, schema: { params: ID_PARAMS, querystring: NO_QUERY } }, async (request, reply) =>
    renderProvider(request, reply, request.params.id, null, {}),
  );

  server.post(
    '/admin/sso/providers/:id',
    {
      config: {
        access,
        onInvalidInput: (request, reply, errors) => {
          const id = (request.params as { id?: string }).id ?? '';
          return errors.id ? reply.callNotFound() : renderProvider(request, reply, id, rawValues(request.body), errors, 400);
        },
      },
      schema: { params: ID_PARAMS, body: providerForm, querystring: NO_QUERY },
    },
    async (request, reply) => {
      const values = formValues(request.body);
      const result = await saveProvider(app, { ...values, clientSecret: request.body.client_secret }, editorOf(request), request.params.id);
      if (!result.ok) {
        if (result.errors._form === 'No such provider.') return reply.callNotFound();
        return renderProvider(request, reply, request.params.id, values, result.errors, 400);
      }
      return reply.redirect('/admin/sso?saved=changed', 303);
    },
  );

  server.post(
    '/admin/sso/providers/:id/remove',
    { config: { access }, schema: { params: ID_PARAMS, body: NO_BODY, querystring: NO_QUERY } },
    async (request, reply) => {
      const provider = (await listProviders(app)).find((p) => p.id === request.params.id);
      if (!provider) return reply.callNotFound();
      const result = await removeProvider(app, provider.name, editorOf(request));
      if (!result.ok) return renderProvider(request, reply, provider.id, null, { _remove: result.error }, 400);
      return reply.redirect('/admin/sso?saved=removed', 303);
    },
  );

  server.post(
    '/admin/sso/requests/:id/link',
    {
      config: { access, onInvalidInput: (request, reply, errors) => renderPage(request, reply, { errors: { _link: Object.values(errors)[0] ?? 'Check the form.' }, status: 400 }) },
      schema: { params: ID_PARAMS, body: adminLinkForm, querystring: NO_QUERY },
    },
    async (request, reply) => {
      const result = await linkRequestToUser(app, request.params.id, request.body.login, editorOf(request));
      if (!result.ok) {
        const errors = result.errors.login ? { [`login-${request.params.id}`]: result.errors.login } : { _link: result.errors._form ?? 'Check the form.' };
        return renderPage(request, reply, { errors, status: 400 });
      }
      return reply.redirect('/admin/sso?saved=linked', 303);
    },
  );

  server.post(
    '/admin/sso/identities/:id/unlink',
    { config: { access }, schema: { params: ID_PARAMS, body: NO_BODY, querystring: NO_QUERY } },
    async (request, reply) => {
      if (!(await unlinkIdentity(app, request.params.id, editorOf(request)))) return reply.callNotFound();
      return reply.redirect('/admin/sso?saved=unlinked', 303);
    },
  );
};
