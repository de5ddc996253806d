import type { FastifyPluginAsync } from 'fastify';
import type { App } from '../context.ts';
import { sendPage } from '../web/render.ts';
import { formField, pageContext } from '../web/page.ts';
import { SETTING_KEYS } from '../security/site-settings.ts';
import { getSettingTexts, updateSiteSettings } from './service.ts';
import { SiteSettingsPage } from './views.tsx';

export const settingsRoutes: FastifyPluginAsync<{ app: App }> = async (server, { app }) => {
  const access = { access: 'admin_site_settings' as const };

  server.get<{ Querystring: { saved?: string } }>('/admin/site-settings', { config: access }, async (request, reply) => {
    const values = await getSettingTexts(app);
    return sendPage(reply, <SiteSettingsPage ctx={pageContext(request, reply)} values={values} errors={{}} saved={request.query.saved === '1'} />);
  });

  server.post('/admin/site-settings', { config: access }, async (request, reply) => {
    const session = request.session!;
    // A field left out of the submission keeps its value; a field sent empty is validated as empty.
    const body = (request.body ?? {}) as Record<string, unknown>;
    const submitted = Object.fromEntries(SETTING_KEYS.filter((k) => Object.hasOwn(body, k)).map((k) => [k, formField(body, k)]));
    const result = await updateSiteSettings(app, submitted, { id: session.user.id, login: session.user.login }, request.ip);
    if (!result.ok) return sendPage(reply, <SiteSettingsPage ctx={pageContext(request, reply)} values={{ ...(await getSettingTexts(app)), ...submitted }} errors={result.errors} />, 400);
    return reply.redirect('/admin/site-settings?saved=1', 303);
  });
};
