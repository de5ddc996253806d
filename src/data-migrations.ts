// Changes to existing sites' data that code must make (with their audit entries), once each,
// after the SQL migrations. Each runs in one transaction that also claims its name in
// `data_migrations`, so that two instances starting together run it once.
import { eq, sql } from 'drizzle-orm';
import type { App } from './context.ts';
import { rowsOf, type Tx } from './db/client.ts';
import { clients, dataMigrations, intakeApplications, roles } from './db/schema.ts';
import { sealApplicationIdentity, sealedIdentityColumns, type Identity } from './clients/service.ts';
import { recordAudit } from './audit/service.ts';
import { SITE_ADMINISTRATOR } from './security/permissions.ts';

interface DataMigration {
  name: string;
  run(app: App, tx: Tx): Promise<void>;
}

const DATA_MIGRATIONS: DataMigration[] = [
  {
    // Roles with API Access are exempt from required MFA (DESIGN §1.3), so an administrator
    // role that held it could never be made to use MFA (issue 8, defect 2).
    name: '2026-12-site-administrator-without-api-access',
    async run(app, tx) {
      const [role] = await tx.select().from(roles).where(sql`lower(${roles.name}) = lower(${SITE_ADMINISTRATOR})`);
      if (!role || !role.internalPermissions.includes('api_access') && !role.externalPermissions.includes('api_access')) return;
      const after = {
        internal: role.internalPermissions.filter((p) => p !== 'api_access'),
        external: role.externalPermissions.filter((p) => p !== 'api_access'),
      };
      await tx.update(roles).set({ internalPermissions: after.internal, externalPermissions: after.external }).where(eq(roles.id, role.id));
      await recordAudit(
        app,
        {
          action: 'role.permissions_changed',
          actor: null,
          target: role.name,
          details: {
            before: { internal: role.internalPermissions, external: role.externalPermissions },
            after,
            reason: 'Haven upgrade: roles with API Access are exempt from required MFA, so Site Administrators no longer hold it.',
          },
        },
        tx,
      );
    },
  },
  {
    // Issue 10 adds two permissions. Site Administrators hold every permission but API Access,
    // and Supervisors are the ones who reopen cases and override the income limit.
    name: '2026-12-case-permissions',
    async run(app, tx) {
      const added = ['cases_reopen', 'intake_override_income'];
      for (const name of [SITE_ADMINISTRATOR, 'Supervisor']) {
        const [role] = await tx.select().from(roles).where(sql`lower(${roles.name}) = lower(${name})`);
        if (!role) continue;
        const internal = [...role.internalPermissions, ...added.filter((p) => !role.internalPermissions.includes(p))];
        if (internal.length === role.internalPermissions.length) continue;
        await tx.update(roles).set({ internalPermissions: internal }).where(eq(roles.id, role.id));
        await recordAudit(
          app,
          {
            action: 'role.permissions_changed',
            actor: null,
            target: role.name,
            details: {
              before: { internal: role.internalPermissions, external: role.externalPermissions },
              after: { internal, external: role.externalPermissions },
              reason: 'Haven upgrade: new permissions to reopen cases and to override the income limit at intake.',
            },
          },
          tx,
        );
      }
    },
  },
  {
    // Issue 11: dates of birth, SSNs and applications' identities are sealed (keys/records.ts).
    // Rows stored in clear before this release are sealed here, then the clear columns are
    // dropped. PostgreSQL keeps the old row versions on disk until they are rewritten:
    // docs/OPERATIONS.md says to run VACUUM FULL on both tables after upgrading.
    name: '2026-12-seal-identity',
    async run(app, tx) {
      // Run again on a database whose clear columns are gone already (its name claim was lost): nothing to do.
      const [clear] = await rowsOf<{ n: number }>(tx, sql`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'clients' AND column_name = 'ssn'`);
      if (!Number(clear?.n)) return;
      let clientsSealed = 0;
      for (;;) {
        const batch = await rowsOf<{ id: string; date_of_birth: string | null; ssn: string | null }>(
          tx,
          sql`SELECT id, date_of_birth::text AS date_of_birth, ssn FROM clients WHERE data_key IS NULL ORDER BY id LIMIT 1000`,
        );
        if (!batch.length) break;
        for (const row of batch) {
          await tx.update(clients).set(sealedIdentityColumns(app, row.id, { dateOfBirth: row.date_of_birth, ssn: row.ssn })).where(eq(clients.id, row.id));
        }
        clientsSealed += batch.length;
      }
      const applications = await rowsOf<{ id: string; identity: Identity }>(tx, sql`SELECT id, identity FROM intake_applications WHERE identity IS NOT NULL`);
      for (const row of applications) {
        await tx.update(intakeApplications).set(sealApplicationIdentity(app, row.id, row.identity)).where(eq(intakeApplications.id, row.id));
      }
      await tx.execute(sql`ALTER TABLE clients DROP COLUMN date_of_birth, DROP COLUMN ssn, ALTER COLUMN data_key SET NOT NULL`);
      await tx.execute(sql`ALTER TABLE intake_applications DROP COLUMN identity`);
      if (clientsSealed || applications.length) {
        await recordAudit(app, { action: 'keys.identity_sealed', actor: null, details: { clients: clientsSealed, applications: applications.length } }, tx);
      }
    },
  },
];

export async function applyDataMigrations(app: App): Promise<void> {
  for (const migration of DATA_MIGRATIONS) {
    await app.db.transaction(async (tx) => {
      const claimed = await tx.insert(dataMigrations).values({ name: migration.name, appliedAt: app.clock.now() }).onConflictDoNothing().returning({ name: dataMigrations.name });
      if (claimed.length) await migration.run(app, tx);
    });
  }
}
