// Clients: the people cases are for. Every write of an SSN goes through `checkIdentity`, so
// `ssn_digits=last4` holds on every path (intake, and later the API).
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import { rowsOf, type Tx } from '../db/client.ts';
import { clients, intakeApplications } from '../db/schema.ts';
import { openRecord, sealRecord, sealWithRecordKey, searchHash } from '../keys/records.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { parseSsnInput, type SsnDigits } from '../security/ssn.ts';
import { isEmailAddress } from '../security/email-address.ts';
import { digitsOnly, normalizeName, phoneticKeys } from '../security/conflicts.ts';

export type FieldErrors = Record<string, string>;

/** Identity as typed on the intake form (field names of DESIGN §2.4). */
export interface IdentityInput {
  first_name: string;
  last_name: string;
  date_of_birth: string;
  ssn: string;
  phone: string;
  email: string;
  language?: string;
  aliases?: string;
}

/** Identity checked and in its stored form. */
export interface Identity {
  firstName: string;
  lastName: string;
  dateOfBirth: string | null;
  ssn: string | null;
  phone: string | null;
  email: string | null;
  language: string | null;
  aliases: string[];
}

const NAME_MAX = 100;

/** A birth date as YYYY-MM-DD: a real calendar date, not in the future, not before 1900. */
export function birthDateProblem(value: string, today: Date): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return 'Enter the date as YYYY-MM-DD, e.g. 1984-03-21.';
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return 'This date does not exist.';
  if (y < 1900) return 'Enter a date after 1900.';
  if (date.getTime() > today.getTime()) return 'The date of birth cannot be in the future.';
  return null;
}

/** Checks identity fields under the site's SSN rule; every problem is named by its field. */
export function checkIdentity(input: IdentityInput, ssnDigits: SsnDigits, today: Date): { ok: true; identity: Identity } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const first = input.first_name.trim();
  const last = input.last_name.trim();
  if (!first) errors.first_name = 'Enter the first name.';
  else if (first.length > NAME_MAX) errors.first_name = `At most ${NAME_MAX} characters.`;
  if (!last) errors.last_name = 'Enter the last name.';
  else if (last.length > NAME_MAX) errors.last_name = `At most ${NAME_MAX} characters.`;
  const dob = input.date_of_birth.trim();
  if (dob) {
    const problem = birthDateProblem(dob, today);
    if (problem) errors.date_of_birth = problem;
  }
  const ssn = parseSsnInput(input.ssn, ssnDigits);
  if (!ssn.ok) errors.ssn = ssn.message;
  const phone = input.phone.trim();
  if (phone && (digitsOnly(phone).length < 7 || digitsOnly(phone).length > 15 || !/^[\d\s()+.\-x]+$/i.test(phone))) {
    errors.phone = 'Enter a phone number of 7 to 15 digits, e.g. (617) 555-0123.';
  }
  const email = input.email.trim().toLowerCase();
  if (email && !isEmailAddress(email)) errors.email = 'Enter an e-mail address such as name@example.org.';
  const aliases = (input.aliases ?? '')
    .split(/[\n;]/)
    .map((a) => a.trim())
    .filter(Boolean);
  if (aliases.length > 20) errors.aliases = 'At most 20 other names.';
  if (aliases.some((a) => a.length > 200)) errors.aliases = 'Each other name is at most 200 characters.';
  if (Object.keys(errors).length || !ssn.ok) return { ok: false, errors };
  return {
    ok: true,
    identity: {
      firstName: first,
      lastName: last,
      dateOfBirth: dob || null,
      ssn: ssn.value,
      phone: phone || null,
      email: email || null,
      language: input.language?.trim() || null,
      aliases,
    },
  };
}

/** What name search and the conflict check read: the normalized names and their phonetic keys. */
export function clientSearchColumns(identity: Pick<Identity, 'firstName' | 'lastName' | 'aliases'>) {
  const names = [`${identity.firstName} ${identity.lastName}`, ...identity.aliases];
  return {
    searchName: names.map(normalizeName).join('\n'),
    nameKeys: [...new Set(names.flatMap((n) => phoneticKeys(n)))].sort(),
  };
}

/**
 * A client's date of birth and SSN as stored: sealed under the client's own data key, with the
 * keyed hash that search and the conflict check compare, and the SSN's length.
 */
export function sealedIdentityColumns(app: App, clientId: string, identity: Pick<Identity, 'dateOfBirth' | 'ssn'>) {
  const sealed = sealRecord(app, 'clients', clientId, { dob_sealed: identity.dateOfBirth, ssn_sealed: identity.ssn });
  return {
    dataKey: sealed.dataKey,
    dobSealed: sealed.values.dob_sealed,
    ssnSealed: sealed.values.ssn_sealed,
    dobHash: identity.dateOfBirth ? searchHash(app, 'dob', identity.dateOfBirth) : null,
    ssnLength: identity.ssn ? identity.ssn.length : null,
  };
}

/** A client's sealed columns as the database returns them. */
export interface SealedIdentity {
  id: string;
  dataKey: string;
  dobSealed: string | null;
  ssnSealed: string | null;
}

/** Opens a client's date of birth and SSN. */
export function openIdentity(app: App, client: SealedIdentity): { dateOfBirth: string | null; ssn: string | null } {
  const opened = openRecord(app, 'clients', client.id, client.dataKey, { dob_sealed: client.dobSealed, ssn_sealed: client.ssnSealed });
  return { dateOfBirth: opened.dob_sealed, ssn: opened.ssn_sealed };
}

/** Inserts a client in the caller's transaction; the SSN must already have passed `checkIdentity`. */
export async function insertClient(app: App, tx: Tx, identity: Identity, household: { householdSize: number | null; annualIncome: number | null }, createdBy: string | null = null): Promise<string> {
  const now = app.clock.now();
  // The id is chosen here: the sealed values are bound to it.
  const id = randomUUID();
  const [row] = await tx
    .insert(clients)
    .values({
      id,
      firstName: identity.firstName,
      lastName: identity.lastName,
      aliases: identity.aliases,
      ...sealedIdentityColumns(app, id, identity),
      phone: identity.phone,
      phoneDigits: identity.phone ? digitsOnly(identity.phone).slice(-10) : null,
      email: identity.email,
      language: identity.language,
      householdSize: household.householdSize,
      annualIncome: household.annualIncome,
      createdBy,
      ...clientSearchColumns(identity),
      createdAt: now,
      updatedAt: now,
    })
    .returning({ id: clients.id });
  return row!.id;
}

/** The identity typed at the identity stage, sealed under the application's own data key. */
export function sealApplicationIdentity(app: App, applicationId: string, identity: Identity) {
  const sealed = sealRecord(app, 'intake_applications', applicationId, { identity_sealed: JSON.stringify(identity) });
  return { dataKey: sealed.dataKey, identitySealed: sealed.values.identity_sealed };
}

/** The identity an application in progress holds, opened; null before the identity stage and after the end. */
export function applicationIdentity(app: App, application: { id: string; dataKey: string | null; identitySealed: string | null }): Identity | null {
  if (!application.dataKey || !application.identitySealed) return null;
  const opened = openRecord(app, 'intake_applications', application.id, application.dataKey, { identity_sealed: application.identitySealed });
  return JSON.parse(opened.identity_sealed!) as Identity;
}

/** Applications in progress that hold an identity (few: an application ends within days). */
async function applicationsWithIdentity(tx: Tx | App['db']) {
  return tx
    .select({ id: intakeApplications.id, dataKey: intakeApplications.dataKey, identitySealed: intakeApplications.identitySealed })
    .from(intakeApplications)
    .where(sql`${intakeApplications.identitySealed} IS NOT NULL`);
}

/**
 * How many full (9-digit) SSNs are stored: on clients (counted by their recorded length, without
 * opening them), and on applications in progress (their identity waits there until the case is
 * created). What switching to last4 leaves behind.
 */
export async function countFullSsns(app: App): Promise<number> {
  const [row] = await app.database.rows<{ n: number }>(sql`SELECT count(*) AS n FROM clients WHERE ssn_length = 9`);
  const applications = (await applicationsWithIdentity(app.db)).filter((a) => applicationIdentity(app, a)?.ssn?.length === 9).length;
  return Number(row?.n ?? 0) + applications;
}

/**
 * Cuts every stored full SSN to its last four digits: what an administrator chooses after
 * switching to `ssn_digits=last4` (never done silently). One audited transaction; each SSN is
 * opened, cut and sealed again under its record's data key.
 */
export async function truncateFullSsns(app: App, actor: Actor | null, ip: string | null): Promise<number> {
  return app.db.transaction(async (tx) => {
    const now = app.clock.now();
    const full = await rowsOf<{ id: string; data_key: string; ssn_sealed: string }>(tx, sql`SELECT id, data_key, ssn_sealed FROM clients WHERE ssn_length = 9 FOR UPDATE`);
    for (const client of full) {
      const ssn = openIdentity(app, { id: client.id, dataKey: client.data_key, dobSealed: null, ssnSealed: client.ssn_sealed }).ssn!;
      const ssnSealed = sealWithRecordKey(app, 'clients', client.id, client.data_key, 'ssn_sealed', ssn.slice(-4));
      await tx.update(clients).set({ ssnSealed, ssnLength: 4, updatedAt: now }).where(eq(clients.id, client.id));
    }
    let onApplications = 0;
    for (const application of await applicationsWithIdentity(tx)) {
      const identity = applicationIdentity(app, application);
      if (identity?.ssn?.length !== 9) continue;
      const identitySealed = sealWithRecordKey(app, 'intake_applications', application.id, application.dataKey!, 'identity_sealed', JSON.stringify({ ...identity, ssn: identity.ssn.slice(-4) }));
      await tx.update(intakeApplications).set({ identitySealed, updatedAt: now }).where(eq(intakeApplications.id, application.id));
      onApplications++;
    }
    await recordAudit(app, { action: 'ssn.truncated', actor, ip, details: { clients: full.length, applications: onApplications } }, tx);
    return full.length + onApplications;
  });
}
