import { Csrf, Field, FormError, Layout, Notice, SelectField, TableScroll, TextAreaField, type PageContext } from '../web/layout.tsx';
import type { NetworkRow } from './service.ts';

/** What the add and edit forms show: the stored network, or what was submitted and refused. */
export interface NetworkFormValues {
  name: string;
  ranges: string;
  internal: boolean;
  timeoutMinutes: string;
  forcedRole: string;
}

export const EMPTY_NETWORK: NetworkFormValues = { name: '', ranges: '', internal: false, timeoutMinutes: '', forcedRole: '' };

export function valuesOf(network: NetworkRow): NetworkFormValues {
  return {
    name: network.name,
    ranges: network.ranges.join('\n'),
    internal: network.internal,
    timeoutMinutes: network.timeoutMinutes === null ? '' : String(network.timeoutMinutes),
    forcedRole: network.forcedRoleId ?? '',
  };
}

export interface Where {
  ip: string;
  /** Whether any network is marked internal (else every session is internal). */
  internalDefined: boolean;
  kind: 'internal' | 'external';
  networkName: string | null;
}

function NetworkFields({ values, errors, roles, siteTimeout }: { values: NetworkFormValues; errors: Record<string, string>; roles: { id: string; name: string }[]; siteTimeout: number }) {
  return (
    <>
      <Field name="name" label="Name" value={values.name} error={errors.name} required help="For example: Main office, Courthouse annex, Staff VPN." />
      <TextAreaField
        name="ranges"
        label="Address ranges"
        value={values.ranges}
        error={errors.ranges}
        required
        rows={4}
        help="One per line, in CIDR form: 192.0.2.0/24, 2001:db8:42::/48. A single address is a range of one. Where ranges of two networks overlap, the more specific one wins."
      />
      <div class="field">
        <label>
          <input type="checkbox" name="internal" value="yes" checked={values.internal} {...({ 'aria-describedby': 'internal-help' } as Record<string, unknown>)} /> Internal network
        </label>
        <small id="internal-help">Sessions from an internal network use their role's Internal permissions; all others use the External ones.</small>
      </div>
      <Field
        name="timeout_minutes"
        label="Automatic logout after inactivity (minutes)"
        type="number"
        inputmode="numeric"
        value={values.timeoutMinutes}
        error={errors.timeout_minutes}
        help={`Leave empty to use the site's setting (${siteTimeout} minutes).`}
      />
      <SelectField
        name="forced_role"
        label="Limit sessions to a role"
        value={values.forcedRole}
        error={errors.forced_role}
        prompt="No limit"
        options={roles.map((r) => ({ value: r.id, label: r.name }))}
        help="Sessions from this network keep only the permissions this role also has; it never adds one."
      />
    </>
  );
}

function WhereYouAre({ where }: { where: Where }) {
  return (
    <Notice kind="info">
      You are connected from <code>{where.ip}</code>
      {where.networkName ? (
        <>
          , in network <strong>{where.networkName}</strong>
        </>
      ) : (
        ', outside every network defined here'
      )}
      : your session uses the <strong>{where.kind === 'internal' ? 'Internal' : 'External'}</strong> permissions of your role.
      {!where.internalDefined && ' No network is marked internal yet, so every session is internal.'}
    </Notice>
  );
}

export function LocationsPage({
  ctx,
  networks,
  roles,
  where,
  siteTimeout,
  values,
  errors,
  saved,
}: {
  ctx: PageContext;
  networks: NetworkRow[];
  roles: { id: string; name: string }[];
  where: Where;
  siteTimeout: number;
  values: NetworkFormValues;
  errors: Record<string, string>;
  saved?: string;
}) {
  return (
    <Layout title="Locations" ctx={ctx} subtitle="Which networks people connect from, and what sessions from each may do.">
      {saved && <Notice>{saved}</Notice>}
      <WhereYouAre where={where} />
      <section aria-labelledby="networks-title">
        <h2 id="networks-title">Networks</h2>
        {networks.length === 0 ? (
          <p id="no-networks">No networks yet. Until a network is marked internal, every session is internal.</p>
        ) : (
          <TableScroll label="Networks">
            <table id="networks">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Ranges</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Logout after</th>
                  <th scope="col">Limited to role</th>
                </tr>
              </thead>
              <tbody>
                {networks.map((n) => (
                  <tr>
                    <th scope="row">
                      <a href={`/admin/locations/${n.id}`}>{n.name}</a>
                    </th>
                    <td>
                      {n.ranges.map((r, i) => (
                        <>
                          {i > 0 && <br />}
                          <code>{r}</code>
                        </>
                      ))}
                    </td>
                    <td>{n.internal ? 'Internal' : 'External'}</td>
                    <td>{n.timeoutMinutes === null ? `site (${siteTimeout} min)` : `${n.timeoutMinutes} min`}</td>
                    <td>{n.forcedRoleName ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        )}
      </section>
      <section aria-labelledby="add-network-title">
        <h2 id="add-network-title">Add a network</h2>
        <FormError message={errors._form} />
        <form method="post" action="/admin/locations">
          <Csrf token={ctx.csrfToken} />
          <NetworkFields values={values} errors={errors} roles={roles} siteTimeout={siteTimeout} />
          <button type="submit">Add network</button>
        </form>
      </section>
    </Layout>
  );
}

export function NetworkPage({
  ctx,
  network,
  roles,
  where,
  siteTimeout,
  values,
  errors,
}: {
  ctx: PageContext;
  network: NetworkRow;
  roles: { id: string; name: string }[];
  where: Where;
  siteTimeout: number;
  values: NetworkFormValues;
  errors: Record<string, string>;
}) {
  return (
    <Layout title={`Network ${network.name}`} ctx={ctx} subtitle={<a href="/admin/locations">Back to Locations</a>}>
      <WhereYouAre where={where} />
      <FormError message={errors._form} />
      <form method="post" action={`/admin/locations/${network.id}`}>
        <Csrf token={ctx.csrfToken} />
        <NetworkFields values={values} errors={errors} roles={roles} siteTimeout={siteTimeout} />
        <button type="submit">Save network</button>
      </form>
      <section aria-labelledby="remove-network-title">
        <h2 id="remove-network-title">Remove this network</h2>
        <p>Sessions from its ranges then count as coming from wherever else their address falls.</p>
        <FormError message={errors._remove} />
        <form method="post" action={`/admin/locations/${network.id}/remove`}>
          <Csrf token={ctx.csrfToken} />
          <button type="submit" class="secondary">
            Remove {network.name}
          </button>
        </form>
      </section>
    </Layout>
  );
}
