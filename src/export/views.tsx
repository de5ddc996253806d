import { Csrf, FormError, Layout, Notice, plural, TableScroll, type PageContext } from '../web/layout.tsx';
import type { ExportListing, ExportRun } from './service.ts';

// Admin > Export: start a full export into the data directory, watch it, see the ones made.

export function ExportPage({ ctx, run, exports, dir, formError }: { ctx: PageContext; run: ExportRun | null; exports: ExportListing[]; dir: string; formError?: string }) {
  const running = run !== null && run.result === null;
  return (
    <Layout title="Export" ctx={ctx} subtitle="Every table and every document, opened, as CSV files and a manifest" refreshSeconds={running ? 2 : undefined}>
      <FormError message={formError} />
      {run?.result?.ok === true && <Notice>Export finished: {run.result.message}</Notice>}
      {run?.result?.ok === false && <FormError message={`The export stopped: ${run.result.message}`} />}
      <section aria-labelledby="export-now-title">
        <h2 id="export-now-title">Export everything</h2>
        <p>
          The export is written on the server, in a new folder under <code class="path-text">{dir}</code>, readable only by the account Haven runs as. It holds Social Security numbers, dates of birth and
          documents in clear: move it only to storage as safe as Haven's own, and delete it when it has served. The same export is <code>haven export --to DIR</code>.
        </p>
        {running ? (
          <p role="status">An export is under way; this page follows it.</p>
        ) : (
          <form method="post" action="/admin/export">
            <Csrf token={ctx.csrfToken} />
            <button type="submit">Export now</button>
          </form>
        )}
        {run && (
          <>
            <h3>{running ? 'Progress' : 'The last export'}</h3>
            <ol id="export-progress" class="progress-lines">
              {run.lines.map((line) => (
                <li>{line}</li>
              ))}
            </ol>
          </>
        )}
      </section>
      <section aria-labelledby="exports-title">
        <h2 id="exports-title">Exports on the server</h2>
        {exports.length ? (
          <TableScroll label="Finished exports, newest first">
            <table id="exports">
              <thead>
                <tr>
                  <th scope="col">Folder</th>
                  <th scope="col">Exported (UTC)</th>
                  <th scope="col">Contents</th>
                </tr>
              </thead>
              <tbody>
                {exports.map((e) => (
                  <tr>
                    <td class="cell-break">
                      <code>{e.path}</code>
                    </td>
                    <td>{e.exportedAt.slice(0, 16).replace('T', ' ')}</td>
                    <td>
                      {plural(e.tables, 'table')}, {plural(e.rows, 'row')}, {plural(e.documents, 'document')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        ) : (
          <p>None yet.</p>
        )}
      </section>
    </Layout>
  );
}
