import { Csrf, Field, FormError, Layout, Notice, type PageContext } from '../web/layout.tsx';
import { LOOKUP_KINDS } from '../cases/service.ts';
import { LOOKUP_LABELS, type LookupRow } from './service.ts';

export function LookupsPage({ ctx, rows, errors, done }: { ctx: PageContext; rows: LookupRow[]; errors: Record<string, string>; done?: boolean }) {
  return (
    <Layout title="Case lists" ctx={ctx} subtitle="The offices, programs, funding codes and statuses a case can have. A value in use is never deleted: make it inactive and it is no longer offered.">
      {done && <Notice>Case lists saved.</Notice>}
      {LOOKUP_KINDS.map((kind) => (
        <section aria-labelledby={`lookup-${kind}`}>
          <h2 id={`lookup-${kind}`}>{LOOKUP_LABELS[kind]}</h2>
          <ul class="lookup-list">
            {rows
              .filter((r) => r.kind === kind)
              .map((r) => (
                <li>
                  {r.value} {!r.active && <small>(inactive)</small>}
                  <form method="post" action="/admin/lookups/active" class="inline-form">
                    <Csrf token={ctx.csrfToken} />
                    <input type="hidden" name="kind" value={kind} />
                    <input type="hidden" name="value" value={r.value} />
                    <input type="hidden" name="active" value={r.active ? 'no' : 'yes'} />
                    <button type="submit" class="secondary outline small">
                      {r.active ? `Make ${r.value} inactive` : `Make ${r.value} active`}
                    </button>
                  </form>
                </li>
              ))}
          </ul>
          <form method="post" action="/admin/lookups">
            <Csrf token={ctx.csrfToken} />
            <input type="hidden" name="kind" value={kind} />
            <Field name="value" id={`new-${kind}`} label={`Add to ${LOOKUP_LABELS[kind].toLowerCase()}`} error={errors[kind]} autocomplete="off" />
            <button type="submit">Add</button>
          </form>
        </section>
      ))}
      <FormError message={errors._form} />
    </Layout>
  );
}
