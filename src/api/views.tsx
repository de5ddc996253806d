import { Layout, TableScroll, type PageContext } from '../web/layout.tsx';

interface Operation {
  summary?: string;
  requestBody?: unknown;
}

/** /api/v1/docs: the API in words, from the same OpenAPI document that /api/v1/openapi.json serves. */
export function ApiDocsPage({ ctx, document, limits }: { ctx: PageContext; limits: { perToken: number; perAddress: number }; document: { info: { title: string; version: string }; paths: Record<string, Record<string, Operation>> } }) {
  const operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase(), summary: op.summary ?? '' })));
  return (
    <Layout title="API" ctx={ctx} subtitle={`${document.info.title}, version ${document.info.version}`}>
      <section aria-labelledby="api-auth-title">
        <h2 id="api-auth-title">Authentication</h2>
        <p>
          Create a personal access token on <a href="/preferences#api-tokens">My Preferences</a> (your role needs API Access), and send it with every call as{' '}
          <code>Authorization: Bearer hvn_…</code>. A token works until it expires or is revoked, and stops at once when its account is deactivated. Calls are
          checked like your sessions: your role's permissions for the network you call from, and case access (a case you may not see is a 404).
        </p>
        <p>
          Every answer is JSON. Bad input is <code>400</code> with <code>{'{"error": "invalid_input", "fields": {"name": "what is wrong"}}'}</code>; then{' '}
          <code>401</code>, <code>403</code>, <code>404</code>, <code>409</code>, and <code>429</code> with <code>Retry-After</code> ({limits.perToken.toLocaleString('en-US')} calls a minute per token,{' '}
          {limits.perAddress.toLocaleString('en-US')} per address). Every call is recorded in the audit log with the token's name.
        </p>
        <p>
          The machine-readable description: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1).
        </p>
      </section>
      <section aria-labelledby="api-ops-title">
        <h2 id="api-ops-title">Operations</h2>
        <TableScroll label="API operations">
          <table id="api-operations">
            <thead>
              <tr>
                <th scope="col">Method</th>
                <th scope="col">Path</th>
                <th scope="col">What it does</th>
              </tr>
            </thead>
            <tbody>
              {operations.map((o) => (
                <tr>
                  <td>
                    <code>{o.method}</code>
                  </td>
                  <td>
                    <code>{o.path}</code>
                  </td>
                  <td>{o.summary}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      </section>
    </Layout>
  );
}
