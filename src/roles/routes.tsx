import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../context.ts';
import { sendPage } from '../web/render.ts';
import { formField, formList, pageContext } from '../web/page.ts';
import { countUsersByRole, createRole, getRole, listRoles, updateRolePermissions } from './service.ts';
import { RolesPage } from './views.tsx';

export const roleAdminRoutes: FastifyPluginAsync<{ app: App }> = async (server, { app }) => {
  const access = { access: 'admin_roles' as const };

  async function render(request: FastifyRequest, reply: FastifyReply, errors: Record<string, string>, status = 200, saved?: string) {
    const [roles, userCounts] = await Promise.all([listRoles(app), countUsersByRole(app)]);
    return sendPage(reply, <RolesPage ctx={pageContext(request, reply)} roles={roles} userCounts={userCounts} errors={errors} saved={saved} />, status);
  }

  server.get<{ Querystring: { saved?: string } }>('/admin/roles', { config: access }, async (request, reply) => {
    const saved = request.query.saved ? (await getRole(app, request.query.saved))?.name : undefined;
    return render(request, reply, {}, 200, saved);
  });

  server.post('/admin/roles', { config: access }, async (request, reply) => {
    const session = request.session!;
    const result = await createRole(app, formField(request.body, 'name'), { id: session.user.id, login: session.user.login }, request.ip);
    if (!result.ok) return render(request, reply, { name: result.error }, 400);
    return reply.redirect(`/admin/roles?saved=${result.id}`, 303);
  });

  server.post<{ Params: { id: string } }>('/admin/roles/:id', { config: access }, async (request, reply) => {
    const session = request.session!;
    const result = await updateRolePermissions(
      app,
      request.params.id,
      formList(request.body, 'internal'),
      formList(request.body, 'external'),
      { id: session.user.id, login: session.user.login, roleId: session.user.roleId },
      request.ip,
    );
    if (!result.ok) {
      if (result.error === 'No such role.') return reply.callNotFound();
      return render(request, reply, { [request.params.id]: result.error }, 400);
    }
    return reply.redirect(`/admin/roles?saved=${request.params.id}`, 303);
  });
};
