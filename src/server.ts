import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyHelmet from '@fastify/helmet';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyMultipart from '@fastify/multipart';
import type { App } from './context.ts';
import { registerAccessControl } from './web/access.ts';
import { markReadOnlyRequests, refuseWritesWhileReadOnly } from './web/read-only.ts';
import { COOKIE_OPTIONS, CSRF_COOKIE } from './web/cookies.ts';
import { PERMISSIONS_POLICY } from './web/permissions-policy.ts';
export { PERMISSIONS_POLICY };
import { registerContentSecurityPolicy } from './web/content-security-policy.ts';
import { clientErrorHandler, frameworkErrors, registerErrorHandling } from './web/errors.tsx';
import { assertInputDeclared, parseUrlEncoded, validatorCompiler } from './web/input.ts';
import { serializerCompiler } from 'fastify-type-provider-zod';
import { webRoutes } from './web/routes.tsx';
import { authRoutes } from './auth/routes.tsx';
import { sessionRoutes } from './sessions/routes.ts';
import { userAdminRoutes } from './users/routes.tsx';
import { roleAdminRoutes } from './roles/routes.tsx';
import { locationRoutes } from './locations/routes.tsx';
import { ssoRoutes } from './sso/routes.tsx';
import { apiRoutes } from './api/routes.tsx';
import swagger from '@fastify/swagger';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { settingsRoutes } from './settings/routes.tsx';
import { auditRoutes } from './audit/routes.tsx';
import { mailRoutes } from './mail/routes.tsx';
import { mfaRoutes } from './mfa/routes.tsx';
import { reportRoutes } from './reports/routes.tsx';
import { preferencesRoutes } from './preferences/routes.tsx';
import { dashboardRoutes } from './dashboard/routes.tsx';
import { intakeRoutes } from './intake/routes.tsx';
import { caseRoutes } from './cases/routes.tsx';
import { documentRoutes } from './documents/routes.tsx';
import { exportRoutes } from './export/routes.tsx';
import { backupRoutes } from './backup/routes.tsx';
import { intakeAdminRoutes } from './intake/admin-routes.tsx';
import { lookupRoutes } from './lookups/routes.tsx';

export { CSRF_COOKIE } from './web/cookies.ts';


export interface ServerOptions {
  https?: { key: string; cert: string } & Record<string, unknown>;
  /** Extra routes (benchmarks); they declare their access like every other route. */
  extraRoutes?: FastifyPluginAsync<{ app: App }>;
}

/** Builds the Fastify app from the capability plugins. Listening is the caller's business. */
export async function buildServer(app: App, options: ServerOptions = {}): Promise<FastifyInstance> {
  const server = Fastify({
    loggerInstance: app.log,
    // Request lines would log URLs such as one-time setup links; the audit log records what matters.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: app.config.trustProxy.length ? app.config.trustProxy : false,
    bodyLimit: 1_048_576,
    // The few errors Fastify answers before any hook runs get Haven's own pages (web/errors.tsx).
    frameworkErrors,
    clientErrorHandler,
    // Query strings are decoded like form bodies: strictly, so that undecodable bytes are seen.
    routerOptions: { querystringParser: parseUrlEncoded },
    ...(options.https ? { https: options.https } : {}),
  }) as unknown as FastifyInstance;

  registerContentSecurityPolicy(server);
  // Browser features Haven does not use are switched off for its pages and anything they embed;
  // WebAuthn (passkeys) and the clipboard (copy buttons) stay available to Haven itself.
  server.addHook('onRequest', (_request, reply, done) => {
    reply.header('permissions-policy', PERMISSIONS_POLICY);
    done();
  });
  await server.register(fastifyHelmet, {
    contentSecurityPolicy: false,
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    referrerPolicy: { policy: 'same-origin' },
  });
  await server.register(fastifyCookie);
  // Multipart bodies (document uploads) are parsed only by the handler that asks, as a stream;
  // these are outer bounds, the handler sets the site's own size limit.
  await server.register(fastifyMultipart, { limits: { files: 1, fields: 4, parts: 5, fieldSize: 1024, fileSize: 200 * 1024 * 1024, headerPairs: 50 } });
  server.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, parseUrlEncoded(body as string)));
  server.setValidatorCompiler(validatorCompiler);
  server.setSerializerCompiler(serializerCompiler);
  await server.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: CSRF_COOKIE,
    cookieOpts: COOKIE_OPTIONS,
    getToken: (request) => {
      const body = request.body as Record<string, unknown> | undefined;
      // A multipart body (a document upload) is read by its handler, after this check: its
      // form carries the token in the address instead.
      const query = request.isMultipart() ? (request.query as Record<string, unknown> | undefined) : undefined;
      return (typeof body?._csrf === 'string' ? body._csrf : undefined) ?? (typeof query?._csrf === 'string' ? query._csrf : undefined) ?? (request.headers['x-csrf-token'] as string | undefined);
    },
  });
  markReadOnlyRequests(server, app);
  registerAccessControl(server, app);
  refuseWritesWhileReadOnly(server);
  server.addHook('onRoute', assertInputDeclared);
  registerErrorHandling(server);
  // Every state-changing request carries a CSRF token, the login form included. It is checked
  // before the input is validated: a forged request learns nothing about the form.
  server.addHook('preValidation', (request, reply, done) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return done();
    // An API route is authenticated by its bearer token alone, never by a cookie a browser
    // would add by itself: a forged cross-site request has no credential to borrow.
    if (request.routeOptions.config.api && request.apiToken) return done();
    server.csrfProtection(request, reply, done);
  });
  // Pages hold confidential data: no cache may keep them. Assets set their own policy.
  server.addHook('onSend', async (_request, reply) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  // The OpenAPI document (/api/v1/openapi.json) is generated from the API routes' own schemas,
  // so it cannot drift from what they accept. Only routes declared `api` are in it.
  await server.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Haven API', version: '1', description: 'Case management for legal aid: clients, cases and notes, with personal access tokens.' },
      servers: [{ url: app.config.baseUrl }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'A personal access token from My Preferences (hvn_…)' } } },
    },
    transform: (input) => (input.route.config?.api ? jsonSchemaTransform(input) : { schema: { ...input.schema, hide: true }, url: input.url }),
  });
  await server.register(webRoutes, { app });
  await server.register(documentRoutes, { app });
  await server.register(exportRoutes, { app });
  await server.register(backupRoutes, { app });
  await server.register(authRoutes, { app });
  await server.register(sessionRoutes, { app });
  await server.register(userAdminRoutes, { app });
  await server.register(roleAdminRoutes, { app });
  await server.register(locationRoutes, { app });
  await server.register(ssoRoutes, { app });
  await server.register(apiRoutes, { app });
  await server.register(settingsRoutes, { app });
  await server.register(auditRoutes, { app });
  await server.register(mailRoutes, { app });
  await server.register(mfaRoutes, { app });
  await server.register(reportRoutes, { app });
  await server.register(preferencesRoutes, { app });
  await server.register(dashboardRoutes, { app });
  await server.register(intakeRoutes, { app });
  await server.register(caseRoutes, { app });
  await server.register(intakeAdminRoutes, { app });
  await server.register(lookupRoutes, { app });
  if (options.extraRoutes) await server.register(options.extraRoutes, { app });
  return server;
}
