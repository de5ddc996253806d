import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { NO_BODY, NO_QUERY, query, type FieldErrors } from '../web/input.ts';
import { truncateFullSsns } from '../clients/service.ts';
import { checkSiteSettings, getSettingsPageData, recentSettingsChange, updateSiteSettings, type SettingChange } from './service.ts';
import { settingErrors, settingsForm, submittedSettings, submittedSettingsLoosely } from './form.ts';
import { SiteSettingsPage } from './views.tsx';

export const settingsRoutes: HavenRoutes = async (server, { app }) => {
  const access = 'admin_site_settings' as const;

  /** The form again, with what was submitted over the stored values and each error beside its field. */
  async function showAgain(request: FastifyRequest, reply: FastifyReply, submitted: Record<string, string>, errors: Record<string, string>) {
    const data = await getSettingsPageData(app);
    const page = <SiteSettingsPage ctx={pageContext(request, reply)} values={{ ...data.values, ...submitted }} stored={data.values} roles={data.roles} errors={errors} />;
    return sendPage(reply, page, 400);
  }

  // Input the route schema refused: the service checks the rest too, so that every problem
  // of the submission shows at once. Nothing is saved.
  async function invalid(request: FastifyRequest, reply: FastifyReply, fieldErrors: FieldErrors) {
    const submitted = submittedSettingsLoosely(request.body);
    const errors = { ...(await checkSiteSettings(app, submitted)), ...settingErrors(fieldErrors) };
    return showAgain(request, reply, submitted, errors as Record<string, string>);
  }

  server.get('/admin/site-settings', { config: { access }, schema: { querystring: query({ saved: z.string().max(10).optional(), truncated: z.string().max(10).optional() }) } }, async (request, reply) => {
    const saved = request.query.saved === '1';
    const truncated = /^\d{1,9}$/.test(request.query.truncated ?? '') ? Number(request.query.truncated) : undefined;
    const [data, changes] = await Promise.all([getSettingsPageData(app), saved ? recentSettingsChange(app, request.session!.user.id) : Promise.resolve<SettingChange[]>([])]);
    const page = (
      <SiteSettingsPage ctx={pageContext(request, reply)} values={data.values} stored={data.values} roles={data.roles} errors={{}} warnings={data.warnings} saved={saved} changes={changes} fullSsnsStored={data.fullSsnsStored} truncated={truncated} />
    );
    return sendPage(reply, page);
  });

  server.post('/admin/site-settings', { config: { access, onInvalidInput: invalid }, schema: { body: settingsForm, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const submitted = submittedSettings(request.body);
    const result = await updateSiteSettings(app, submitted, session.user, request.ip);
    if (!result.ok) return showAgain(request, reply, submitted, result.errors);
    return reply.redirect('/admin/site-settings?saved=1', 303);
  });

  // Switching to last4 leaves full numbers stored; cutting them is an administrator's explicit,
  // audited choice, never a side effect of the switch (issue 10).
  server.post('/admin/site-settings/truncate-ssns', { config: { access }, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    const n = await truncateFullSsns(app, request.session!.user, request.ip);
    return reply.redirect(`/admin/site-settings?truncated=${n}`, 303);
  });
};
