import type { FastifyPluginAsync } from 'fastify';
import type { App } from '../context.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { sendErrorPage } from '../web/errors.tsx';
import { exportUserReport, listUserReport, parseReportFormat } from './service.ts';
import { UserReportPage } from './views.tsx';

export const reportRoutes: FastifyPluginAsync<{ app: App }> = async (server, { app }) => {
  // admin_users, not reports_view: this report is staff security state (who can sign in, who
  // has no second factor), which is an administrator's business (docs/DECISIONS.md).
  server.get<{ Querystring: { format?: unknown } }>('/reports/users', { config: { access: 'admin_users' } }, async (request, reply) => {
    const format = parseReportFormat(request.query.format);
    if (!format.ok) return sendErrorPage(request, reply, 400, 'Unknown report format', format.message);
    if (format.format === 'html') {
      return sendPage(reply, <UserReportPage ctx={pageContext(request, reply)} rows={await listUserReport(app)} />);
    }
    const session = request.session!;
    const { csv, filename } = await exportUserReport(app, { actor: { id: session.user.id, login: session.user.login }, ip: request.ip });
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${filename}"`)
      .send(csv);
  });
};
