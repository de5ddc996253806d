import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { NO_BODY, NO_QUERY } from '../web/input.ts';
import { exportsDir, listExports, startWebExport, type ExportRun } from './service.ts';
import { ExportPage } from './views.tsx';

export const exportRoutes: HavenRoutes = async (server, { app }) => {
  const access = 'admin_backups' as const;
  // The export this process runs or ran last (one at a time; a restart forgets it, the files stay).
  let run: ExportRun | null = null;

  server.get('/admin/export', { config: { access }, schema: { querystring: NO_QUERY } }, async (request, reply) =>
    sendPage(reply, <ExportPage ctx={pageContext(request, reply)} run={run} exports={listExports(app)} dir={exportsDir(app)} />),
  );

  server.post('/admin/export', { config: { access }, schema: { body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    if (run && run.result === null) {
      return sendPage(reply, <ExportPage ctx={pageContext(request, reply)} run={run} exports={listExports(app)} dir={exportsDir(app)} formError="An export is under way already: wait for it to finish." />, 409);
    }
    run = startWebExport(app, { actor: request.session!.user, ip: request.ip });
    return reply.redirect('/admin/export', 303);
  });
};
