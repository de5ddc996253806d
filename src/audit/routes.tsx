import type { FastifyPluginAsync } from 'fastify';
import type { App } from '../context.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { listAudit } from './service.ts';
import { AuditPage } from './views.tsx';

const PAGE_SIZE = 100;

export const auditRoutes: FastifyPluginAsync<{ app: App }> = async (server, { app }) => {
  server.get<{ Querystring: { before?: string; action?: string } }>('/admin/audit', { config: { access: 'audit_view' } }, async (request, reply) => {
    const before = Number(request.query.before);
    const action = typeof request.query.action === 'string' ? request.query.action.slice(0, 100) : '';
    const entries = await listAudit(app, { limit: PAGE_SIZE, beforeSeq: Number.isSafeInteger(before) && before > 0 ? before : undefined, action: action || undefined });
    const nextBefore = entries.length === PAGE_SIZE ? entries[entries.length - 1]!.seq : undefined;
    return sendPage(reply, <AuditPage ctx={pageContext(request, reply)} entries={entries} action={action} nextBefore={nextBefore} />);
  });
};
