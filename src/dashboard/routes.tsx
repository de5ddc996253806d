import { mayViewAnyCase } from '../security/case-access.ts';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { NO_BODY, NO_QUERY, query } from '../web/input.ts';
import { sendErrorPage } from '../web/errors.tsx';
import { seesChecklist, sendTestMail, siteChecklist } from './service.ts';
import { DashboardPage, dashboardNotice } from './views.tsx';
import { myCaseSummary } from '../cases/search.ts';
import { viewerOf } from '../cases/access.ts';

/** The dashboard: where everyone starts, and a new administrator's checklist. */
export const dashboardRoutes: HavenRoutes = async (server, { app }) => {
  server.get('/', { config: { access: 'signed-in' }, schema: { querystring: query({ done: z.string().max(40).optional() }) } }, async (request, reply) => {
    const session = request.session!;
    const checklist = seesChecklist(session) ? await siteChecklist(app, session) : null;
    const seesCases = mayViewAnyCase(session.permissions);
    const viewer = viewerOf(session);
    const cases = seesCases ? await myCaseSummary(app, viewer, 5) : null;
    return sendPage(reply, <DashboardPage ctx={pageContext(request, reply)} checklist={checklist} notice={dashboardNotice(request.query.done)} cases={cases} />);
  });

  server.post('/dashboard/test-mail', { config: { access: 'mail_queue_view' }, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    if (!app.config.smtpUrl) return sendErrorPage(request, reply, 400, 'No mail server', 'No mail server is configured (HAVEN_SMTP_URL), so a test message would only wait in the queue.');
    const session = request.session!;
    await sendTestMail(app, session.user, request.ip);
    return reply.redirect('/?done=test-mail', 303);
  });
};
