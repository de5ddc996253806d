import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { form, line, NO_QUERY, optional, query, type FieldErrors } from '../web/input.ts';
import { LOOKUP_KINDS } from '../cases/service.ts';
import { addLookup, listLookups, setLookupActive } from './service.ts';
import { LookupsPage } from './views.tsx';

const kind = z.enum(LOOKUP_KINDS as [string, ...string[]], { error: 'Unknown list.' });
const addForm = form({ kind, value: optional(line(200)) });
const activeForm = form({ kind, value: line(200), active: z.enum(['yes', 'no']) });

export const lookupRoutes: HavenRoutes = async (server, { app }) => {
  const access = 'admin_site_settings' as const;
  async function page(request: FastifyRequest, reply: FastifyReply, errors: FieldErrors = {}, status = 200, done = false) {
    return sendPage(reply, <LookupsPage ctx={pageContext(request, reply)} rows={await listLookups(app)} errors={errors} done={done} />, status);
  }
  const invalid = (request: FastifyRequest, reply: FastifyReply) => page(request, reply, { _form: 'Nothing was saved: the form was not understood.' }, 400);
  const who = (request: FastifyRequest) => ({ actor: request.session!.user, ip: request.ip });

  server.get('/admin/lookups', { config: { access }, schema: { querystring: query({ done: z.string().max(4).optional() }) } }, async (request, reply) =>
    page(request, reply, {}, 200, request.query.done === '1'),
  );
  server.post('/admin/lookups', { config: { access, onInvalidInput: invalid }, schema: { body: addForm, querystring: NO_QUERY } }, async (request, reply) => {
    const k = request.body.kind as (typeof LOOKUP_KINDS)[number];
    const result = await addLookup(app, k, request.body.value, who(request));
    if (!result.ok) return page(request, reply, { [k]: result.message }, 400);
    return reply.redirect('/admin/lookups?done=1', 303);
  });
  server.post('/admin/lookups/active', { config: { access, onInvalidInput: invalid }, schema: { body: activeForm, querystring: NO_QUERY } }, async (request, reply) => {
    const changed = await setLookupActive(app, request.body.kind as (typeof LOOKUP_KINDS)[number], request.body.value, request.body.active === 'yes', who(request));
    if (!changed) return page(request, reply, { _form: 'No such value.' }, 400);
    return reply.redirect('/admin/lookups?done=1', 303);
  });
};
