import { Csrf, Field, FormError, Layout, Notice, plural, TableScroll, type PageContext } from '../web/layout.tsx';
import { MAIL_PAGE_SIZE, type MailFilters, type MailListRow, type MailStatus } from './service.ts';

const TABS: { status: MailStatus | undefined; label: string }[] = [
  { status: undefined, label: 'All' },
  { status: 'queued', label: 'Queued' },
  { status: 'sent', label: 'Sent' },
  { status: 'failed', label: 'Failed' },
];

const STATUS_BADGE: Record<string, string> = { queued: 'badge-wait', sent: 'badge-good', failed: 'badge-bad' };

const when = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').slice(0, 16) : '');

/** The page's URL for a tab, keeping the other filters. */
function tabHref(filters: MailFilters, status: MailStatus | undefined): string {
  const params = new URLSearchParams();
  if (status) params.set('status', status);
  for (const key of ['subject', 'recipient', 'from', 'to'] as const) if (filters[key]) params.set(key, filters[key]);
  const query = params.toString();
  return query ? `/mail/queue?${query}` : '/mail/queue';
}

export function MailQueuePage({
  ctx,
  filters,
  errors,
  rows,
  counts,
  retried,
}: {
  ctx: PageContext;
  filters: MailFilters;
  errors: Record<string, string>;
  rows: MailListRow[];
  /** Null when the filters were refused and nothing was looked up. */
  counts: Record<MailStatus, number> | null;
  retried: boolean;
}) {
  const filtered = Boolean(filters.subject || filters.recipient || filters.from || filters.to);
  return (
    <Layout title="Mail queue" ctx={ctx} subtitle="List Sent Mail: every message Haven has queued, sent or given up on.">
      {retried && <Notice>The message is queued again and will be sent shortly.</Notice>}
      <nav aria-label="Mail status" class="tabs">
        <ul>
          {TABS.map((tab) => {
            const label = counts && tab.status ? `${tab.label} (${counts[tab.status]})` : tab.label;
            return (
              <li>
                <a href={tabHref(filters, tab.status)} {...({ 'aria-current': filters.status === tab.status ? 'page' : undefined } as Record<string, unknown>)}>
                  {label}
                </a>
              </li>
            );
          })}
        </ul>
      </nav>
      <search aria-labelledby="mail-filter-title">
        <form method="get" action="/mail/queue" class="filter-form">
          <h2 id="mail-filter-title" class="filter-title">
            Filter
          </h2>
          {filters.status && <input type="hidden" name="status" value={filters.status} />}
          <FormError message={errors.status} />
          <div class="filter-grid">
            <Field name="subject" label="Subject contains" value={filters.subject} error={errors.subject} placeholder="e.g. verification code" />
            <Field name="recipient" label="Recipient contains" value={filters.recipient} error={errors.recipient} />
            <Field name="from" label="Queued from (UTC)" type="date" value={filters.from} error={errors.from} />
            <Field name="to" label="Queued to (UTC)" type="date" value={filters.to} error={errors.to} />
          </div>
          <div class="form-actions">
            <button type="submit">Filter</button>
            {filtered && <a href={tabHref({ ...filters, subject: '', recipient: '', from: '', to: '' }, filters.status)}>Clear the filter</a>}
          </div>
        </form>
      </search>
      {counts && (
        <>
          <p class="muted">
            {rows.length === MAIL_PAGE_SIZE
              ? `Showing the newest ${plural(MAIL_PAGE_SIZE, 'message')}. Narrow the filter to see older ones.`
              : rows.length === 0
                ? 'No messages match.'
                : `Showing ${plural(rows.length, 'message')}, newest first.`}
          </p>
          {rows.length > 0 && (
            <TableScroll label="Mail messages">
              <table class="mail-table">
                <thead>
                  <tr>
                    <th scope="col">Queued (UTC)</th>
                    <th scope="col">Recipient</th>
                    <th scope="col">Subject</th>
                    <th scope="col">Status</th>
                    <th scope="col">Attempts</th>
                    <th scope="col">Next attempt (UTC)</th>
                    <th scope="col">Sent (UTC)</th>
                    <th scope="col">Last error</th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((m) => (
                    <tr>
                      <td class="cell-nowrap">{when(m.createdAt)}</td>
                      <td>{m.toAddress}</td>
                      <td>{m.subject}</td>
                      <td>
                        <span class={`badge ${STATUS_BADGE[m.status] ?? ''}`.trim()}>{m.status}</span>
                      </td>
                      <td>{m.attempts}</td>
                      <td class="cell-nowrap">{m.status === 'queued' ? when(m.nextAttemptAt) : ''}</td>
                      <td class="cell-nowrap">{when(m.sentAt)}</td>
                      <td class="cell-wide">{m.lastError ?? ''}</td>
                      <td>
                        {m.status === 'failed' && (
                          <form method="post" action={`/mail/queue/${m.id}/retry`} class="inline-form">
                            <Csrf token={ctx.csrfToken} />
                            <button type="submit" class="secondary">
                              Retry
                            </button>
                          </form>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
          )}
        </>
      )}
    </Layout>
  );
}
