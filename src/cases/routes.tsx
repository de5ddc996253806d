import { mayViewAnyCase } from '../security/case-access.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import type { App } from '../context.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { form, line, lines, optional, query, type FieldErrors } from '../web/input.ts';
import { sendErrorPage } from '../web/errors.tsx';
import { DISPOSITION_ACTIONS } from '../security/disposition.ts';
import { viewerOf } from './access.ts';
import { addNote, changeAssignment, changeDisposition, CONFLICT_DECISIONS, decideConflict, openCase, setMailAlias, updateCaseDetails, type CaseChange } from './service.ts';
import { myCases, recentCases, searchCases } from './search.ts';
import { CASE_DONE, CaseListPage, CasePage, type CaseDone } from './views.tsx';

const CASE_PARAMS = z.object({ id: z.uuid() });
const CONFLICT_PARAMS = z.object({ id: z.uuid(), conflictId: z.uuid() });
const noteForm = form({ note: optional(lines(20_000)) });
const dispositionForm = form({
  action: z.enum(DISPOSITION_ACTIONS, { error: 'Choose an action.' }),
  reason: optional(line(500)),
  referral: optional(lines(2000)),
  closing_code: optional(line(10)),
});
const assignmentForm = form({ assignee: optional(line(64)), remove: optional(z.enum(['yes', 'no'])) });
const conflictForm = form({ decision: z.enum(CONFLICT_DECISIONS, { error: 'Choose a decision.' }) });
const mailAliasForm = form({ mail_alias: optional(line(100)) });
const detailsForm = form({ office: optional(line(200)), program: optional(line(200)), funding_code: optional(line(200)), status: optional(line(200)) });

export interface CasePageExtra {
  errors?: FieldErrors;
  formError?: string;
  status?: number;
  done?: CaseDone;
}

/** The case page, or 404; with errors beside their fields after a refused form (any route of the case's). */
export async function renderCasePage(app: App, request: FastifyRequest, reply: FastifyReply, id: string, extra: CasePageExtra = {}) {
  const session = request.session!;
  const c = await openCase(app, viewerOf(session), id, { actor: session.user, ip: request.ip });
  if (!c) return reply.callNotFound();
  // The worker who just completed the intake lands here: say what happened.
  const justCreated = app.clock.now().getTime() - c.createdAt.getTime() < 5 * 60_000 && c.assignees.some((a) => a.userId === session.user.id && a.kind === 'intake');
  const values: Record<string, string> = {};
  if (extra.status) for (const [k, v] of Object.entries((request.body ?? {}) as Record<string, unknown>)) if (typeof v === 'string') values[k] = v;
  return sendPage(
    reply,
    <CasePage ctx={pageContext(request, reply)} inboundDomain={app.config.inboundDomain} c={c} permissions={session.permissions} lookups={c.options.lookups} staff={c.options.staff} errors={extra.errors ?? {}} formError={extra.formError} done={extra.done ?? (justCreated ? 'created' : undefined)} values={values} />,
    extra.status ?? 200,
  );
}


export const caseRoutes: HavenRoutes = async (server, { app }) => {
  // Every case route is open to any signed-in user: the service answers 404 for a case the
  // viewer may not see (with or without a view permission), which is what DESIGN §1.4 asks.
  const access = 'signed-in' as const;

  const casePage = (request: FastifyRequest, reply: FastifyReply, id: string, extra: CasePageExtra = {}) => renderCasePage(app, request, reply, id, extra);

  /** After a change: back to the case with what was done, or the case again with what is wrong. */
  function afterChange(request: FastifyRequest, reply: FastifyReply, id: string, result: CaseChange, done: CaseDone) {
    if (result.ok) return reply.redirect(`/cases/${id}?done=${done}`, 303);
    if (result.status === 404) return reply.callNotFound();
    if (request.headers.accept?.includes('application/json')) return reply.code(result.status).send({ error: result.message, ...(result.fields ? { fields: result.fields } : {}) });
    return casePage(request, reply, id, { errors: result.fields ?? {}, formError: result.fields ? undefined : result.message, status: result.status });
  }

  const invalid = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => {
    const id = (request.params as { id?: string }).id ?? '';
    return casePage(request, reply, id, { errors, status: 400 });
  };

  server.get('/cases', { config: { access }, schema: { querystring: query({ q: optional(line(200)) }) } }, async (request, reply) => {
    const session = request.session!;
    if (!mayViewAnyCase(session.permissions)) return sendErrorPage(request, reply, 403, 'Not allowed', 'Your role does not give you access to cases.');
    const viewer = viewerOf(session);
    const q = request.query.q.trim();
    const [results, mine, recent] = q
      ? [await searchCases(app, viewer, q), [], []]
      : [null, await myCases(app, viewer), await recentCases(app, viewer)];
    return sendPage(reply, <CaseListPage ctx={pageContext(request, reply)} q={q} results={results} mine={mine} recent={recent} mayIntake={session.permissions.includes('intake')} />);
  });

  const doneQuery = query({ done: z.string().max(20).optional() });
  server.get('/cases/:id', { config: { access }, schema: { params: CASE_PARAMS, querystring: doneQuery } }, async (request, reply) =>
    casePage(request, reply, request.params.id, { done: CASE_DONE.find((d) => d === request.query.done) }),
  );

  const who = (request: FastifyRequest) => ({ actor: request.session!.user, ip: request.ip });

  server.post('/cases/:id/notes', { config: { access, onInvalidInput: invalid }, schema: { params: CASE_PARAMS, body: noteForm, querystring: query({}) } }, async (request, reply) => {
    const result = await addNote(app, viewerOf(request.session!), request.params.id, request.body.note, who(request));
    return afterChange(request, reply, request.params.id, result, 'note');
  });

  server.post(
    '/cases/:id/disposition',
    { config: { access, onInvalidInput: invalid }, schema: { params: CASE_PARAMS, body: dispositionForm, querystring: query({}) } },
    async (request, reply) => {
      const { action, reason, referral, closing_code } = request.body;
      const result = await changeDisposition(app, viewerOf(request.session!), request.params.id, action, { reason, referral, closingCode: closing_code }, who(request));
      return afterChange(request, reply, request.params.id, result, 'disposition');
    },
  );

  server.post(
    '/cases/:id/assignment',
    { config: { access, onInvalidInput: invalid }, schema: { params: CASE_PARAMS, body: assignmentForm, querystring: query({}) } },
    async (request, reply) => {
      const remove = request.body.remove === 'yes';
      const result = await changeAssignment(app, viewerOf(request.session!), request.params.id, request.body.assignee, remove, who(request));
      return afterChange(request, reply, request.params.id, result, remove ? 'unassigned' : 'assigned');
    },
  );

  server.post(
    '/cases/:id/mail-alias',
    { config: { access, onInvalidInput: invalid }, schema: { params: CASE_PARAMS, body: mailAliasForm, querystring: query({}) } },
    async (request, reply) => {
      const result = await setMailAlias(app, viewerOf(request.session!), request.params.id, request.body.mail_alias, who(request));
      return afterChange(request, reply, request.params.id, result, 'mail_alias');
    },
  );

  server.post(
    '/cases/:id/details',
    { config: { access, onInvalidInput: invalid }, schema: { params: CASE_PARAMS, body: detailsForm, querystring: query({}) } },
    async (request, reply) => {
      const result = await updateCaseDetails(app, viewerOf(request.session!), request.params.id, request.body, who(request));
      return afterChange(request, reply, request.params.id, result, 'details');
    },
  );

  server.post(
    '/cases/:id/conflicts/:conflictId',
    { config: { access, onInvalidInput: invalid }, schema: { params: CONFLICT_PARAMS, body: conflictForm, querystring: query({}) } },
    async (request, reply) => {
      const result = await decideConflict(app, viewerOf(request.session!), request.params.id, request.params.conflictId, request.body.decision, who(request));
      return afterChange(request, reply, request.params.id, result, 'conflict');
    },
  );
};
