import type { FastifyPluginAsync } from 'fastify';
import type { App } from '../app.ts';
import { sendPage } from '../web/render.ts';
import { formField, pageContext } from '../web/page.ts';
import { SETTING_KEYS } from '../security/site-settings.ts';
import { getSiteSettings, updateSiteSettings } from './service.ts';
import { SiteSettingsPage } from './views.tsx';

export const settingsRoutes: FastifyPluginAsync<{ app: App }> = async (server, { app }) => {
  const access = { access: 'admin_site_settings' as const };

  server.get<{ Querystring: { saved?: string } }>('/admin/site-settings', { config: access }, async (request, reply) => {
    const current = await getSiteSettings(app);
    const values = Object.fromEntries(SETTING_KEYS.map((k) => [k, String(current[k])]));
    return sendPage(reply, <SiteSettingsPage ctx={pageContext(request, reply)} values={values} errors={{}} saved={request.query.saved === '1'} />);
  });

  server.post('/admin/site-settings', { config: access }, async (request, reply) => {
    const session = request.session!;
    const submitted = Object.fromEntries(SETTING_KEYS.map((k) => [k, formField(request.body, k)]));
    const result = await updateSiteSettings(app, submitted, { id: session.user.id, login: session.user.login }, request.ip);
    if (!result.ok) return sendPage(reply, <SiteSettingsPage ctx={pageContext(request, reply)} values={submitted} errors={result.errors} />, 400);
    return reply.redirect('/admin/site-settings?saved=1', 303);
  });
};
