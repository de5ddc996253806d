import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { line, NO_QUERY, query } from '../web/input.ts';
import { recordAudit } from '../audit/service.ts';
import { listUsers } from '../users/service.ts';
import { listUserReport } from '../reports/service.ts';
import { addNote, openCase } from '../cases/service.ts';
import { searchCases } from '../cases/search.ts';
import { viewerOf } from '../cases/access.ts';
import { mayViewAnyCase } from '../security/case-access.ts';
import type { Access } from '../web/access.ts';
import { caseJson, createCaseViaApi, createClientViaApi } from './service.ts';
import { ApiDocsPage } from './views.tsx';

// API v1 (DESIGN §1.7, §2.4): JSON under /api/v1, a personal access token in
// `Authorization: Bearer`, every call audited with the token's name. The schemas here are the
// validation and the OpenAPI document at once (/api/v1/openapi.json).

const ERROR = z.object({ error: z.string(), fields: z.record(z.string(), z.string()).optional() });
const ERRORS = { 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, 409: ERROR, 429: ERROR, 503: ERROR };
const ID = z.object({ id: z.uuid() });
const SECURITY = [{ bearerAuth: [] }];
const api = (access: Access) => ({ access, api: true });

const Me = z.object({ id: z.uuid(), login: z.string(), role: z.string() });
const UserItem = z.object({
  id: z.uuid(),
  login: z.string(),
  full_name: z.string(),
  email: z.string(),
  role: z.string(),
  login_active: z.boolean(),
  mfa_enabled: z.boolean(),
  mfa_method: z.string().nullable(),
  last_login_at: z.string().nullable(),
});
const ClientBody = z.object({
  first_name: line(100),
  last_name: line(100),
  date_of_birth: line(20).optional().describe('YYYY-MM-DD'),
  ssn: line(20).optional().describe('Nine digits, or only the last four when the site keeps four (ssn_digits=last4)'),
  phone: line(40).optional(),
  email: line(254).optional(),
});
const CaseBody = z.object({
  client_id: z.uuid(),
  problem_code: line(10).describe('An LSC Case Service Report problem code, e.g. 63'),
  adverse_parties: z.array(line(200)).max(20).optional(),
});
const CaseItem = z.object({ id: z.uuid(), number: z.string(), client_name: z.string(), disposition: z.string() });
const CaseFull = z.object({
  id: z.uuid(),
  number: z.string(),
  disposition: z.string(),
  problem_code: z.string(),
  office: z.string().nullable(),
  program: z.string().nullable(),
  funding_code: z.string().nullable(),
  status: z.string().nullable(),
  created_at: z.string(),
  closed_at: z.string().nullable(),
  client: z.object({
    id: z.uuid(),
    first_name: z.string(),
    last_name: z.string(),
    aliases: z.array(z.string()),
    date_of_birth: z.string().nullable(),
    ssn: z.string().nullable().describe('Masked (***-**-6789) unless the caller has ssn_view_full'),
    phone: z.string().nullable(),
    email: z.string().nullable(),
  }),
  adverse_parties: z.array(z.string()),
  assignees: z.array(z.object({ login: z.string(), kind: z.string() })),
  notes: z.array(z.object({ at: z.string(), author: z.string().nullable(), text: z.string() })),
  conflicts: z.array(z.object({ name: z.string(), score: z.number().int(), decision: z.string() })),
});
const NoteBody = z.object({ text: z.string().max(20_000) });
const ReportItem = z.object({
  login: z.string(),
  full_name: z.string(),
  role: z.string(),
  login_active: z.boolean(),
  mfa_enabled: z.boolean(),
  mfa_method: z.string().nullable(),
  last_login_at: z.string().nullable(),
});


export const apiRoutes: HavenRoutes = async (server, { app }) => {
  // Every call made with a token is audited with the token's name (DESIGN §1.7), before the
  // answer leaves: an unrecorded call never reaches the caller. Refused tokens are audited by
  // the access check; a 429 is not, so a flood cannot flood the audit log as well.
  server.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload) => {
    if (!request.apiToken || reply.statusCode === 429) return payload;
    await recordAudit(app, {
      action: 'api.call',
      actor: request.session!.user,
      target: `${request.method} ${request.routeOptions.url ?? request.url}`,
      ip: request.ip,
      details: { token: request.apiToken.name, status: reply.statusCode },
    });
    return payload;
  });

  const who = (request: FastifyRequest) => ({ actor: request.session!.user, ip: request.ip });

  server.get(
    '/api/v1/me',
    { config: api('signed-in'), schema: { summary: 'The caller', tags: ['me'], security: SECURITY, querystring: NO_QUERY, response: { 200: Me, ...ERRORS } } },
    async (request) => {
      const { user } = request.session!;
      return { id: user.id, login: user.login, role: user.roleName };
    },
  );

  server.get(
    '/api/v1/users',
    {
      config: api('admin_users'),
      schema: { summary: 'Every user (needs admin_users)', tags: ['users'], security: SECURITY, querystring: NO_QUERY, response: { 200: z.object({ items: z.array(UserItem) }), ...ERRORS } },
    },
    async () => ({
      items: (await listUsers(app)).map((u) => ({
        id: u.id,
        login: u.login,
        full_name: u.fullName,
        email: u.email,
        role: u.roleName,
        login_active: u.loginActive,
        mfa_enabled: u.mfaEnabled,
        mfa_method: u.mfaMethod,
        last_login_at: u.lastLoginAt?.toISOString() ?? null,
      })),
    }),
  );

  server.get(
    '/api/v1/reports/users',
    {
      config: api('admin_users'),
      schema: { summary: 'The users report: MFA state and last login (needs admin_users; audited as an export)', tags: ['reports'], security: SECURITY, querystring: NO_QUERY, response: { 200: z.object({ items: z.array(ReportItem) }), ...ERRORS } },
    },
    async (request) => {
      const rows = await app.db.transaction(async (tx) => {
        const found = await listUserReport(app, tx);
        await recordAudit(app, { action: 'report.users.export', actor: request.session!.user, target: 'users', ip: request.ip, details: { format: 'json', rows: found.length } }, tx);
        return found;
      });
      return {
        items: rows.map((r) => ({
          login: r.login,
          full_name: r.fullName,
          role: r.roleName,
          login_active: r.loginActive,
          mfa_enabled: r.mfaEnabled,
          mfa_method: r.mfaMethod,
          last_login_at: r.lastLoginAt?.toISOString() ?? null,
        })),
      };
    },
  );

  server.post(
    '/api/v1/clients',
    {
      config: api('cases_create'),
      schema: { summary: 'Create a client (needs cases_create)', tags: ['clients'], security: SECURITY, body: ClientBody, querystring: NO_QUERY, response: { 201: z.object({ id: z.uuid() }), ...ERRORS } },
    },
    async (request, reply) => {
      const created = await createClientViaApi(app, request.body, who(request));
      if (!created.ok) return reply.code(400).send({ error: 'invalid_input', fields: created.fields });
      return reply.code(201).send({ id: created.id });
    },
  );

  server.post(
    '/api/v1/cases',
    {
      config: api('cases_create'),
      schema: { summary: 'Open a Pending case for a client (needs cases_create)', tags: ['cases'], security: SECURITY, body: CaseBody, querystring: NO_QUERY, response: { 201: z.object({ id: z.uuid(), number: z.string() }), ...ERRORS } },
    },
    async (request, reply) => {
      const created = await createCaseViaApi(app, viewerOf(request.session!), request.body, who(request));
      if (!created.ok) return reply.code(400).send({ error: 'invalid_input', fields: created.fields });
      return reply.code(201).send({ id: created.id, number: created.number });
    },
  );

  server.get(
    '/api/v1/cases',
    {
      config: api('signed-in'),
      schema: {
        summary: 'Search the cases the caller may see, by case number, client name (sounds-like too) or date of birth',
        tags: ['cases'],
        security: SECURITY,
        querystring: query({ q: line(200).optional() }),
        response: { 200: z.object({ items: z.array(CaseItem) }), ...ERRORS },
      },
    },
    async (request, reply) => {
      const session = request.session!;
      if (!mayViewAnyCase(session.permissions)) return reply.code(403).send({ error: 'forbidden' });
      const q = (request.query.q ?? '').trim();
      const found = q ? await searchCases(app, viewerOf(session), q) : [];
      return { items: found.map((c) => ({ id: c.id, number: c.number, client_name: c.clientName, disposition: c.disposition })) };
    },
  );

  server.get(
    '/api/v1/cases/:id',
    { config: api('signed-in'), schema: { summary: 'A case (404 if the caller may not see it; every read is audited)', tags: ['cases'], security: SECURITY, params: ID, querystring: NO_QUERY, response: { 200: CaseFull, ...ERRORS } } },
    async (request, reply) => {
      const session = request.session!;
      const c = await openCase(app, viewerOf(session), request.params.id, who(request));
      if (!c) return reply.code(404).send({ error: 'not_found' });
      return caseJson(c, session.permissions);
    },
  );

  server.post(
    '/api/v1/cases/:id/notes',
    {
      config: api('signed-in'),
      schema: { summary: 'Add a note to a case (needs cases_edit)', tags: ['cases'], security: SECURITY, params: ID, body: NoteBody, querystring: NO_QUERY, response: { 201: z.object({ ok: z.literal(true) }), ...ERRORS } },
    },
    async (request, reply) => {
      const result = await addNote(app, viewerOf(request.session!), request.params.id, request.body.text, who(request));
      if (result.ok) return reply.code(201).send({ ok: true as const });
      if (result.status === 404) return reply.code(404).send({ error: 'not_found' });
      if (result.status === 400) return reply.code(400).send({ error: 'invalid_input', fields: { text: result.fields?.note ?? result.message } });
      return reply.code(result.status).send({ error: result.status === 403 ? 'forbidden' : 'conflict' });
    },
  );

  server.get('/api/v1/openapi.json', { config: { access: 'public' }, schema: { hide: true, querystring: NO_QUERY } as never }, async () => server.swagger());

  server.get('/api/v1/docs', { config: { access: 'public' }, schema: { hide: true, querystring: NO_QUERY } as never }, async (request, reply) =>
    sendPage(reply, <ApiDocsPage ctx={pageContext(request, reply)} limits={app.config.apiRateLimits} document={server.swagger() as never} />),
  );
};
