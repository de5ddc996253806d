import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { formField, formList, pageContext } from '../web/page.ts';
import { form, ID_PARAMS, line, list, NO_QUERY, optional, query, secret, yesNo, type FieldErrors } from '../web/input.ts';
import { listLookups } from '../lookups/service.ts';
import { getRole, listRoles } from '../roles/service.ts';
import { sendErrorPage } from '../web/errors.tsx';
import { createUser, getUser, listUsers, mayManageAccountsWithRole, updateUser } from './service.ts';
import { UserFormPage, UserListPage, type UserDone } from './views.tsx';

const userFields = { fullName: optional(line(200)), email: optional(line(254)), roleId: optional(line(64)), password: optional(secret()) };
const createForm = form({ login: optional(line(64)), ...userFields });
// Login Active must be said explicitly: a form that lost the field must not leave an account open.
// The case-scope checkboxes count only when the form showed them (`scope_shown`): a form without
// them must not lift a restriction by leaving the boxes out.
const editForm = form({ ...userFields, loginActive: yesNo(), offices: list(200, 200), programs: list(200, 200), scope_shown: optional(z.enum(['yes'])) });

const DONE: UserDone[] = ['created', 'saved'];

export const userAdminRoutes: HavenRoutes = async (server, { app }) => {
  const access = 'admin_users' as const;

  async function createPage(request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) {
    const body = request.body;
    const values = { login: formField(body, 'login'), fullName: formField(body, 'fullName'), email: formField(body, 'email'), roleId: formField(body, 'roleId') };
    return sendPage(reply, <UserFormPage ctx={pageContext(request, reply)} mode="create" roles={await listRoles(app)} values={values} errors={errors} />, 400);
  }

  async function editPage(request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) {
    const user = await getUser(app, (request.params as { id: string }).id);
    if (!user) return reply.callNotFound();
    const body = request.body;
    const active = formField(body, 'loginActive');
    const values = {
      login: user.login,
      fullName: formField(body, 'fullName'),
      email: formField(body, 'email'),
      roleId: formField(body, 'roleId'),
      loginActive: active === 'yes' ? true : active === 'no' ? false : undefined,
      offices: formList(body, 'offices'),
      programs: formList(body, 'programs'),
    };
    return sendPage(
      reply,
      <UserFormPage ctx={pageContext(request, reply)} mode="edit" userId={user.id} roles={await listRoles(app)} values={values} errors={errors} lookups={await listLookups(app)} />,
      400,
    );
  }

  server.get('/admin/users', { config: { access }, schema: { querystring: NO_QUERY } }, async (request, reply) => {
    return sendPage(reply, <UserListPage ctx={pageContext(request, reply)} users={await listUsers(app)} />);
  });

  server.get('/admin/users/new', { config: { access }, schema: { querystring: NO_QUERY } }, async (request, reply) => {
    return sendPage(reply, <UserFormPage ctx={pageContext(request, reply)} mode="create" roles={await listRoles(app)} values={{}} errors={{}} />);
  });

  server.post('/admin/users', { config: { access, onInvalidInput: createPage }, schema: { body: createForm, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const { login, fullName, email, roleId, password } = request.body;
    const result = await createUser(app, { login, fullName, email, roleId, password }, { actor: session.user, ip: request.ip, mustChangePassword: true });
    if (!result.ok) return createPage(request, reply, result.errors);
    return reply.redirect(`/admin/users/${result.id}?done=created`, 303);
  });

  // After a successful post the redirect says what was done (`?done=created` or `?done=saved`):
  // the page then confirms it by name. Any other value is ignored.
  const doneQuery = query({ done: z.string().max(10).optional() });
  server.get('/admin/users/:id', { config: { access }, schema: { params: ID_PARAMS, querystring: doneQuery } }, async (request, reply) => {
    const user = await getUser(app, request.params.id);
    if (!user) return reply.callNotFound();
    if (!(await mayManageAccountsWithRole(app, request.session!.user, await getRole(app, user.roleId)))) return refuseToManage(request, reply);
    return sendPage(
      reply,
      <UserFormPage
        ctx={pageContext(request, reply)}
        mode="edit"
        userId={user.id}
        roles={await listRoles(app)}
        values={{ login: user.login, fullName: user.fullName, email: user.email, roleId: user.roleId, loginActive: user.loginActive, offices: user.offices, programs: user.programs }}
        errors={{}}
        lookups={await listLookups(app)}
        done={DONE.find((d) => d === request.query.done)}
      />,
    );
  });

  server.post(
    '/admin/users/:id',
    { config: { access, onInvalidInput: editPage }, schema: { params: ID_PARAMS, body: editForm, querystring: NO_QUERY } },
    async (request, reply) => {
      const user = await getUser(app, request.params.id);
      if (!user) return reply.callNotFound();
      const session = request.session!;
      const { fullName, email, roleId, loginActive, password, offices, programs, scope_shown } = request.body;
      const result = await updateUser(
        app,
        user.id,
        { fullName, email, roleId, loginActive: loginActive === 'yes', password: password || undefined, caseScope: scope_shown === 'yes' ? { offices, programs } : undefined },
        { actor: session.user, ip: request.ip },
      );
      if (!result.ok) return 'forbidden' in result ? refuseToManage(request, reply) : editPage(request, reply, result.errors);
      return reply.redirect(`/admin/users/${user.id}?done=saved`, 303);
    },
  );
};

/** An administrator whose role lacks some permission of the user's role may not manage them. */
export function refuseToManage(request: FastifyRequest, reply: FastifyReply) {
  return sendErrorPage(request, reply, 403, 'Not allowed', "This user's role has permissions your role lacks, so you cannot manage this account.");
}
