import type { FastifyPluginAsync } from 'fastify';
import type { App } from '../context.ts';
import { sendPage } from '../web/render.ts';
import { formField, pageContext } from '../web/page.ts';
import { sendErrorPage } from '../web/errors.tsx';
import { listMail, parseMailFilters, retryFailedMail } from './service.ts';
import { MailQueuePage } from './views.tsx';

const FILTER_FIELDS = ['status', 'subject', 'recipient', 'from', 'to'] as const;

export const mailRoutes: FastifyPluginAsync<{ app: App }> = async (server, { app }) => {
  const access = { access: 'mail_queue_view' as const };

  server.get<{ Querystring: { retried?: string } }>('/mail/queue', { config: access }, async (request, reply) => {
    const query = Object.fromEntries(FILTER_FIELDS.map((k) => [k, formField(request.query, k)]));
    const parsed = parseMailFilters(query);
    const ctx = pageContext(request, reply);
    if (!parsed.ok) {
      return sendPage(reply, <MailQueuePage ctx={ctx} filters={parsed.filters} errors={parsed.errors} rows={[]} counts={null} retried={false} />, 400);
    }
    const { rows, counts } = await listMail(app, parsed.filters);
    return sendPage(reply, <MailQueuePage ctx={ctx} filters={parsed.filters} errors={{}} rows={rows} counts={counts} retried={request.query.retried === '1'} />);
  });

  // Re-queueing is part of looking after the queue, so the same permission covers it.
  server.post<{ Params: { id: string } }>('/mail/queue/:id/retry', { config: access }, async (request, reply) => {
    const session = request.session!;
    const retried = await retryFailedMail(app, request.params.id, { id: session.user.id, login: session.user.login }, request.ip);
    if (!retried) return sendErrorPage(request, reply, 404, 'Not found', 'There is no failed message with this id. It may have been retried already.');
    return reply.redirect('/mail/queue?status=queued&retried=1', 303);
  });
};
