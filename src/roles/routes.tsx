import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { form, ID_PARAMS, line, list, NO_QUERY, optional, query, type FieldErrors } from '../web/input.ts';
import { countUsersByRole, createRole, listRoles, savedRoleMessage, updateRolePermissions } from './service.ts';
import { RolesPage } from './views.tsx';

const createForm = form({ name: optional(line(80)) });
// A permission name is a short identifier; a longer value is refused here, never echoed back.
const permissionsForm = form({ internal: list(40), external: list(40) });

export const roleAdminRoutes: HavenRoutes = async (server, { app }) => {
  const access = 'admin_roles' as const;

  async function render(request: FastifyRequest, reply: FastifyReply, errors: FieldErrors, status = 200, saved?: { roleId: string; message: string }) {
    const [roles, userCounts] = await Promise.all([listRoles(app), countUsersByRole(app)]);
    return sendPage(reply, <RolesPage ctx={pageContext(request, reply)} roles={roles} userCounts={userCounts} errors={errors} saved={saved} />, status);
  }

  const invalidCreate = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => render(request, reply, errors, 400);
  const invalidPermissions = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => {
    const id = (request.params as { id: string }).id;
    return render(request, reply, { [id]: `Not saved: ${Object.values(errors)[0] ?? 'the permissions could not be read.'}` }, 400);
  };

  // After a save (POST/redirect/GET): which role, and how to say what changed. A flag that does
  // not parse is ignored: the page still shows, without the message.
  const savedQuery = query({
    saved: z.uuid().optional().catch(undefined),
    entry: z.string().regex(/^[1-9]\d{0,15}$/).optional().catch(undefined),
    created: z.literal('1').optional().catch(undefined),
    unchanged: z.literal('1').optional().catch(undefined),
  });

  server.get('/admin/roles', { config: { access }, schema: { querystring: savedQuery } }, async (request, reply) => {
    const { saved: roleId, entry, created, unchanged } = request.query;
    const message = roleId
      ? await savedRoleMessage(app, { roleId, entry: entry ? Number(entry) : undefined, created: Boolean(created), unchanged: Boolean(unchanged), actorId: request.session!.user.id })
      : undefined;
    return render(request, reply, {}, 200, roleId && message ? { roleId, message } : undefined);
  });

  server.post('/admin/roles', { config: { access, onInvalidInput: invalidCreate }, schema: { body: createForm, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const result = await createRole(app, request.body.name, session.user, request.ip);
    if (!result.ok) return render(request, reply, { name: result.error }, 400);
    return reply.redirect(`/admin/roles?saved=${result.id}&created=1`, 303);
  });

  server.post(
    '/admin/roles/:id',
    { config: { access, onInvalidInput: invalidPermissions }, schema: { params: ID_PARAMS, body: permissionsForm, querystring: NO_QUERY } },
    async (request, reply) => {
      const session = request.session!;
      const result = await updateRolePermissions(app, request.params.id, request.body.internal, request.body.external, { ...session.user, networkKind: session.location.kind }, request.ip);
      if (!result.ok) {
        if (result.error === 'No such role.') return reply.callNotFound();
        return render(request, reply, { [request.params.id]: result.error }, 400);
      }
      const said = result.entry === undefined ? 'unchanged=1' : `entry=${result.entry}`;
      return reply.redirect(`/admin/roles?saved=${request.params.id}&${said}`, 303);
    },
  );
};
