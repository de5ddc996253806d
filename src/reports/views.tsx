import { Layout, type PageContext } from '../web/layout.tsx';
import { USER_REPORT_COLUMNS, userReportCells, type UserReportRow } from './service.ts';

export function UserReportPage({ ctx, rows }: { ctx: PageContext; rows: UserReportRow[] }) {
  return (
    <Layout title="Users Report" ctx={ctx}>
      <p>
        Every account, whether it may sign in, and its multi-factor authentication. {rows.length} {rows.length === 1 ? 'user' : 'users'}.
      </p>
      <p>
        <a href="/reports/users?format=csv" role="button">
          Export CSV
        </a>
      </p>
      <figure>
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
      </figure>
    </Layout>
  );
}
