import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { formField, pageContext } from '../web/page.ts';
import { form, line, NO_QUERY, query, type FieldErrors } from '../web/input.ts';
import { SETTING_KEYS } from '../security/site-settings.ts';
import { getSettingTexts, settingsWarnings, updateSiteSettings } from './service.ts';
import { SiteSettingsPage } from './views.tsx';

// A field left out of the submission keeps its value; a field sent empty is validated as empty.
const settingsForm = form(Object.fromEntries(SETTING_KEYS.map((k) => [k, line(1000).optional()])) as Record<(typeof SETTING_KEYS)[number], z.ZodOptional<ReturnType<typeof line>>>);

export const settingsRoutes: HavenRoutes = async (server, { app }) => {
  const access = 'admin_site_settings' as const;

  async function invalid(request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const submitted = Object.fromEntries(SETTING_KEYS.filter((k) => Object.hasOwn(body, k)).map((k) => [k, formField(body, k)]));
    return sendPage(reply, <SiteSettingsPage ctx={pageContext(request, reply)} values={{ ...(await getSettingTexts(app)), ...submitted }} errors={errors} />, 400);
  }

  server.get('/admin/site-settings', { config: { access }, schema: { querystring: query({ saved: z.string().max(10).optional() }) } }, async (request, reply) => {
    const values = await getSettingTexts(app);
    const warnings = await settingsWarnings(app);
    return sendPage(reply, <SiteSettingsPage ctx={pageContext(request, reply)} values={values} errors={{}} warnings={warnings} saved={request.query.saved === '1'} />);
  });

  server.post('/admin/site-settings', { config: { access, onInvalidInput: invalid }, schema: { body: settingsForm, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const submitted = Object.fromEntries(SETTING_KEYS.flatMap((k) => (request.body[k] === undefined ? [] : [[k, request.body[k]!]])));
    const result = await updateSiteSettings(app, submitted, session.user, request.ip);
    if (!result.ok) return sendPage(reply, <SiteSettingsPage ctx={pageContext(request, reply)} values={{ ...(await getSettingTexts(app)), ...submitted }} errors={result.errors} />, 400);
    return reply.redirect('/admin/site-settings?saved=1', 303);
  });
};
