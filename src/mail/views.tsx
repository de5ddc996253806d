import { Csrf, FormError, Layout, type PageContext } from '../web/layout.tsx';
import { MAIL_PAGE_SIZE, type MailFilters, type MailListRow, type MailStatus } from './service.ts';

const TABS: { status: MailStatus | undefined; label: string }[] = [
  { status: undefined, label: 'All' },
  { status: 'queued', label: 'Queued' },
  { status: 'sent', label: 'Sent' },
  { status: 'failed', label: 'Failed' },
];

const when = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').slice(0, 16) : '');

/** The page's URL for a tab, keeping the other filters. */
function tabHref(filters: MailFilters, status: MailStatus | undefined): string {
  const params = new URLSearchParams();
  if (status) params.set('status', status);
  for (const key of ['subject', 'recipient', 'from', 'to'] as const) if (filters[key]) params.set(key, filters[key]);
  const query = params.toString();
  return query ? `/mail/queue?${query}` : '/mail/queue';
}

/** A filter input with its error beside it (role="alert"); `date` inputs send YYYY-MM-DD. */
function FilterField({ name, label, type, value, error, placeholder }: { name: string; label: string; type: 'text' | 'date'; value: string; error?: string; placeholder?: string }) {
  const errorId = `${name}-error`;
  return (
    <label>
      {label}
      <input
        {...({
          name,
          type,
          value,
          placeholder,
          'aria-invalid': error ? 'true' : undefined,
          'aria-describedby': error ? errorId : undefined,
        } as Record<string, unknown>)}
      />
      {error && (
        <small id={errorId} role="alert" class="field-error">
          {error}
        </small>
      )}
    </label>
  );
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
  return (
    <Layout title="List Sent Mail" ctx={ctx}>
      {retried && <p role="status">The message is queued again and will be sent shortly.</p>}
      <nav aria-label="Mail status">
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
      <form method="get" action="/mail/queue" role="search">
        {filters.status && <input type="hidden" name="status" value={filters.status} />}
        <FormError message={errors.status} />
        <div class="grid">
          <FilterField name="subject" label="Subject contains" type="text" value={filters.subject} error={errors.subject} placeholder="e.g. verification code" />
          <FilterField name="recipient" label="Recipient contains" type="text" value={filters.recipient} error={errors.recipient} />
          <FilterField name="from" label="Queued from (UTC)" type="date" value={filters.from} error={errors.from} />
          <FilterField name="to" label="Queued to (UTC)" type="date" value={filters.to} error={errors.to} />
        </div>
        <button type="submit">Filter</button>
      </form>
      {counts && (
        <>
          <table>
            <thead>
              <tr>
                <th>Queued (UTC)</th>
                <th>Recipient</th>
                <th>Subject</th>
                <th>Status</th>
                <th>Attempts</th>
                <th>Next attempt</th>
                <th>Sent (UTC)</th>
                <th>Last error</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {rows.map((m) => (
                <tr>
                  <td>{when(m.createdAt)}</td>
                  <td>{m.toAddress}</td>
                  <td>{m.subject}</td>
                  <td>{m.status}</td>
                  <td>{m.attempts}</td>
                  <td>{m.status === 'queued' ? when(m.nextAttemptAt) : ''}</td>
                  <td>{when(m.sentAt)}</td>
                  <td>{m.lastError ?? ''}</td>
                  <td>
                    {m.status === 'failed' && (
                      <form method="post" action={`/mail/queue/${m.id}/retry`} class="inline-form">
                        <Csrf token={ctx.csrfToken} />
                        <button type="submit" class="secondary">Retry</button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length === 0 && <p>No messages match.</p>}
          {rows.length === MAIL_PAGE_SIZE && <p>Showing the newest {MAIL_PAGE_SIZE} messages. Narrow the filter to see older ones.</p>}
        </>
      )}
    </Layout>
  );
}
