import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HavenRoutes } from '../web/plugin.ts';
import { line, query, type FieldErrors } from '../web/input.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { AUDIT_PAGE_SIZE, listAudit, type AuditFilters } from './service.ts';
import { isAuditActionFilter } from './describe.ts';
import { AUDIT_FILTER_FIELDS, isCalendarDate, isEntryNumber } from './filters.ts';
import { AuditPage } from './views.tsx';

const DATE_MESSAGE = 'Enter a date as YYYY-MM-DD, e.g. 2026-01-31.';
const NUMBER_MESSAGE = 'Must be an entry number (a whole number from 1).';
const AFTER_MESSAGE = 'Must be an entry number (a whole number from 0).';

// An empty value (a filter left blank in the form) means "not set".
const date = () => line(10).refine((v) => v === '' || isCalendarDate(v), DATE_MESSAGE).optional();
const entryNumber = (zero = false) => line(32).refine((v) => v === '' || isEntryNumber(v, { zero }), zero ? AFTER_MESSAGE : NUMBER_MESSAGE).optional();

const fields = {
  user: line(128).optional(),
  action: line(60).refine((v) => v === '' || isAuditActionFilter(v), 'Choose an action from the list.').optional(),
  from: date(),
  to: date(),
  before: entryNumber(),
  after: entryNumber(true),
};

const auditQuery = query(fields).superRefine((q, ctx) => {
  if (q.from && q.to && q.to < q.from) ctx.addIssue({ code: 'custom', path: ['to'], message: 'The end date is before the start date.' });
  if (q.before && q.after) ctx.addIssue({ code: 'custom', path: ['after'], message: 'Use either before or after, not both.' });
});

type AuditQuery = { [K in keyof typeof fields]?: string };

function filtersOf(q: AuditQuery): AuditFilters {
  const filters: AuditFilters = {};
  for (const key of AUDIT_FILTER_FIELDS) {
    const value = key === 'user' ? q.user?.trim() : q[key];
    if (value) filters[key] = value;
  }
  return filters;
}

export const auditRoutes: HavenRoutes = async (server, { app }) => {
  /** Refused filters: the page again, each message beside its field, the valid ones kept, no entries. */
  const invalid = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => {
    const raw = (request.query ?? {}) as Record<string, unknown>;
    const kept: AuditQuery = {};
    for (const key of AUDIT_FILTER_FIELDS) {
      if (errors[key]) continue;
      const parsed = fields[key].safeParse(raw[key]);
      if (parsed.success) kept[key] = parsed.data;
    }
    return sendPage(reply, <AuditPage ctx={pageContext(request, reply)} filters={filtersOf(kept)} errors={errors} page={null} />, 400);
  };

  server.get('/admin/audit', { config: { access: 'audit_view', onInvalidInput: invalid }, schema: { querystring: auditQuery } }, async (request, reply) => {
    const q = request.query;
    const filters = filtersOf(q);
    const page = await listAudit(app, {
      filters,
      before: q.before ? Number(q.before) : undefined,
      after: q.after ? Number(q.after) : undefined,
      limit: AUDIT_PAGE_SIZE,
    });
    return sendPage(reply, <AuditPage ctx={pageContext(request, reply)} filters={filters} errors={{}} page={page} />);
  });
};
