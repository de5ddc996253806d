import type { FastifyPluginAsync } from 'fastify';
import type { App } from '../context.ts';
import { sendPage } from '../web/render.ts';
import { formField, pageContext } from '../web/page.ts';
import { listRoles } from '../roles/service.ts';
import { createUser, getUser, listUsers, updateUser } from './service.ts';
import { UserFormPage, UserListPage } from './views.tsx';

export const userAdminRoutes: FastifyPluginAsync<{ app: App }> = async (server, { app }) => {
  const access = { access: 'admin_users' as const };

  server.get('/admin/users', { config: access }, async (request, reply) => {
    return sendPage(reply, <UserListPage ctx={pageContext(request, reply)} users={await listUsers(app)} />);
  });

  server.get('/admin/users/new', { config: access }, async (request, reply) => {
    return sendPage(reply, <UserFormPage ctx={pageContext(request, reply)} mode="create" roles={await listRoles(app)} values={{}} errors={{}} />);
  });

  server.post('/admin/users', { config: access }, async (request, reply) => {
    const session = request.session!;
    const values = {
      login: formField(request.body, 'login'),
      fullName: formField(request.body, 'fullName'),
      email: formField(request.body, 'email'),
      roleId: formField(request.body, 'roleId'),
    };
    const result = await createUser(
      app,
      { ...values, password: formField(request.body, 'password') },
      { actor: { id: session.user.id, login: session.user.login }, ip: request.ip, mustChangePassword: true },
    );
    if (!result.ok) {
      return sendPage(reply, <UserFormPage ctx={pageContext(request, reply)} mode="create" roles={await listRoles(app)} values={values} errors={result.errors} />, 400);
    }
    return reply.redirect(`/admin/users/${result.id}?saved=1`, 303);
  });

  server.get<{ Params: { id: string }; Querystring: { saved?: string } }>('/admin/users/:id', { config: access }, async (request, reply) => {
    const user = await getUser(app, request.params.id);
    if (!user) return reply.callNotFound();
    return sendPage(
      reply,
      <UserFormPage
        ctx={pageContext(request, reply)}
        mode="edit"
        userId={user.id}
        roles={await listRoles(app)}
        values={{ login: user.login, fullName: user.fullName, email: user.email, roleId: user.roleId, loginActive: user.loginActive }}
        errors={{}}
        saved={request.query.saved === '1'}
      />,
    );
  });

  server.post<{ Params: { id: string } }>('/admin/users/:id', { config: access }, async (request, reply) => {
    const user = await getUser(app, request.params.id);
    if (!user) return reply.callNotFound();
    const session = request.session!;
    const values = {
      fullName: formField(request.body, 'fullName'),
      email: formField(request.body, 'email'),
      roleId: formField(request.body, 'roleId'),
      loginActive: formField(request.body, 'loginActive') !== 'no',
    };
    const password = formField(request.body, 'password');
    const result = await updateUser(app, user.id, { ...values, password: password || undefined }, {
      actor: { id: session.user.id, login: session.user.login },
      ip: request.ip,
    });
    if (!result.ok) {
      return sendPage(
        reply,
        <UserFormPage ctx={pageContext(request, reply)} mode="edit" userId={user.id} roles={await listRoles(app)} values={{ ...values, login: user.login }} errors={result.errors} />,
        400,
      );
    }
    return reply.redirect(`/admin/users/${user.id}?saved=1`, 303);
  });
};
