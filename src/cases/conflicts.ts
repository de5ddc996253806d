// The conflict check against everyone on file (issue 10): candidates come from the indexes
// (phonetic keys, trigram similarity, date of birth, phone), then `findConflicts` scores them.
import { sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import type { App } from '../context.ts';
import { searchHash } from '../keys/records.ts';
import { findConflicts, digitsOnly, phoneticKeys, splitFullName, normalizeName, type ConflictCandidate, type ConflictSubject, type MatchReason } from '../security/conflicts.ts';
import { givenNameVariants } from '../security/nicknames.ts';
import { rowsOf, textArray } from '../db/client.ts';

/** How many candidates each subject may bring from each table: the best by name similarity. */
const CANDIDATES_PER_SUBJECT = 200;

export interface ConflictFinding {
  subjectKind: 'applicant' | 'adverse';
  subjectName: string;
  matchedKind: 'client' | 'adverse';
  matchedName: string;
  matchedCaseId: string | null;
  score: number;
  reasons: MatchReason[];
}


/** Keys that find a subject's namesakes: the last name's sounds, and the first name's with its nicknames. */
function subjectKeys(name: string): { last: string[]; first: string[] } {
  const { first, last } = splitFullName(name);
  const firstNames = first ? [first, ...givenNameVariants(first)] : [];
  return { last: phoneticKeys(last), first: [...new Set(firstNames.flatMap((n) => phoneticKeys(n)))].sort() };
}

interface Row {
  name: string;
  aliases: string[] | null;
  same_dob: boolean;
  phone: string | null;
  case_id: string | null;
}

async function candidatesFor(app: App, tx: Tx, subject: ConflictSubject): Promise<(ConflictCandidate & { caseId: string | null })[]> {
  const keys = subjectKeys(subject.name);
  const norm = normalizeName(subject.name);
  const byName = keys.last.length && keys.first.length ? sql`(name_keys && ${textArray(keys.last)} AND name_keys && ${textArray(keys.first)})` : sql`FALSE`;
  const similar = norm ? sql`search_name % ${norm}` : sql`FALSE`;
  // Dates of birth are sealed: the keyed hash finds the same date without opening any.
  const dobHash = subject.dateOfBirth ? searchHash(app, 'dob', subject.dateOfBirth) : null;
  const dob = dobHash ? sql`dob_hash = ${dobHash}` : sql`FALSE`;
  const phone = subject.phone && digitsOnly(subject.phone).length >= 7 ? sql`phone_digits = ${digitsOnly(subject.phone).slice(-10)}` : sql`FALSE`;
  const clients = await rowsOf<Row>(
    tx,
    sql`SELECT cl.first_name || ' ' || cl.last_name AS name, cl.aliases, coalesce(${dob}, false) AS same_dob, cl.phone,
               (SELECT c.id FROM cases c WHERE c.client_id = cl.id ORDER BY c.created_at DESC LIMIT 1) AS case_id
          FROM clients cl
         WHERE ${byName} OR ${similar} OR ${dob} OR ${phone}
         ORDER BY similarity(cl.search_name, ${norm}) DESC LIMIT ${CANDIDATES_PER_SUBJECT}`,
  );
  const adverse = await rowsOf<Row>(
    tx,
    sql`SELECT p.full_name AS name, NULL AS aliases, false AS same_dob, NULL AS phone, p.case_id
          FROM adverse_parties p
         WHERE ${byName} OR ${similar}
         ORDER BY similarity(p.search_name, ${norm}) DESC LIMIT ${CANDIDATES_PER_SUBJECT}`,
  );
  return [
    ...clients.flatMap((r) =>
      [r.name, ...(r.aliases ?? [])].map((name) => ({
        kind: 'client' as const,
        name,
        // The candidate's date is known to equal the subject's exactly when the hashes match.
        dateOfBirth: r.same_dob ? subject.dateOfBirth : null,
        phone: r.phone,
        caseId: r.case_id,
      })),
    ),
    ...adverse.map((r) => ({ kind: 'adverse' as const, name: r.name, caseId: r.case_id })),
  ];
}

/**
 * Compares the applicant and the adverse parties with every client (and alias) and adverse
 * party on file. One finding per subject and matched name and case: the best score.
 */
export async function runConflictCheck(
  app: App,
  tx: Tx,
  applicant: { name: string; dateOfBirth: string | null; phone: string | null },
  adverse: readonly string[],
): Promise<ConflictFinding[]> {
  const subjects: (ConflictSubject & { kind: 'applicant' | 'adverse' })[] = [
    { kind: 'applicant', name: applicant.name, dateOfBirth: applicant.dateOfBirth, phone: applicant.phone },
    ...adverse.map((name) => ({ kind: 'adverse' as const, name })),
  ];
  const best = new Map<string, ConflictFinding>();
  for (const subject of subjects) {
    const candidates = await candidatesFor(app, tx, subject);
    for (const hit of findConflicts([subject], candidates)) {
      const c = candidates[hit.candidateIndex]!;
      const key = `${subject.kind}\u0000${subject.name}\u0000${c.kind}\u0000${c.name}\u0000${c.caseId}`;
      const previous = best.get(key);
      if (previous && previous.score >= hit.score) continue;
      best.set(key, {
        subjectKind: subject.kind,
        subjectName: subject.name,
        matchedKind: c.kind,
        matchedName: c.name,
        matchedCaseId: c.caseId,
        score: hit.score,
        reasons: hit.reasons,
      });
    }
  }
  return [...best.values()].sort((a, b) => b.score - a.score || a.subjectName.localeCompare(b.subjectName) || a.matchedName.localeCompare(b.matchedName));
}
