import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { NO_BODY, NO_QUERY } from '../web/input.ts';
import { backupPageData, startBackupNow } from './service.ts';
import { BackupsPage } from './views.tsx';

export const backupRoutes: HavenRoutes = async (server, { app }) => {
  const access = 'admin_backups' as const;

  server.get('/admin/backups', { config: { access }, schema: { querystring: NO_QUERY } }, async (request, reply) =>
    sendPage(reply, <BackupsPage ctx={pageContext(request, reply)} data={await backupPageData(app)} />),
  );

  // "Back up now": a backup, then its restore test, run in the background; the page follows both.
  server.post('/admin/backups', { config: { access }, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    const started = await startBackupNow(app, { actor: request.session!.user, ip: request.ip });
    if (!started) {
      return sendPage(reply, <BackupsPage ctx={pageContext(request, reply)} data={await backupPageData(app)} formError="A backup or a restore test is under way already: wait for it to finish." />, 409);
    }
    return reply.redirect('/admin/backups', 303);
  });
};
