import { sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import { rowsOf } from '../db/client.ts';
import { conflictResults } from '../db/schema.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { checkIdentity, insertClient, openIdentity, type FieldErrors } from '../clients/service.ts';
import { insertCase, type CaseDetails } from '../cases/service.ts';
import { runConflictCheck } from '../cases/conflicts.ts';
import { visibleTo } from '../cases/access.ts';
import { getSiteSettings } from '../settings/service.ts';
import { isProblemCode } from '../security/lsc-codes.ts';
import { formatSsn } from '../security/ssn.ts';
import { TEXT_PROBLEM_MESSAGES, textProblem } from '../security/text.ts';
import type { CaseViewer } from '../security/case-access.ts';

// What the API does beyond the pages' own services (DESIGN §2.4 API v1): a client on its own,
// a case for a client, and the JSON forms of what it returns.

export interface ApiClientInput {
  first_name: string;
  last_name: string;
  date_of_birth?: string;
  ssn?: string;
  phone?: string;
  email?: string;
}

/** POST /api/v1/clients: the intake's identity checks and `ssn_digits`, then the sealed client. */
export async function createClientViaApi(app: App, input: ApiClientInput, who: { actor: Actor; ip: string }): Promise<{ ok: true; id: string } | { ok: false; fields: FieldErrors }> {
  const settings = await getSiteSettings(app);
  const checked = checkIdentity(
    { first_name: input.first_name, last_name: input.last_name, date_of_birth: input.date_of_birth ?? '', ssn: input.ssn ?? '', phone: input.phone ?? '', email: input.email ?? '' },
    settings.ssn_digits,
    app.clock.now(),
  );
  if (!checked.ok) return { ok: false, fields: checked.errors };
  const id = await app.db.transaction(async (tx) => {
    const clientId = await insertClient(app, tx, checked.identity, { householdSize: null, annualIncome: null }, who.actor.id);
    await recordAudit(app, { action: 'client.created', actor: who.actor, ip: who.ip, target: clientId, details: { via: 'api' } }, tx);
    return clientId;
  });
  return { ok: true, id };
}

export interface ApiCaseInput {
  client_id: string;
  problem_code: string;
  adverse_parties?: string[];
}

/**
 * POST /api/v1/cases: a Pending case for a client the caller may act for: one they may see a
 * case of, or one they created themselves through the API that has no case yet. Any other
 * client (missing, or someone else's) is the same "no such client": a client id must not be a
 * way to reach a stranger's identity through the new case. The conflict check runs as at intake.
 */
export async function createCaseViaApi(
  app: App,
  viewer: CaseViewer,
  input: ApiCaseInput,
  who: { actor: Actor; ip: string },
): Promise<{ ok: true; id: string; number: string } | { ok: false; fields: FieldErrors }> {
  const fields: FieldErrors = {};
  if (!isProblemCode(input.problem_code)) fields.problem_code = 'Not a problem code of the LSC Case Service Report (e.g. 63 Private Landlord/Tenant).';
  const parties = (input.adverse_parties ?? []).map((p) => p.trim()).filter(Boolean);
  if (parties.length > 20) fields.adverse_parties = 'At most 20 adverse parties.';
  const bad = parties.find((p) => p.length > 200 || textProblem(p));
  if (bad !== undefined) fields.adverse_parties = bad.length > 200 ? 'Each name is at most 200 characters.' : TEXT_PROBLEM_MESSAGES[textProblem(bad)!];
  return app.db.transaction(async (tx) => {
    const [client] = await rowsOf<{ id: string; first_name: string; last_name: string; data_key: string; dob_sealed: string | null; ssn_sealed: string | null; phone: string | null }>(
      tx,
      sql`SELECT cl.id, cl.first_name, cl.last_name, cl.data_key, cl.dob_sealed, cl.ssn_sealed, cl.phone
            FROM clients cl
           WHERE cl.id = ${input.client_id}
             AND (EXISTS (SELECT 1 FROM cases c WHERE c.client_id = cl.id AND ${visibleTo(viewer)})
                  OR (cl.created_by = ${viewer.userId} AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.client_id = cl.id)))
             FOR UPDATE OF cl`,
    );
    if (!client) fields.client_id = 'No such client.';
    if (Object.keys(fields).length || !client) return { ok: false as const, fields };
    const opened = openIdentity(app, { id: client.id, dataKey: client.data_key, dobSealed: client.dob_sealed, ssnSealed: client.ssn_sealed });
    const findings = await runConflictCheck(app, tx, { name: `${client.first_name} ${client.last_name}`, dateOfBirth: opened.dateOfBirth, phone: client.phone }, parties);
    const created = await insertCase(app, tx, {
      clientId: client.id,
      problemCode: input.problem_code,
      disposition: 'pending',
      postalCode: null,
      county: null,
      incomeOverrideReason: null,
      adverseParties: parties,
      createdBy: viewer.userId,
    });
    if (findings.length) await tx.insert(conflictResults).values(findings.map((f) => ({ ...f, caseId: created.id, decision: 'review' })));
    await recordAudit(app, { action: 'case.created', actor: who.actor, ip: who.ip, target: created.number, details: { via: 'api', conflicts: findings.length } }, tx);
    return { ok: true as const, ...created };
  });
}

/** A case as GET /api/v1/cases/:id returns it: the SSN masked unless the caller has `ssn_view_full`. */
export function caseJson(c: CaseDetails, permissions: readonly string[]) {
  return {
    id: c.id,
    number: c.number,
    disposition: c.disposition,
    problem_code: c.problemCode,
    office: c.office,
    program: c.program,
    funding_code: c.fundingCode,
    status: c.status,
    created_at: c.createdAt.toISOString(),
    closed_at: c.closedAt?.toISOString() ?? null,
    client: {
      id: c.client.id,
      first_name: c.client.firstName,
      last_name: c.client.lastName,
      aliases: c.client.aliases,
      date_of_birth: c.client.dateOfBirth,
      ssn: c.client.ssn === null ? null : formatSsn(c.client.ssn, permissions.includes('ssn_view_full')),
      phone: c.client.phone,
      email: c.client.email,
    },
    adverse_parties: c.adverseParties,
    assignees: c.assignees.map((a) => ({ login: a.login, kind: a.kind })),
    notes: c.notes.map((n) => ({ at: n.at, author: n.author, text: n.text })),
    conflicts: c.conflicts.map((k) => ({ name: k.matchedName, score: k.score, decision: k.decision })),
  };
}
