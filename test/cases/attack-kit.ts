// Shared tools of the case attack tests: signing in, an intake driver that can forge its posts,
// audit and row counts, a dump of every table, and the pieces of a page the tests compare.
import { expect } from 'vitest';
import { sql } from 'drizzle-orm';
import { textArray } from '../../src/db/client.ts';
import { TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import type { TestClient, TestResponse } from '../helpers/client.ts';
import type { Applicant } from './helpers.ts';
import { applicationIdentity, openIdentity, type Identity } from '../../src/clients/service.ts';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A signed-in client. */
export async function signIn(haven: TestHaven, login: string): Promise<TestClient> {
  const client = haven.client();
  const answer = await client.login(login, TEST_PASSWORD);
  expect(answer.status, `login of ${login}: ${answer.body.slice(0, 300)}`).toBe(303);
  return client;
}

const STAGE_FIELDS: Record<string, (keyof Applicant | 'aliases' | 'language')[]> = {
  problem_code: ['problem_code', 'postal_code', 'county'],
  household_size: ['household_size', 'annual_income'],
  first_name: ['first_name', 'last_name', 'date_of_birth', 'ssn', 'phone', 'email', 'aliases', 'language'],
  adverse_parties: ['adverse_parties'],
};
const ALL_FIELDS = Object.values(STAGE_FIELDS).flat();

export type IntakeApplicant = Applicant & { aliases?: string; language?: string };

export interface IntakeOptions {
  /** Post every field of the applicant at every stage, as a forged form would. */
  everyField?: boolean;
  /** Extra fields for the eligibility stage (decision, override_reason). */
  eligibility?: Record<string, string>;
  /** The decision posted for each possible conflict (default: review). */
  conflictDecision?: 'review' | 'no_conflict' | 'conflict';
  /** Stop before posting the stage whose first field is this (and return its page). */
  stopAt?: 'household_size' | 'first_name' | 'adverse_parties' | 'conflicts';
  /** Carry on an application from its page (`/intake/<id>`) instead of starting one. */
  from?: string;
}

export interface IntakeResult {
  outcome: 'case' | 'halted' | 'invalid' | 'stopped';
  url: string;
  page: TestResponse;
  applicationId: string | null;
  caseId: string | null;
}

function stageOf(body: string): string | null {
  const first = Object.keys(STAGE_FIELDS).find((f) => body.includes(`name="${f}"`));
  if (first) return first;
  if (body.includes('id="conflicts"') && body.includes('Create the case')) return 'conflicts';
  return null;
}

/**
 * Runs an application through its stages like runIntake (test/cases/helpers.ts), with the
 * options above. Each stage's page is opened before it is posted, for its CSRF token.
 */
export async function intake(client: TestClient, applicant: IntakeApplicant, options: IntakeOptions = {}): Promise<IntakeResult> {
  let url = options.from ?? '/intake';
  let page = await client.get(url);
  expect(page.status).toBe(200);
  const appId = () => /^\/intake\/([0-9a-f-]{36})$/.exec(url)?.[1] ?? null;
  for (let step = 0; step < 12; step++) {
    const stage = stageOf(page.body);
    if (stage && options.stopAt === stage) return { outcome: 'stopped', url, page, applicationId: appId(), caseId: null };
    const fields: Record<string, string | string[]> = {};
    if (stage && stage !== 'conflicts') {
      for (const f of options.everyField ? ALL_FIELDS : STAGE_FIELDS[stage]!) {
        const v = applicant[f as keyof IntakeApplicant];
        if (v !== undefined) fields[f] = v;
      }
      if (stage === 'household_size' && options.eligibility) Object.assign(fields, options.eligibility);
    } else {
      if (options.everyField) for (const f of ALL_FIELDS) if (applicant[f as keyof IntakeApplicant] !== undefined) fields[f] = applicant[f as keyof IntakeApplicant]!;
      fields.conflict_id = [...page.body.matchAll(/name="conflict_id" value="([^"]+)"/g)].map((m) => m[1]!);
      fields.conflict_decision = fields.conflict_id.map(() => options.conflictDecision ?? 'review');
    }
    const answer = await client.post(url, fields);
    if (answer.status === 400) return { outcome: 'invalid', url, page: answer, applicationId: appId(), caseId: null };
    expect(answer.status, answer.body.slice(0, 800)).toBe(303);
    url = answer.location!.split('?')[0]!;
    page = await client.get(answer.location!);
    if (url.startsWith('/cases/')) return { outcome: 'case', url, page, applicationId: null, caseId: url.slice('/cases/'.length) };
    if (page.body.includes('id="intake-halted"')) return { outcome: 'halted', url, page, applicationId: appId(), caseId: null };
  }
  throw new Error('intake did not end');
}

/** An intake that must become a case: its id and number. */
export async function intakeCase(client: TestClient, applicant: IntakeApplicant, options: IntakeOptions = {}): Promise<{ id: string; number: string }> {
  const r = await intake(client, applicant, options);
  expect(r.outcome, r.page.body.slice(0, 2000)).toBe('case');
  const number = /id="case-number">([^<]+)</.exec(r.page.body)?.[1];
  expect(number).toMatch(/^\d{2}-\d{6}$/);
  return { id: r.caseId!, number: number! };
}

/** The text of the error beside a field (`<name>-error`, role="alert"), or null. */
export function fieldError(html: string, name: string): string | null {
  const m = new RegExp(`<small id="${name}-error" role="alert"[^>]*>([^<]*)<`).exec(html);
  return m ? m[1]!.trim() : null;
}

/** The text of an element by id (its first text run), or null. */
export function textOf(html: string, id: string): string | null {
  const m = new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(html);
  return m ? m[1]! : null;
}

/** A page without what differs between two renderings of it (CSRF token, style nonces). */
export function stablePage(html: string): string {
  return html
    .replace(/name="_csrf" value="[^"]*"/g, 'name="_csrf" value=""')
    .replace(/nonce="[^"]*"/g, 'nonce=""')
    .replace(/data-[a-z-]*="\d+"/g, '');
}

export interface AuditRow {
  seq: number;
  action: string;
  actor_login: string | null;
  target: string | null;
  details: Record<string, unknown> | null;
}

export async function auditRows(haven: TestHaven, action: string): Promise<AuditRow[]> {
  const rows = await haven.app.database.rows<AuditRow & { seq: string | number }>(
    sql`SELECT seq, action, actor_login, target, details FROM audit_log WHERE action = ${action} ORDER BY seq`,
  );
  return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
}

export async function countRows(haven: TestHaven, table: 'case_notes' | 'case_assignments' | 'cases' | 'clients' | 'conflict_results' | 'intake_applications' | 'audit_log'): Promise<number> {
  const [row] = await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)}`);
  return row!.n;
}

/** Every row of every table of the public schema, as text, one table after another. */
export async function dumpDatabase(haven: TestHaven): Promise<{ table: string; text: string }[]> {
  const tables = await haven.app.database.rows<{ table_name: string }>(
    sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
  );
  expect(tables.length).toBeGreaterThan(10);
  const out: { table: string; text: string }[] = [];
  for (const { table_name } of tables) {
    const rows = await haven.app.database.rows<{ t: string }>(sql`SELECT t::text AS t FROM ${sql.identifier(table_name)} t`);
    out.push({ table: table_name, text: rows.map((r) => r.t).join('\n') });
  }
  return out;
}

/** The tables (of a dump) in which `needle` occurs, case-insensitively (a string) or as matched (a RegExp). */
export function tablesContaining(dump: { table: string; text: string }[], needle: string | RegExp): string[] {
  return dump
    .filter(({ text }) => (typeof needle === 'string' ? text.toLowerCase().includes(needle.toLowerCase()) : needle.test(text)))
    .map(({ table }) => table);
}

export async function setUserScope(haven: TestHaven, login: string, scope: { offices?: string[]; programs?: string[] }): Promise<void> {
  const offices = scope.offices ?? [];
  const programs = scope.programs ?? [];
  await haven.app.database.rows(
    sql`UPDATE users SET offices = ${textArray(offices)}, programs = ${textArray(programs)} WHERE login = ${login}`,
  );
}

export async function dispositionOf(haven: TestHaven, caseId: string): Promise<string> {
  const [row] = await haven.app.database.rows<{ disposition: string }>(sql`SELECT disposition FROM cases WHERE id = ${caseId}`);
  return row!.disposition;
}

/** Every client's identity as Haven opens it (dates of birth and SSNs are sealed at rest). */
export async function openedClients(haven: TestHaven): Promise<{ id: string; lastName: string; dateOfBirth: string | null; ssn: string | null }[]> {
  const rows = await haven.app.database.rows<{ id: string; last_name: string; data_key: string; dob_sealed: string | null; ssn_sealed: string | null }>(
    sql`SELECT id, last_name, data_key, dob_sealed, ssn_sealed FROM clients ORDER BY created_at, id`,
  );
  return rows.map((r) => ({ id: r.id, lastName: r.last_name, ...openIdentity(haven.app, { id: r.id, dataKey: r.data_key, dobSealed: r.dob_sealed, ssnSealed: r.ssn_sealed }) }));
}

/** The SSN of the client of a case, opened. */
export async function openedSsnOfCase(haven: TestHaven, caseId: string): Promise<string | null> {
  const [row] = await haven.app.database.rows<{ client_id: string }>(sql`SELECT client_id FROM cases WHERE id = ${caseId}`);
  return (await openedClients(haven)).find((c) => c.id === row!.client_id)!.ssn;
}

/** Every application's status and identity as Haven opens it (null when it holds none). */
export async function openedApplications(haven: TestHaven): Promise<{ id: string; status: string; identity: Identity | null }[]> {
  const rows = await haven.app.database.rows<{ id: string; status: string; data_key: string | null; identity_sealed: string | null }>(
    sql`SELECT id, status, data_key, identity_sealed FROM intake_applications ORDER BY created_at, id`,
  );
  return rows.map((r) => ({ id: r.id, status: r.status, identity: applicationIdentity(haven.app, { id: r.id, dataKey: r.data_key, identitySealed: r.identity_sealed }) }));
}
