import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { formField, pageContext } from '../web/page.ts';
import { form, ID_PARAMS, line, lines, NO_BODY, NO_QUERY, optional, query, type FieldErrors } from '../web/input.ts';
import { getRole, listRoles } from '../roles/service.ts';
import { getSiteSettings } from '../settings/service.ts';
import { listNetworks, removeNetwork, saveNetwork, type NetworkEditor } from './service.ts';
import { EMPTY_NETWORK, LocationsPage, NetworkPage, valuesOf, type NetworkFormValues, type Where } from './views.tsx';

const networkForm = form({
  name: optional(line(200)),
  ranges: optional(lines(20_000)),
  internal: z.enum(['yes']).optional(),
  timeout_minutes: optional(line(20)),
  forced_role: optional(line(200)),
});

type NetworkBody = z.infer<typeof networkForm>;

const formValues = (body: NetworkBody): NetworkFormValues => ({
  name: body.name,
  ranges: body.ranges,
  internal: body.internal === 'yes',
  timeoutMinutes: body.timeout_minutes,
  forcedRole: body.forced_role,
});

/** A refused form body that did not parse: its fields as sent, where they are text. */
const rawValues = (body: unknown): NetworkFormValues => ({
  name: formField(body, 'name'),
  ranges: formField(body, 'ranges'),
  internal: formField(body, 'internal') === 'yes',
  timeoutMinutes: formField(body, 'timeout_minutes'),
  forcedRole: formField(body, 'forced_role'),
});

export const locationRoutes: HavenRoutes = async (server, { app }) => {
  const access = 'admin_locations' as const;

  const editorOf = async (request: FastifyRequest): Promise<NetworkEditor> => {
    const session = request.session!;
    return { actor: session.user, ip: request.ip, role: await getRole(app, session.user.roleId) };
  };

  async function context(request: FastifyRequest) {
    const [networks, roles, settings] = await Promise.all([listNetworks(app), listRoles(app), getSiteSettings(app)]);
    const session = request.session!;
    const where: Where = { ip: request.ip, internalDefined: networks.some((n) => n.internal), kind: session.location.kind, networkName: session.location.networkName };
    return { networks, roles: roles.map((r) => ({ id: r.id, name: r.name })), where, siteTimeout: settings.session_timeout_minutes };
  }

  async function renderList(request: FastifyRequest, reply: FastifyReply, values: NetworkFormValues, errors: FieldErrors, status = 200, saved?: string) {
    const c = await context(request);
    return sendPage(reply, <LocationsPage ctx={pageContext(request, reply)} {...c} values={values} errors={errors} saved={saved} />, status);
  }

  async function renderOne(request: FastifyRequest, reply: FastifyReply, id: string, values: NetworkFormValues | null, errors: FieldErrors, status = 200) {
    const c = await context(request);
    const network = c.networks.find((n) => n.id === id);
    if (!network) return reply.callNotFound();
    return sendPage(reply, <NetworkPage ctx={pageContext(request, reply)} {...c} network={network} values={values ?? valuesOf(network)} errors={errors} />, status);
  }

  const savedQuery = query({ saved: optional(line(200)).catch('') });

  server.get('/admin/locations', { config: { access }, schema: { querystring: savedQuery } }, async (request, reply) => {
    const saved = request.query.saved;
    const message = saved === 'added' ? 'Network added.' : saved === 'changed' ? 'Network saved.' : saved === 'removed' ? 'Network removed.' : undefined;
    return renderList(request, reply, EMPTY_NETWORK, {}, 200, message);
  });

  server.post(
    '/admin/locations',
    {
      config: { access, onInvalidInput: (request, reply, errors) => renderList(request, reply, rawValues(request.body), errors, 400) },
      schema: { body: networkForm, querystring: NO_QUERY },
    },
    async (request, reply) => {
      const values = formValues(request.body);
      const result = await saveNetwork(app, values, await editorOf(request));
      if (!result.ok) return renderList(request, reply, values, result.errors, 400);
      return reply.redirect('/admin/locations?saved=added', 303);
    },
  );

  server.get('/admin/locations/:id', { config: { access }, schema: { params: ID_PARAMS, querystring: NO_QUERY } }, async (request, reply) => renderOne(request, reply, request.params.id, null, {}));

  server.post(
    '/admin/locations/:id',
    {
      config: {
        access,
        onInvalidInput: (request, reply, errors) => {
          const id = (request.params as { id?: string }).id ?? '';
          return errors.id ? reply.callNotFound() : renderOne(request, reply, id, rawValues(request.body), errors, 400);
        },
      },
      schema: { params: ID_PARAMS, body: networkForm, querystring: NO_QUERY },
    },
    async (request, reply) => {
      const values = formValues(request.body);
      const result = await saveNetwork(app, values, await editorOf(request), request.params.id);
      if (!result.ok) {
        if (result.errors._form === 'That network no longer exists.') return reply.callNotFound();
        return renderOne(request, reply, request.params.id, values, result.errors, 400);
      }
      return reply.redirect('/admin/locations?saved=changed', 303);
    },
  );

  server.post(
    '/admin/locations/:id/remove',
    { config: { access }, schema: { params: ID_PARAMS, body: NO_BODY, querystring: NO_QUERY } },
    async (request, reply) => {
      const result = await removeNetwork(app, request.params.id, await editorOf(request));
      if (!result.ok) {
        if (result.error === 'No such network.') return reply.callNotFound();
        return renderOne(request, reply, request.params.id, null, { _remove: result.error }, 400);
      }
      return reply.redirect('/admin/locations?saved=removed', 303);
    },
  );
};
