import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { query } from '../web/input.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { sendErrorPage } from '../web/errors.tsx';
import { exportUserReport, listUserReport, parseReportFormat } from './service.ts';
import { UserReportPage } from './views.tsx';

export const reportRoutes: HavenRoutes = async (server, { app }) => {
  // admin_users, not reports_view: this report is staff security state (who can sign in, who
  // has no second factor), which is an administrator's business (docs/DECISIONS.md).
  const refuse = (request: FastifyRequest, reply: FastifyReply, raw: unknown) => {
    const format = parseReportFormat(raw);
    return sendErrorPage(request, reply, 400, 'Unknown report format', format.ok ? 'Unknown report format.' : format.message);
  };
  const invalid = (request: FastifyRequest, reply: FastifyReply) => refuse(request, reply, (request.query as Record<string, unknown>).format);
  const reportQuery = query({ format: z.string().max(100).optional() });
  server.get('/reports/users', { config: { access: 'admin_users', onInvalidInput: invalid }, schema: { querystring: reportQuery } }, async (request, reply) => {
    const format = parseReportFormat(request.query.format);
    if (!format.ok) return refuse(request, reply, request.query.format);
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
