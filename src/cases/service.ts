// Cases: numbers, the case page, notes, assignment, disposition and conflict decisions. Every
// read goes through `visibleTo` (cases/access.ts): a case the viewer may not see is never read,
// so it is a 404 everywhere, indistinguishable from a missing one.
import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { App } from '../context.ts';
import { isReadOnly } from '../failover/state.ts';
import { compiledStatement, rowsOf, type Db, type Tx } from '../db/client.ts';
import { adverseParties, caseAssignments, caseNotes, cases, conflictResults, lookups } from '../db/schema.ts';
import { auditAppendSqlForShape, auditValuesForTargetSql, recordAudit, type Actor } from '../audit/service.ts';
import { caseNumber, type CaseViewer } from '../security/case-access.ts';
import { planDispositionChange, type Disposition, type DispositionAction, type DispositionInput } from '../security/disposition.ts';
import { isFullSsn } from '../security/ssn.ts';
import { normalizeName, phoneticKeys } from '../security/conflicts.ts';
import { accessShapeOf, accessValuesOf, visibleTo, visibleToShape, type AccessShape } from './access.ts';
import { isUuid } from '../roles/service.ts';
import { openIdentity, type SealedIdentity } from '../clients/service.ts';
import { SealingError } from '../security/sealing.ts';
import { SITE_SETTINGS } from '../security/site-settings.ts';
import { mailAliasProblem, normalizeMailAlias } from '../security/mail-alias.ts';
import { caseDocumentsJson, openDocumentList, type DocumentListItem, type SealedDocumentRow } from '../documents/service.ts';

export type FieldErrors = Record<string, string>;

// ---- Numbers and creation ------------------------------------------------------------------

/**
 * The next case number of the clock's year. The counter row is moved on by one upsert, whose
 * row lock makes concurrent intakes (on any instance) wait for each other: no two get the same.
 */
export async function nextCaseNumber(app: App, tx: Tx): Promise<string> {
  const year = app.clock.now().getUTCFullYear();
  const [row] = await rowsOf<{ last: number }>(
    tx,
    sql`INSERT INTO case_number_counters (year, last) VALUES (${year}, 1)
        ON CONFLICT (year) DO UPDATE SET last = case_number_counters.last + 1 RETURNING last`,
  );
  return caseNumber(year % 100, Number(row!.last));
}

export type LookupKind = 'office' | 'program' | 'funding_code' | 'case_status';
export const LOOKUP_KINDS: readonly LookupKind[] = ['office', 'program', 'funding_code', 'case_status'];

/** The lookups a new site starts with; administrators add their own on Admin > Lookups. */
const DEFAULT_LOOKUPS: Record<LookupKind, string[]> = {
  office: ['Main Office'],
  program: ['General Civil'],
  funding_code: ['LSC', 'IOLTA', 'Other'],
  case_status: ['New', 'Active', 'Awaiting client', 'Awaiting court', 'Ready to close'],
};

export async function seedLookups(app: App): Promise<void> {
  for (const kind of LOOKUP_KINDS) {
    const [existing] = await app.db.select({ value: lookups.value }).from(lookups).where(eq(lookups.kind, kind)).limit(1);
    if (existing) continue;
    await app.db
      .insert(lookups)
      .values(DEFAULT_LOOKUPS[kind].map((value, position) => ({ kind, value, position })))
      .onConflictDoNothing();
  }
}

export type Lookups = Record<LookupKind, string[]>;

/** The active values of every lookup, in their order. */
export async function activeLookups(app: App, db: Db | Tx = app.db): Promise<Lookups> {
  const rows = await db.select().from(lookups).where(eq(lookups.active, true)).orderBy(lookups.kind, lookups.position, lookups.value);
  const result: Lookups = { office: [], program: [], funding_code: [], case_status: [] };
  for (const r of rows) if ((LOOKUP_KINDS as readonly string[]).includes(r.kind)) result[r.kind as LookupKind].push(r.value);
  return result;
}

export interface NewCase {
  clientId: string;
  problemCode: string;
  disposition: Disposition;
  postalCode: string | null;
  county: string | null;
  incomeOverrideReason: string | null;
  adverseParties: string[];
  createdBy: string;
}

/**
 * Creates a case in the caller's transaction: its number, the first office, program, funding
 * code and status of the lookups, its adverse parties, and the creator assigned as intake.
 */
export async function insertCase(app: App, tx: Tx, input: NewCase): Promise<{ id: string; number: string }> {
  const now = app.clock.now();
  const number = await nextCaseNumber(app, tx);
  const defaults = await activeLookups(app, tx);
  const [row] = await tx
    .insert(cases)
    .values({
      number,
      clientId: input.clientId,
      problemCode: input.problemCode,
      office: defaults.office[0] ?? null,
      program: defaults.program[0] ?? null,
      fundingCode: defaults.funding_code[0] ?? null,
      status: defaults.case_status[0] ?? null,
      disposition: input.disposition,
      postalCode: input.postalCode,
      county: input.county,
      incomeOverrideReason: input.incomeOverrideReason,
      createdBy: input.createdBy,
      createdAt: now,
      updatedAt: now,
    })
    .returning({ id: cases.id });
  const id = row!.id;
  if (input.adverseParties.length) {
    await tx.insert(adverseParties).values(
      input.adverseParties.map((fullName) => ({ caseId: id, fullName, searchName: normalizeName(fullName), nameKeys: phoneticKeys(fullName) })),
    );
  }
  await tx.insert(caseAssignments).values({ caseId: id, userId: input.createdBy, kind: 'intake', assignedAt: now }).onConflictDoNothing();
  return { id, number };
}

// ---- The case page -------------------------------------------------------------------------

export interface CaseNote {
  id: string;
  at: string;
  author: string | null;
  text: string;
}

export interface CaseAssignee {
  userId: string;
  login: string;
  fullName: string;
  kind: 'intake' | 'staff';
}

export interface CaseConflict {
  id: string;
  subjectKind: 'applicant' | 'adverse';
  subjectName: string;
  matchedKind: 'client' | 'adverse';
  matchedName: string;
  /** The matched case's id and number, only when the viewer may see that case. */
  matchedCase: { id: string; number: string } | null;
  score: number;
  reasons: string[];
  decision: 'conflict' | 'no_conflict' | 'review';
  decidedBy: string | null;
  decidedAt: string | null;
}

export interface CaseDetails {
  id: string;
  number: string;
  problemCode: string;
  office: string | null;
  program: string | null;
  fundingCode: string | null;
  status: string | null;
  disposition: Disposition;
  rejectReason: string | null;
  referral: string | null;
  closingCode: string | null;
  postalCode: string | null;
  county: string | null;
  incomeOverrideReason: string | null;
  createdAt: Date;
  closedAt: Date | null;
  client: {
    id: string;
    firstName: string;
    lastName: string;
    aliases: string[];
    dateOfBirth: string | null;
    ssn: string | null;
    /** The sealed date of birth and SSN did not open (see openIdentityForPage). */
    unreadable: boolean;
    phone: string | null;
    email: string | null;
    language: string | null;
    householdSize: number | null;
    annualIncome: number | null;
  };
  notes: CaseNote[];
  assignees: CaseAssignee[];
  adverseParties: string[];
  conflicts: CaseConflict[];
  documents: DocumentListItem[];
  /** The site's limit on a document, in MB (the upload form says it). */
  documentMaxMb: number;
  /** Another address for mail to the case (security/mail-alias.ts), if set. */
  mailAlias: string | null;
  /** What the page's forms offer: the active lookups, and (for `cases_edit`) the users one may assign. */
  options: { lookups: Lookups; staff: { login: string; fullName: string }[] };
}

/** The case page as the database gives it: one JSON object (see casePageSql). */
interface CaseRow {
  id: string;
  number: string;
  problem_code: string;
  office: string | null;
  program: string | null;
  funding_code: string | null;
  status: string | null;
  disposition: Disposition;
  reject_reason: string | null;
  referral: string | null;
  closing_code: string | null;
  postal_code: string | null;
  county: string | null;
  income_override_reason: string | null;
  created_at: string;
  closed_at: string | null;
  client: Omit<CaseDetails['client'], 'dateOfBirth' | 'ssn' | 'unreadable'> & Omit<SealedIdentity, 'id'>;
  notes: CaseNote[];
  assignees: CaseAssignee[];
  adverse: string[];
  conflicts: (Omit<CaseConflict, 'matchedCase'> & { matchedCaseId: string | null; matchedCaseNumber: string | null; matchedVisible: boolean })[];
  documents: SealedDocumentRow[];
  mail_alias: string | null;
  /** Only for a viewer with `cases_edit`, whose page has the forms that use them. */
  forms?: { lookups: { kind: string; value: string }[]; staff: { login: string; fullName: string }[]; document_max_mb: string | null };
}

/** All that the case page statement's text depends on: the viewer's access shape, and whether the page has its forms. */
interface CasePageShape {
  access: AccessShape;
  edit: boolean;
}

const casePageShapeOf = (viewer: CaseViewer): CasePageShape => ({ access: accessShapeOf(viewer), edit: viewer.permissions.includes('cases_edit') });

/**
 * The whole case page as one SELECT of one JSON object (`page`), and the case number: no row
 * when the case does not exist or the viewer may not see it (the same answer for both). Built
 * once per shape; its values are `case_id` and those of accessValuesOf.
 *
 * One JSON column rather than one column per field: the driver then parses one row description
 * and one value. Logins are read by index, one per note or document, rather than by joining
 * `users`: the join made PostgreSQL hash the whole users table for every page.
 */
function casePageSql(shape: CasePageShape): SQL {
  const visible = visibleToShape(shape.access);
  const forms = shape.edit
    ? sql`, 'forms', json_build_object(
             'lookups', COALESCE((SELECT json_agg(json_build_object('kind', l.kind, 'value', l.value) ORDER BY l.kind, l.position, l.value) FROM lookups l WHERE l.active), '[]'::json),
             'staff', COALESCE((SELECT json_agg(json_build_object('login', s.login, 'fullName', s.full_name) ORDER BY s.login) FROM (
                SELECT u.login, u.full_name FROM users u JOIN roles ro ON ro.id = u.role_id
                 WHERE u.login_active AND ('cases_view_all' = ANY(ro.internal_permissions) OR 'cases_view_assigned' = ANY(ro.internal_permissions))
                 ORDER BY u.login LIMIT 500) s), '[]'::json),
             'document_max_mb', (SELECT value FROM site_settings WHERE key = 'document_max_mb'))`
    : sql``;
  return sql`SELECT c.number, json_build_object(
               'id', c.id, 'number', c.number, 'mail_alias', c.mail_alias, 'problem_code', c.problem_code, 'office', c.office, 'program', c.program,
               'funding_code', c.funding_code, 'status', c.status, 'disposition', c.disposition, 'reject_reason', c.reject_reason, 'referral', c.referral,
               'closing_code', c.closing_code, 'postal_code', c.postal_code, 'county', c.county, 'income_override_reason', c.income_override_reason,
               'created_at', c.created_at, 'closed_at', c.closed_at,
               'client', json_build_object('id', cl.id, 'firstName', cl.first_name, 'lastName', cl.last_name, 'aliases', cl.aliases,
                 'dataKey', cl.data_key, 'dobSealed', cl.dob_sealed, 'ssnSealed', cl.ssn_sealed, 'phone', cl.phone, 'email', cl.email, 'language', cl.language,
                 'householdSize', cl.household_size, 'annualIncome', cl.annual_income),
               'notes', COALESCE((SELECT json_agg(json_build_object('id', n.id, 'at', n.at, 'author', (SELECT u.login FROM users u WHERE u.id = n.author_id), 'text', n.text) ORDER BY n.at, n.id)
                           FROM case_notes n WHERE n.case_id = c.id), '[]'::json),
               'assignees', COALESCE((SELECT json_agg(json_build_object('userId', u.id, 'login', u.login, 'fullName', u.full_name, 'kind', a.kind) ORDER BY a.assigned_at, u.login)
                           FROM case_assignments a JOIN users u ON u.id = a.user_id WHERE a.case_id = c.id), '[]'::json),
               'adverse', COALESCE((SELECT json_agg(p.full_name ORDER BY p.full_name) FROM adverse_parties p WHERE p.case_id = c.id), '[]'::json),
               'conflicts', COALESCE((SELECT json_agg(json_build_object('id', r.id, 'subjectKind', r.subject_kind, 'subjectName', r.subject_name,
                            'matchedKind', r.matched_kind, 'matchedName', r.matched_name, 'matchedCaseId', r.matched_case_id,
                            'matchedCaseNumber', m.number, 'matchedVisible', m.id IS NOT NULL AND (SELECT ${visible} FROM cases c WHERE c.id = m.id),
                            'score', r.score, 'reasons', r.reasons, 'decision', r.decision, 'decidedBy', (SELECT du.login FROM users du WHERE du.id = r.decided_by), 'decidedAt', r.decided_at)
                            ORDER BY r.score DESC, r.subject_name, r.matched_name)
                           FROM conflict_results r LEFT JOIN cases m ON m.id = r.matched_case_id
                          WHERE r.case_id = c.id), '[]'::json),
               'documents', ${caseDocumentsJson(sql`c.id`)}
               ${forms}) AS page
          FROM cases c JOIN clients cl ON cl.id = c.client_id
         WHERE c.id = ${sql.placeholder('case_id')}::uuid AND ${visible}`;
}

/** The page read and its `case.view` entry appended, in one statement (see openCase). */
const readAndAuditCasePage = compiledStatement<CasePageShape>(
  'haven_case_page',
  (shape) => sql`SELECT c.page, ${auditAppendSqlForShape(sql`c.number`)} AS audit_seq FROM (${casePageSql(shape)}) c`,
);

/** The page alone (read-only mode, whose views are journaled instead). */
const readCasePage = compiledStatement<CasePageShape>('haven_case_page_read_only', (shape) => sql`SELECT page FROM (${casePageSql(shape)}) c`);

/**
 * The client's date of birth and SSN for the case page. A value that does not open (moved from
 * another row, altered, or wrapped by a key the key file lacks) is shown as such, and logged:
 * the rest of the case stays readable.
 */
function openIdentityForPage(app: App, client: SealedIdentity): Pick<CaseDetails['client'], 'dateOfBirth' | 'ssn' | 'unreadable'> {
  try {
    return { ...openIdentity(app, client), unreadable: false };
  } catch (error) {
    if (!(error instanceof SealingError)) throw error;
    app.log.error({ client: client.id, reason: error.message }, 'a client\'s sealed date of birth or SSN does not open');
    return { dateOfBirth: null, ssn: null, unreadable: true };
  }
}

function toCaseDetails(app: App, row: CaseRow): CaseDetails {
  const { dataKey, dobSealed, ssnSealed, ...client } = row.client;
  const lookups: Lookups = { office: [], program: [], funding_code: [], case_status: [] };
  for (const l of row.forms?.lookups ?? []) if ((LOOKUP_KINDS as readonly string[]).includes(l.kind)) lookups[l.kind as LookupKind].push(l.value);
  return {
    options: { lookups, staff: row.forms?.staff ?? [] },
    id: row.id,
    number: row.number,
    problemCode: row.problem_code,
    office: row.office,
    program: row.program,
    fundingCode: row.funding_code,
    status: row.status,
    disposition: row.disposition,
    rejectReason: row.reject_reason,
    referral: row.referral,
    closingCode: row.closing_code,
    postalCode: row.postal_code,
    county: row.county,
    incomeOverrideReason: row.income_override_reason,
    createdAt: new Date(row.created_at),
    closedAt: row.closed_at === null ? null : new Date(row.closed_at),
    client: { ...client, ...openIdentityForPage(app, { id: client.id, dataKey, dobSealed, ssnSealed }) },
    notes: row.notes,
    assignees: row.assignees,
    adverseParties: row.adverse,
    documents: openDocumentList(app, row.documents),
    documentMaxMb: Number(row.forms?.document_max_mb ?? SITE_SETTINGS.document_max_mb.defaultValue),
    mailAlias: row.mail_alias,
    conflicts: row.conflicts.map(({ matchedCaseId, matchedCaseNumber, matchedVisible, ...c }) => ({
      ...c,
      matchedCase: matchedVisible && matchedCaseId && matchedCaseNumber ? { id: matchedCaseId, number: matchedCaseNumber } : null,
    })),
  };
}

/**
 * Opens a case for the viewer and audits it (DESIGN §1.8): `case.view`, and `ssn.view_full`
 * when the page shows a full SSN. A case the viewer may not see is null, and the attempt is
 * audited as `case.view_denied`: guessing ids leaves a trail.
 *
 * The page is read and its `case.view` entry appended by one statement (a named prepared
 * one): the view cannot be read without its entry committing, and the chain's lock is held for
 * that statement alone. The page costs two statements with the session lookup.
 */
export async function openCase(app: App, viewer: CaseViewer, id: string, who: { actor: Actor; ip: string | null }): Promise<CaseDetails | null> {
  if (!isUuid(id)) return null;
  if (isReadOnly(app)) return openCaseWhileReadOnly(app, viewer, id, who);
  const values = { case_id: id, ...accessValuesOf(viewer), ...auditValuesForTargetSql(app.clock.now(), { action: 'case.view', actor: who.actor, ip: who.ip }) };
  const [row] = await readAndAuditCasePage<{ page: CaseRow }>(app.database, casePageShapeOf(viewer), values);
  if (!row) {
    await recordAudit(app, { action: 'case.view_denied', actor: who.actor, ip: who.ip, target: id });
    return null;
  }
  const details = toCaseDetails(app, row.page);
  // Shown only once this entry is committed too; a failure here is a 500 without the number.
  if (viewer.permissions.includes('ssn_view_full') && isFullSsn(details.client.ssn)) {
    await recordAudit(app, { action: 'ssn.view_full', actor: who.actor, ip: who.ip, target: details.number, details: { client: details.client.id } });
  }
  return details;
}

/**
 * openCase while the site is read-only: the standby takes no writes, so the page is read by
 * itself and its `case.view` entry goes to the audit journal (failover/journal.ts) before the
 * page is shown.
 */
async function openCaseWhileReadOnly(app: App, viewer: CaseViewer, id: string, who: { actor: Actor; ip: string | null }): Promise<CaseDetails | null> {
  const [row] = await readCasePage<{ page: CaseRow }>(app.database, casePageShapeOf(viewer), { case_id: id, ...accessValuesOf(viewer) });
  if (!row) {
    await recordAudit(app, { action: 'case.view_denied', actor: who.actor, ip: who.ip, target: id });
    return null;
  }
  const details = toCaseDetails(app, row.page);
  await recordAudit(app, { action: 'case.view', actor: who.actor, ip: who.ip, target: details.number });
  if (viewer.permissions.includes('ssn_view_full') && isFullSsn(details.client.ssn)) {
    await recordAudit(app, { action: 'ssn.view_full', actor: who.actor, ip: who.ip, target: details.number, details: { client: details.client.id } });
  }
  return details;
}

/** The case's id, number and disposition if the viewer may see it, locked for update. */
async function lockVisibleCase(tx: Tx, viewer: CaseViewer, id: string): Promise<{ id: string; number: string; disposition: Disposition } | null> {
  if (!isUuid(id)) return null;
  const [row] = await rowsOf<{ id: string; number: string; disposition: Disposition }>(
    tx,
    sql`SELECT c.id, c.number, c.disposition FROM cases c WHERE c.id = ${id} AND ${visibleTo(viewer)} FOR UPDATE`,
  );
  return row ?? null;
}

export type CaseChange = { ok: true; message: string } | { ok: false; status: 400 | 403 | 404 | 409; message: string; fields?: FieldErrors };

const NOT_FOUND: CaseChange = { ok: false, status: 404, message: 'No such case.' };
const NO_EDIT: CaseChange = { ok: false, status: 403, message: 'Your role does not allow editing cases.' };

/**
 * Runs a change on a case the viewer may see and edit, in one transaction with the case locked:
 * 404 first for a case they may not see (whatever they lack besides), then 403 without
 * `cases_edit`.
 */
async function editCase(app: App, viewer: CaseViewer, id: string, change: (tx: Tx, found: { id: string; number: string }) => Promise<CaseChange>): Promise<CaseChange> {
  return app.db.transaction(async (tx) => {
    const found = await lockVisibleCase(tx, viewer, id);
    if (!found) return NOT_FOUND;
    if (!viewer.permissions.includes('cases_edit')) return NO_EDIT;
    return change(tx, found);
  });
}

export const NOTE_MAX = 20_000;

/** Appends a note (notes are never changed: a correction is a new note). */
export async function addNote(app: App, viewer: CaseViewer, id: string, text: string, who: { actor: Actor; ip: string | null }): Promise<CaseChange> {
  const body = text.trim();
  return editCase(app, viewer, id, async (tx, found) => {
    if (!body) return { ok: false, status: 400, message: 'The note is empty.', fields: { note: 'Write the note first.' } };
    if (body.length > NOTE_MAX) return { ok: false, status: 400, message: 'The note is too long.', fields: { note: `At most ${NOTE_MAX} characters.` } };
    await tx.insert(caseNotes).values({ caseId: found.id, authorId: viewer.userId, at: app.clock.now(), text: body });
    await recordAudit(app, { action: 'case.note_added', actor: who.actor, ip: who.ip, target: found.number }, tx);
    return { ok: true, message: 'Note added.' };
  });
}

/** Applies a disposition action, if the viewer may and the case is where the action applies. */
export async function changeDisposition(
  app: App,
  viewer: CaseViewer,
  id: string,
  action: DispositionAction,
  input: DispositionInput,
  who: { actor: Actor; ip: string | null },
): Promise<CaseChange> {
  return app.db.transaction(async (tx) => {
    const found = await lockVisibleCase(tx, viewer, id);
    if (!found) return NOT_FOUND;
    const plan = planDispositionChange(found.disposition, action, input, viewer.permissions);
    if (!plan.ok) return { ok: false, status: plan.status, message: plan.message, fields: plan.fields };
    const now = app.clock.now();
    const set: Partial<typeof cases.$inferInsert> = { disposition: plan.to, updatedAt: now };
    if (action === 'reject') Object.assign(set, { rejectReason: input.reason!.trim(), referral: input.referral!.trim() });
    if (action === 'close') Object.assign(set, { closingCode: input.closingCode, closedAt: now });
    if (action === 'reopen') Object.assign(set, { closedAt: null, closingCode: null });
    await tx.update(cases).set(set).where(and(eq(cases.id, found.id), eq(cases.disposition, found.disposition)));
    await recordAudit(
      app,
      {
        action: 'case.disposition_changed',
        actor: who.actor,
        ip: who.ip,
        target: found.number,
        details: { action, from: found.disposition, to: plan.to, ...(action === 'close' ? { closing_code: input.closingCode } : {}) },
      },
      tx,
    );
    return { ok: true, message: `Case ${found.number}: ${action === 'accept' ? 'accepted' : action === 'reject' ? 'rejected' : action === 'close' ? 'closed' : 'reopened'}.` };
  });
}

/** Adds (or removes) an assignee by login. Only `cases_edit`; the assignee must be able to see cases. */
export async function changeAssignment(
  app: App,
  viewer: CaseViewer,
  id: string,
  assigneeLogin: string,
  remove: boolean,
  who: { actor: Actor; ip: string | null },
): Promise<CaseChange> {
  return editCase(app, viewer, id, async (tx, found) => {
    const login = assigneeLogin.trim().toLowerCase();
    const [user] = await rowsOf<{ id: string; login: string; login_active: boolean; can_view: boolean }>(
      tx,
      sql`SELECT u.id, u.login, u.login_active,
                 ('cases_view_all' = ANY(r.internal_permissions) OR 'cases_view_assigned' = ANY(r.internal_permissions)) AS can_view
            FROM users u JOIN roles r ON r.id = u.role_id WHERE u.login = ${login}`,
    );
    if (!user) return { ok: false, status: 400, message: 'No such user.', fields: { assignee: `No user has the login "${assigneeLogin.trim()}".` } };
    if (remove) {
      await tx.delete(caseAssignments).where(and(eq(caseAssignments.caseId, found.id), eq(caseAssignments.userId, user.id)));
      await recordAudit(app, { action: 'case.unassigned', actor: who.actor, ip: who.ip, target: found.number, details: { assignee: user.login } }, tx);
      return { ok: true, message: `${user.login} is no longer assigned to case ${found.number}.` };
    }
    if (!user.login_active) return { ok: false, status: 400, message: 'Inactive user.', fields: { assignee: `${user.login} cannot log in (Login Active is No).` } };
    if (!user.can_view) return { ok: false, status: 400, message: 'Cannot see cases.', fields: { assignee: `${user.login}'s role cannot view cases, so the assignment would give them nothing.` } };
    await tx
      .insert(caseAssignments)
      .values({ caseId: found.id, userId: user.id, kind: 'staff', assignedAt: app.clock.now() })
      .onConflictDoUpdate({ target: [caseAssignments.caseId, caseAssignments.userId], set: { kind: 'staff' } });
    await recordAudit(app, { action: 'case.assigned', actor: who.actor, ip: who.ip, target: found.number, details: { assignee: user.login } }, tx);
    return { ok: true, message: `${user.login} is assigned to case ${found.number}.` };
  });
}

export const CONFLICT_DECISIONS = ['conflict', 'no_conflict', 'review'] as const;
export type ConflictDecision = (typeof CONFLICT_DECISIONS)[number];
export const CONFLICT_DECISION_LABELS: Record<ConflictDecision, string> = { conflict: 'Conflict', no_conflict: 'No conflict', review: 'Review needed' };

/** Records a user's decision on one possible conflict of a case. */
export async function decideConflict(
  app: App,
  viewer: CaseViewer,
  id: string,
  conflictId: string,
  decision: ConflictDecision,
  who: { actor: Actor; ip: string | null },
): Promise<CaseChange> {
  return editCase(app, viewer, id, async (tx, found) => {
    if (!isUuid(conflictId)) return NOT_FOUND;
    const updated = await tx
      .update(conflictResults)
      .set({ decision, decidedBy: viewer.userId, decidedAt: app.clock.now() })
      .where(and(eq(conflictResults.id, conflictId), eq(conflictResults.caseId, found.id)))
      .returning({ matchedName: conflictResults.matchedName, score: conflictResults.score });
    if (!updated.length) return NOT_FOUND;
    await recordAudit(app, { action: 'conflict.decided', actor: who.actor, ip: who.ip, target: found.number, details: { conflict: conflictId, decision, score: updated[0]!.score } }, tx);
    return { ok: true, message: `Decision recorded: ${CONFLICT_DECISION_LABELS[decision]}.` };
  });
}

/** Changes the case's office, program, funding code and status (active lookup values only). */
/** Sets, changes or (with '') clears the case's mail alias: unique across cases, audited. */
export async function setMailAlias(app: App, viewer: CaseViewer, id: string, raw: string, who: { actor: Actor; ip: string | null }): Promise<CaseChange> {
  const alias = normalizeMailAlias(raw);
  const problem = mailAliasProblem(alias);
  if (problem) return { ok: false, status: 400, message: problem, fields: { mail_alias: problem } };
  return editCase(app, viewer, id, async (tx, found) => {
    const [taken] = await rowsOf<{ id: string }>(tx, sql`SELECT id FROM cases WHERE mail_alias = ${alias} AND id <> ${found.id}`);
    if (alias && taken) return { ok: false, status: 409, message: 'Another case already has this address.', fields: { mail_alias: 'Another case already has this address.' } };
    const [before] = await rowsOf<{ mail_alias: string | null }>(tx, sql`SELECT mail_alias FROM cases WHERE id = ${found.id}`);
    await tx.update(cases).set({ mailAlias: alias || null, updatedAt: app.clock.now() }).where(eq(cases.id, found.id));
    await recordAudit(app, { action: 'case.mail_alias_changed', actor: who.actor, ip: who.ip, target: found.number, details: { from: before?.mail_alias ?? null, to: alias || null } }, tx);
    return { ok: true, message: alias ? `Mail to ${alias}@… now reaches case ${found.number}.` : 'The other address is removed.' };
  });
}

export async function updateCaseDetails(
  app: App,
  viewer: CaseViewer,
  id: string,
  input: { office: string; program: string; funding_code: string; status: string },
  who: { actor: Actor; ip: string | null },
): Promise<CaseChange> {
  return editCase(app, viewer, id, async (tx, found) => {
    const allowed = await activeLookups(app, tx);
    const fields: FieldErrors = {};
    const pick = (kind: LookupKind, name: string, value: string) => {
      if (value === '') return null;
      if (!allowed[kind].includes(value)) fields[name] = 'Choose one of the listed values.';
      return value;
    };
    const set = {
      office: pick('office', 'office', input.office),
      program: pick('program', 'program', input.program),
      fundingCode: pick('funding_code', 'funding_code', input.funding_code),
      status: pick('case_status', 'status', input.status),
    };
    if (Object.keys(fields).length) return { ok: false, status: 400, message: 'Some values are not allowed.', fields };
    await tx.update(cases).set({ ...set, updatedAt: app.clock.now() }).where(eq(cases.id, found.id));
    await recordAudit(app, { action: 'case.updated', actor: who.actor, ip: who.ip, target: found.number, details: set }, tx);
    return { ok: true, message: `Case ${found.number} saved.` };
  });
}
