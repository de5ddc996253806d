import { Field, FormError, Layout, TableScroll, type PageContext } from '../web/layout.tsx';
import type { AuditFilters, AuditListPage } from './service.ts';
import { AUDIT_ACTION_GROUPS, describeEntry, detailLines } from './describe.ts';
import { AUDIT_FILTER_FIELDS, auditPageHref } from './filters.ts';

const when = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 19);

/** Attributes Preact's types do not list for every element, passed through as they are. */
const attrs = (a: Record<string, unknown>) => a as Record<string, never>;

/** The action filter: a <select> with a group per kind of event, laid out like layout.tsx's fields. */
function ActionSelect({ value, error }: { value?: string; error?: string }) {
  return (
    <div class="field">
      <label for="field-action">Action</label>
      <select {...attrs({ name: 'action', id: 'field-action', 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': error ? 'action-error' : undefined })}>
        <option value="" selected={!value}>
          All actions
        </option>
        {AUDIT_ACTION_GROUPS.map((group) => (
          <optgroup label={group.label}>
            {group.choices.map((c) => (
              <option value={c.value} selected={c.value === value}>
                {c.label}
              </option>
            ))}
          </optgroup>
        ))}
      </select>
      {error && (
        <small id="action-error" role="alert" class="field-error">
          {error}
        </small>
      )}
    </div>
  );
}

function PageLinks({ filters, page }: { filters: AuditFilters; page: AuditListPage }) {
  if (page.newer === undefined && page.older === undefined) return null;
  return (
    <nav aria-label="Audit log pages">
      <ul>
        {page.newer !== undefined && (
          <>
            <li>
              <a href={auditPageHref(filters)}>Newest</a>
            </li>
            <li>
              <a href={auditPageHref(filters, { after: page.newer })} rel="prev">
                Newer
              </a>
            </li>
          </>
        )}
        {page.older !== undefined && (
          <li>
            <a href={auditPageHref(filters, { before: page.older })} rel="next">
              Older
            </a>
          </li>
        )}
      </ul>
    </nav>
  );
}

export function AuditPage({
  ctx,
  filters,
  errors,
  page,
}: {
  ctx: PageContext;
  filters: AuditFilters;
  errors: Record<string, string>;
  /** Null when the filters were refused and nothing was looked up. */
  page: AuditListPage | null;
}) {
  // Errors of values the form does not show (a page link's `before` or `after`, say).
  const other = Object.entries(errors).filter(([name]) => !(AUDIT_FILTER_FIELDS as readonly string[]).includes(name));
  const filtered = AUDIT_FILTER_FIELDS.some((k) => filters[k]);
  const entries = page?.entries ?? [];
  return (
    <Layout title="Audit log" ctx={ctx} subtitle="Sign-ins, failures, MFA events and every change of users, roles and settings, newest first.">
      <search aria-labelledby="audit-filter-title">
        <form method="get" action="/admin/audit" class="filter-form">
          <h2 id="audit-filter-title" class="filter-title">
            Filter
          </h2>
          <div class="filter-grid">
            <Field name="user" label="User" value={filters.user} error={errors.user} help="A login or a role name: what it did, or what was done to it." />
            <ActionSelect value={filters.action} error={errors.action} />
            <Field name="from" label="From (UTC date)" type="date" value={filters.from} error={errors.from} />
            <Field name="to" label="To (UTC date)" type="date" value={filters.to} error={errors.to} />
          </div>
          <div class="form-actions">
            <button type="submit">Filter</button>
            {filtered && <a href="/admin/audit">Clear the filter</a>}
          </div>
        </form>
      </search>
      {other.map(([name, message]) => (
        <FormError message={`${name}: ${message}`} />
      ))}
      {page && (
        <>
          <p class="muted">
            {entries.length === 0
              ? filtered
                ? 'No entries match the filter.'
                : 'No entries here.'
              : `Entries ${entries[0]!.seq} to ${entries.at(-1)!.seq}${filtered ? ' matching the filter' : ''}, newest first. Times are UTC.`}
          </p>
          {entries.length > 0 && (
            <TableScroll label="Audit log entries">
              <table class="audit-table">
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">When (UTC)</th>
                    <th scope="col">Who</th>
                    <th scope="col">What</th>
                    <th scope="col">Address</th>
                  </tr>
                </thead>
                <tbody>
                  {entries.map((e) => (
                    <tr>
                      <td>{e.seq}</td>
                      <td class="cell-nowrap">
                        <time {...attrs({ datetime: e.at.toISOString() })}>{when(e.at)}</time>
                      </td>
                      <td>{e.actorLogin ?? '-'}</td>
                      <td class="cell-wide cell-break">
                        {describeEntry(e)}
                        <details class="audit-details">
                          <summary>Details</summary>
                          <dl>
                            <dt>action</dt>
                            <dd>
                              <code>{e.action}</code>
                            </dd>
                            {e.target !== null && (
                              <>
                                <dt>target</dt>
                                <dd>{e.target}</dd>
                              </>
                            )}
                            {detailLines(e.details).map(([key, value]) => (
                              <>
                                <dt>{key}</dt>
                                <dd class="cell-break">{value}</dd>
                              </>
                            ))}
                          </dl>
                        </details>
                      </td>
                      <td>{e.ip ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
          )}
          <PageLinks filters={filters} page={page} />
        </>
      )}
    </Layout>
  );
}
