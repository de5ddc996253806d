import { Csrf, Field, FormError, Layout, Notice, plural, SelectField, TableScroll, TextAreaField, type PageContext } from '../web/layout.tsx';
import { CLOSING_CODES, closingCodeLabel, problemCodeLabel } from '../security/lsc-codes.ts';
import { DISPOSITION_LABELS, actionsAvailable, type DispositionAction } from '../security/disposition.ts';
import { formatSsn } from '../security/ssn.ts';
import { ConflictTable } from '../intake/views.tsx';
import type { CaseDetails, Lookups } from './service.ts';
import { SEARCH_LIMIT, type CaseListItem } from './search.ts';

const when = (d: Date | string) => new Date(d).toISOString().slice(0, 16).replace('T', ' ');
function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A sealed value that did not open: said plainly, never guessed at. */
const UNREADABLE = 'could not be opened (the administrator has been told in the log)';

function CaseTable({ label, items }: { label: string; items: CaseListItem[] }) {
  return (
    <TableScroll label={label}>
      <table>
        <thead>
          <tr>
            <th scope="col">Case</th>
            <th scope="col">Client</th>
            <th scope="col">Problem</th>
            <th scope="col">Disposition</th>
            <th scope="col">Opened (UTC)</th>
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr>
              <td class="cell-nowrap">
                <a href={`/cases/${c.id}`}>{c.number}</a>
              </td>
              <td>{c.clientName}</td>
              <td>
                {c.problemCode} {problemCodeLabel(c.problemCode) ?? ''}
              </td>
              <td>{DISPOSITION_LABELS[c.disposition] ?? c.disposition}</td>
              <td class="cell-nowrap">{when(c.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

export function CaseListPage({ ctx, q, results, mine, recent, mayIntake }: { ctx: PageContext; q: string; results: CaseListItem[] | null; mine: CaseListItem[]; recent: CaseListItem[]; mayIntake: boolean }) {
  return (
    <Layout
      title="Cases"
      ctx={ctx}
      actions={
        mayIntake ? (
          <a href="/intake" role="button">
            New intake
          </a>
        ) : undefined
      }
    >
      <form method="get" action="/cases" role="search" class="search-form">
        <label for="case-search">Find a case</label>
        <div class="search-row">
          <input type="search" id="case-search" name="q" value={q} placeholder="Case number, client name or date of birth" aria-describedby="case-search-help" />
          <button type="submit">Search</button>
        </div>
        <small id="case-search-help">A case number (26-000123), a client’s name (also other names and names that sound alike), or a date of birth (YYYY-MM-DD).</small>
      </form>
      {results !== null ? (
        <section aria-labelledby="results-title">
          <h2 id="results-title">
            {results.length ? `${results.length >= SEARCH_LIMIT ? `${SEARCH_LIMIT} or more cases` : plural(results.length, 'case')} found` : 'No cases found'}
          </h2>
          {results.length > 0 ? <CaseTable label="Search results" items={results} /> : <p>Try another spelling, the case number, or the date of birth.</p>}
        </section>
      ) : (
        <>
          <section aria-labelledby="mine-title">
            <h2 id="mine-title">Assigned to you</h2>
            {mine.length ? <CaseTable label="Cases assigned to you" items={mine} /> : <p>No cases are assigned to you.</p>}
          </section>
          <section aria-labelledby="recent-title">
            <h2 id="recent-title">Recently opened</h2>
            {recent.length ? <CaseTable label="Recently opened cases" items={recent} /> : <p>No cases yet.</p>}
          </section>
        </>
      )}
    </Layout>
  );
}

export type CaseDone = 'created' | 'note' | 'disposition' | 'assigned' | 'unassigned' | 'conflict' | 'details' | 'document' | 'mail_alias';
const DONE_TEXT: Record<CaseDone, string> = {
  created: 'Case created from the application.',
  note: 'Note added.',
  disposition: 'Disposition changed.',
  assigned: 'Assignment saved.',
  unassigned: 'Assignment removed.',
  conflict: 'Conflict decision recorded.',
  details: 'Case details saved.',
  document: 'Document uploaded.',
  mail_alias: 'The case’s e-mail address is saved.',
};
export const CASE_DONE = Object.keys(DONE_TEXT) as CaseDone[];

const ACTION_LABELS: Record<DispositionAction, string> = { accept: 'Accept (open the case)', reject: 'Reject', close: 'Close', reopen: 'Reopen' };

function Row({ label, children }: { label: string; children: preact.ComponentChildren }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

export function CasePage(props: {
  ctx: PageContext;
  c: CaseDetails;
  permissions: readonly string[];
  lookups: Lookups;
  staff: { login: string; fullName: string }[];
  errors: Record<string, string>;
  formError?: string;
  done?: CaseDone;
  values?: Record<string, string>;
  /** HAVEN_INBOUND_DOMAIN: when set, the page shows the case's mail addresses. */
  inboundDomain?: string;
}) {
  const { ctx, c, permissions, errors, values = {} } = props;
  const canEdit = permissions.includes('cases_edit');
  const actions = actionsAvailable(c.disposition, permissions);
  const fullSsn = permissions.includes('ssn_view_full');
  const base = `/cases/${c.id}`;
  return (
    <Layout
      title={`Case ${c.number}`}
      ctx={ctx}
      subtitle={
        <>
          {c.client.firstName} {c.client.lastName} · {c.problemCode} {problemCodeLabel(c.problemCode) ?? ''}
        </>
      }
    >
      {props.done && <Notice links={<a href="/cases">Back to cases</a>}>{DONE_TEXT[props.done]}</Notice>}
      <FormError message={props.formError} />
      <div class="case-summary">
        <dl class="facts">
          <Row label="Case number">
            <span id="case-number">{c.number}</span>
          </Row>
          <Row label="Disposition">
            <strong id="disposition">{DISPOSITION_LABELS[c.disposition]}</strong>
            {c.closingCode && ` (closing code ${c.closingCode}: ${closingCodeLabel(c.closingCode) ?? ''})`}
          </Row>
          {c.rejectReason && <Row label="Rejected because">{c.rejectReason}</Row>}
          {c.referral && <Row label="Referral">{c.referral}</Row>}
          <Row label="Status">{c.status ?? 'none'}</Row>
          <Row label="Office / program">
            {c.office ?? 'none'} / {c.program ?? 'none'}
          </Row>
          <Row label="Funding code">{c.fundingCode ?? 'none'}</Row>
          <Row label="Opened (UTC)">{when(c.createdAt)}</Row>
          {c.incomeOverrideReason && <Row label="Income limit overridden because">{c.incomeOverrideReason}</Row>}
        </dl>
        <section aria-labelledby="client-title">
          <h2 id="client-title">Client</h2>
          <dl class="facts">
            <Row label="Name">
              {c.client.firstName} {c.client.lastName}
            </Row>
            {c.client.aliases.length > 0 && <Row label="Other names">{c.client.aliases.join(', ')}</Row>}
            <Row label="Date of birth">{c.client.unreadable ? UNREADABLE : (c.client.dateOfBirth ?? 'not given')}</Row>
            <Row label="SSN">
              <span id="client-ssn">{c.client.unreadable ? UNREADABLE : c.client.ssn ? formatSsn(c.client.ssn, fullSsn) : 'not given'}</span>
            </Row>
            <Row label="Phone">{c.client.phone ?? 'not given'}</Row>
            <Row label="E-mail">{c.client.email ?? 'not given'}</Row>
            {c.client.language && <Row label="Language">{c.client.language}</Row>}
            <Row label="Household">
              {c.client.householdSize ?? '?'} {c.client.householdSize === 1 ? 'person' : 'people'}, ${(c.client.annualIncome ?? 0).toLocaleString('en-US')} a year
            </Row>
            <Row label="Address">
              {c.postalCode ?? ''} {c.county ? `(${c.county} County)` : ''}
            </Row>
          </dl>
        </section>
      </div>

      <section aria-labelledby="adverse-title">
        <h2 id="adverse-title">Adverse parties</h2>
        {c.adverseParties.length ? (
          <ul id="adverse-parties">
            {c.adverseParties.map((p) => (
              <li>{p}</li>
            ))}
          </ul>
        ) : (
          <p>None recorded.</p>
        )}
      </section>

      <section aria-labelledby="conflicts-title">
        <h2 id="conflicts-title">Possible conflicts</h2>
        {c.conflicts.length === 0 && <p>None found at intake.</p>}
        {canEdit && c.conflicts.length > 0 ? (
          <>
            <ConflictTable rows={c.conflicts} />
            <details class="conflict-decide">
              <summary>Change a decision</summary>
              {c.conflicts.map((r) => (
                <form method="post" action={`${base}/conflicts/${r.id}`} class="inline-form">
                  <Csrf token={ctx.csrfToken} />
                  <label for={`decide-${r.id}`}>
                    {r.subjectName} ↔ {r.matchedName} (score {r.score}){r.matchedCase ? ` — case ${r.matchedCase.number}` : ''}
                  </label>
                  <select id={`decide-${r.id}`} name="decision">
                    <option value="review" selected={r.decision === 'review'}>
                      Review needed
                    </option>
                    <option value="no_conflict" selected={r.decision === 'no_conflict'}>
                      No conflict
                    </option>
                    <option value="conflict" selected={r.decision === 'conflict'}>
                      Conflict
                    </option>
                  </select>
                  <button type="submit" class="secondary">
                    Record
                  </button>
                </form>
              ))}
            </details>
          </>
        ) : (
          <ConflictTable rows={c.conflicts} />
        )}
      </section>

      <section aria-labelledby="assigned-title">
        <h2 id="assigned-title">Assigned staff</h2>
        {c.assignees.length ? (
          <ul id="assignees">
            {c.assignees.map((a) => (
              <li>
                {a.fullName} ({a.login}){a.kind === 'intake' ? ', took the application' : ''}
                {canEdit && (
                  <form method="post" action={`${base}/assignment`} class="inline-form">
                    <Csrf token={ctx.csrfToken} />
                    <input type="hidden" name="assignee" value={a.login} />
                    <input type="hidden" name="remove" value="yes" />
                    <button type="submit" class="secondary outline small">
                      Remove {a.login}
                    </button>
                  </form>
                )}
              </li>
            ))}
          </ul>
        ) : (
          <p>Nobody is assigned.</p>
        )}
        {canEdit && (
          <form method="post" action={`${base}/assignment`}>
            <Csrf token={ctx.csrfToken} />
            <Field name="assignee" label="Assign a user (login)" value={values.assignee} error={errors.assignee} autocomplete="off" help={`For example ${props.staff.slice(0, 3).map((s) => s.login).join(', ') || 'a login'}.`} />
            <button type="submit">Assign</button>
          </form>
        )}
      </section>

      {actions.length > 0 && (
        <section aria-labelledby="disposition-title">
          <h2 id="disposition-title">Change the disposition</h2>
          <form method="post" action={`${base}/disposition`}>
            <Csrf token={ctx.csrfToken} />
            <fieldset>
              <legend>Action</legend>
              {actions.map((a, i) => (
                <label>
                  <input type="radio" name="action" value={a} checked={values.action ? values.action === a : i === 0} /> {ACTION_LABELS[a]}
                </label>
              ))}
            </fieldset>
            {actions.includes('reject') && (
              <>
                <Field name="reason" label="Reason for rejecting" value={values.reason} error={errors.reason} help="Needed to reject." />
                <TextAreaField name="referral" label="Referral given" value={values.referral} error={errors.referral} rows={2} help="Needed to reject: where the applicant was sent." />
              </>
            )}
            {actions.includes('close') && (
              <SelectField
                name="closing_code"
                label="Closing code"
                prompt="Choose a closing code (needed to close)"
                options={CLOSING_CODES.map((k) => ({ value: k.code, label: `${k.code} ${k.label}` }))}
                value={values.closing_code}
                error={errors.closing_code}
              />
            )}
            {errors.action && (
              <p role="alert" class="field-error">
                {errors.action}
              </p>
            )}
            <button type="submit">Apply</button>
          </form>
        </section>
      )}

      {canEdit && (
        <section aria-labelledby="details-title">
          <h2 id="details-title">Case details</h2>
          <form method="post" action={`${base}/details`}>
            <Csrf token={ctx.csrfToken} />
            <div class="grid">
              <SelectField name="office" label="Office" prompt="None" options={props.lookups.office.map((v) => ({ value: v, label: v }))} value={c.office ?? ''} error={errors.office} />
              <SelectField name="program" label="Program" prompt="None" options={props.lookups.program.map((v) => ({ value: v, label: v }))} value={c.program ?? ''} error={errors.program} />
            </div>
            <div class="grid">
              <SelectField
                name="funding_code"
                label="Funding code"
                prompt="None"
                options={props.lookups.funding_code.map((v) => ({ value: v, label: v }))}
                value={c.fundingCode ?? ''}
                error={errors.funding_code}
              />
              <SelectField name="status" label="Case status" prompt="None" options={props.lookups.case_status.map((v) => ({ value: v, label: v }))} value={c.status ?? ''} error={errors.status} />
            </div>
            <button type="submit">Save details</button>
          </form>
        </section>
      )}

      <section aria-labelledby="documents-title">
        <h2 id="documents-title">Documents</h2>
        {c.documents.length ? (
          <TableScroll label="Documents on this case, newest first">
            <table id="documents">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Size</th>
                  <th scope="col">From</th>
                  <th scope="col">Added</th>
                </tr>
              </thead>
              <tbody>
                {c.documents.map((d) => (
                  <tr>
                    <td>
                      <a href={`${base}/documents/${d.id}`} download>
                        {d.name}
                      </a>
                    </td>
                    <td>{formatBytes(d.size)}</td>
                    <td>{d.source === 'mail' ? 'E-mail' : (d.uploadedBy ?? 'Haven')}</td>
                    <td>{when(d.createdAt)} UTC</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        ) : (
          <p>No documents yet.</p>
        )}
        {canEdit && (
          // The CSRF token rides in the address: a multipart body is read only after the check.
          <form method="post" action={`${base}/documents?_csrf=${encodeURIComponent(ctx.csrfToken)}`} enctype="multipart/form-data">
            <Field name="file" type="file" label="Add a document" error={errors.file} help={`Any kind of file, up to ${c.documentMaxMb} MB. It is stored encrypted and always downloaded as a file.`} />
            <button type="submit">Upload</button>
          </form>
        )}
      </section>

      {props.inboundDomain && (
        <section aria-labelledby="mail-title">
          <h2 id="mail-title">E-mail to this case</h2>
          <p>
            Mail sent to <code id="case-mail-address">{`case-${c.number}@${props.inboundDomain}`}</code>
            {c.mailAlias && (
              <>
                {' '}
                or <code id="case-mail-alias">{`${c.mailAlias}@${props.inboundDomain}`}</code>
              </>
            )}{' '}
            is filed here while the case is open or pending: its text as a note, its attachments as documents.
          </p>
          {canEdit && (
            <form method="post" action={`${base}/mail-alias`}>
              <Csrf token={ctx.csrfToken} />
              <Field
                name="mail_alias"
                label={`Another address (before @${props.inboundDomain})`}
                value={values.mail_alias ?? c.mailAlias ?? ''}
                error={errors.mail_alias}
                help="Optional, e.g. smith-eviction. Leave empty for none."
                autocomplete="off"
              />
              <button type="submit">Save address</button>
            </form>
          )}
        </section>
      )}

      <section aria-labelledby="notes-title">
        <h2 id="notes-title">Notes</h2>
        {c.notes.length ? (
          <ol id="notes" class="notes">
            {c.notes.map((n) => (
              <li>
                <p class="note-meta">
                  {n.author ?? 'Haven'} · {when(n.at)} UTC
                </p>
                <p class="note-text">{n.text}</p>
              </li>
            ))}
          </ol>
        ) : (
          <p>No notes yet.</p>
        )}
        {canEdit && (
          <form method="post" action={`${base}/notes`}>
            <Csrf token={ctx.csrfToken} />
            <TextAreaField name="note" label="Add a note" value={values.note} error={errors.note} rows={4} help="Notes cannot be changed afterwards: a correction is a new note." />
            <button type="submit">Add note</button>
          </form>
        )}
      </section>
    </Layout>
  );
}
