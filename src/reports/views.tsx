import { Layout, plural, TableScroll, type PageContext } from '../web/layout.tsx';
import { USER_REPORT_COLUMNS, userReportCells, type UserReportRow } from './service.ts';

export function UserReportPage({ ctx, rows }: { ctx: PageContext; rows: UserReportRow[] }) {
  return (
    <Layout
      title="Users Report"
      ctx={ctx}
      subtitle={`Every account, whether it may log in, and its multifactor authentication: ${plural(rows.length, 'user')}.`}
      actions={
        <a href="/reports/users?format=csv" role="button">
          Export CSV
        </a>
      }
    >
      <TableScroll label="Users report">
        <table id="users-report">
          <thead>
            <tr>
              {USER_REPORT_COLUMNS.map((c) => (
                <th scope="col">{c}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr>
                {userReportCells(row, { never: 'never' }).map((cell) => (
                  <td>{cell}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
    </Layout>
  );
}
