import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { ID_PARAMS, line, NO_BODY, NO_QUERY, query } from '../web/input.ts';
import { sendPage } from '../web/render.ts';
import { formField, pageContext } from '../web/page.ts';
import { sendErrorPage } from '../web/errors.tsx';
import { listMail, parseMailFilters, retryFailedMail } from './service.ts';
import { MailQueuePage } from './views.tsx';

const FILTER_FIELDS = ['status', 'subject', 'recipient', 'from', 'to'] as const;

const queueQuery = query({
  ...Object.fromEntries(FILTER_FIELDS.map((k) => [k, line(1000).optional()])),
  retried: z.string().max(10).optional(),
});

export const mailRoutes: HavenRoutes = async (server, { app }) => {
  const access = { access: 'mail_queue_view' as const };

  server.get('/mail/queue', { config: access, schema: { querystring: queueQuery } }, async (request, reply) => {
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
  server.post('/mail/queue/:id/retry', { config: access, schema: { params: ID_PARAMS, body: NO_BODY, querystring: NO_QUERY } }, async (request, reply) => {
    const session = request.session!;
    const retried = await retryFailedMail(app, request.params.id, session.user, request.ip);
    if (!retried) return sendErrorPage(request, reply, 404, 'Not found', 'There is no failed message with this id. It may have been retried already.');
    return reply.redirect('/mail/queue?status=queued&retried=1', 303);
  });
};
