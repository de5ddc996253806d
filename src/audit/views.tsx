import { Layout, type PageContext } from '../web/layout.tsx';
import { canonicalJson } from '../security/audit-chain.ts';
import type { auditLog } from '../db/schema.ts';

export function AuditPage({
  ctx,
  entries,
  action,
  nextBefore,
}: {
  ctx: PageContext;
  entries: (typeof auditLog.$inferSelect)[];
  action: string;
  nextBefore?: number;
}) {
  return (
    <Layout title="Audit log" ctx={ctx}>
      <form method="get" action="/admin/audit" role="search">
        <input name="action" placeholder="Action starts with, e.g. login." value={action} aria-label="Action" />
        <button type="submit">Filter</button>
      </form>
      <table>
        <thead>
          <tr>
            <th>#</th>
            <th>When (UTC)</th>
            <th>Who</th>
            <th>Action</th>
            <th>Target</th>
            <th>Address</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr>
              <td>{e.seq}</td>
              <td>{e.at.toISOString().replace('T', ' ').slice(0, 19)}</td>
              <td>{e.actorLogin ?? '-'}</td>
              <td>{e.action}</td>
              <td>{e.target ?? ''}</td>
              <td>{e.ip ?? ''}</td>
              <td>
                <code>{e.details ? canonicalJson(e.details) : ''}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {nextBefore && (
        <a href={`/admin/audit?before=${nextBefore}${action ? `&action=${encodeURIComponent(action)}` : ''}`}>Older entries</a>
      )}
    </Layout>
  );
}
