import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { line, query } from '../web/input.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { listAudit } from './service.ts';
import { AuditPage } from './views.tsx';

const PAGE_SIZE = 100;

const auditQuery = query({
  before: z.coerce.number().int().positive().optional().catch(undefined),
  action: line(100).optional(),
});

export const auditRoutes: HavenRoutes = async (server, { app }) => {
  server.get('/admin/audit', { config: { access: 'audit_view' }, schema: { querystring: auditQuery } }, async (request, reply) => {
    const before = request.query.before;
    const action = request.query.action ?? '';
    const entries = await listAudit(app, { limit: PAGE_SIZE, beforeSeq: before !== undefined && Number.isSafeInteger(before) ? before : undefined, action: action || undefined });
    const nextBefore = entries.length === PAGE_SIZE ? entries[entries.length - 1]!.seq : undefined;
    return sendPage(reply, <AuditPage ctx={pageContext(request, reply)} entries={entries} action={action} nextBefore={nextBefore} />);
  });
};
