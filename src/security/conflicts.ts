// The intake conflict check (pure). Before Haven takes an application, the applicant and the
// adverse parties are compared with every client and adverse party on file: representing both
// sides of a dispute is the conflict of interest the check exists to catch. Names are typed by
// different people years apart, so an exact comparison is not enough: the check also looks for
// nicknames (Bob for Robert), names that sound alike (Jon Smyth, John Smith), small misspellings,
// and the same date of birth or phone number. It errs towards showing a possible conflict: an
// intake worker can dismiss a false one in seconds, a missed one is found by a court.
import { doubleMetaphone } from 'double-metaphone';
import { distance } from 'fastest-levenshtein';
import { areNicknameVariants, givenNameVariants } from './nicknames.ts';

export interface PersonName {
  first: string;
  last: string;
}

// Honorifics and suffixes say nothing of who the person is, and are typed inconsistently. Jr and
// Sr go too: a father and a son of the same name are a conflict worth a look, and the date of
// birth tells them apart.
const HONORIFICS = new Set(['mr', 'mrs', 'ms', 'mx', 'miss', 'dr', 'prof', 'rev', 'jr', 'sr', 'ii', 'iii', 'iv', 'esq', 'md', 'phd']);

// Hyphens and apostrophes join the parts of one name (O'Brien, Smith-Jones): they are dropped,
// not turned into spaces, so "OBrien" and "O'Brien" compare equal.
const JOINER_CHARS = "'\\u2018\\u2019\\u02bc`\\u00b4\\-\\u2010\\u2011";
const JOINERS = new RegExp(`[${JOINER_CHARS}]`, 'g');
const EDGE_JOINERS = new RegExp(`^[${JOINER_CHARS}]+|[${JOINER_CHARS}]+$`, 'g');
const NOT_NAME_CHAR = new RegExp(`[^\\p{L}\\p{M}${JOINER_CHARS}]`, 'gu');
const LETTER = /\p{L}/u;

/**
 * Lower-case letters and single spaces: compatibility-decomposed (NFKD), diacritics removed
 * (José is Jose), hyphens and apostrophes removed, anything else that is not a letter a space.
 */
export function normalizeName(s: string): string {
  return s
    .replace(JOINERS, '') // before decomposing too: NFKD turns an acute accent (O´Brien) into a space
    .normalize('NFKD')
    .toLowerCase()
    .normalize('NFKD') // lower-casing can yield characters that decompose further
    .replace(/\p{M}/gu, '')
    .replace(JOINERS, '')
    .replace(/\P{L}+/gu, ' ')
    .trim();
}

/** The words of a name as typed, punctuation and honorifics removed (O'Brien keeps its apostrophe). */
function nameWords(segment: string): string[] {
  const words: string[] = [];
  for (const raw of segment.split(/\s+/)) {
    const word = raw.replace(NOT_NAME_CHAR, '').replace(EDGE_JOINERS, '');
    if (!LETTER.test(word)) continue;
    if (HONORIFICS.has(normalizeName(word))) continue;
    words.push(word);
  }
  return words;
}

interface ParsedName extends PersonName {
  /** Every word in given-names-first order ("Smith, Robert J." gives Robert J Smith). */
  words: string[];
}

function parseName(full: string): ParsedName {
  // "Smith, Robert" is surname first; "Robert Smith, Jr." is not (its second part is all suffix).
  const segments = full
    .split(',')
    .map(nameWords)
    .filter((words) => words.length > 0);
  const [head, ...rest] = segments;
  if (!head) return { first: '', last: '', words: [] };
  if (rest.length > 0) {
    const given = rest.flat();
    return { first: given[0] ?? '', last: head.join(' '), words: [...given, ...head] };
  }
  if (head.length === 1) return { first: '', last: head[0] ?? '', words: head };
  return { first: head[0] ?? '', last: head.at(-1) ?? '', words: head };
}

/**
 * First (given) name and last name (surname) of a name as typed. "Robert J. Smith" and
 * "Smith, Robert" both give Robert / Smith; a single word is taken as the last name; middle names,
 * honorifics, suffixes and punctuation are dropped. The parts keep their case and diacritics.
 */
export function splitFullName(full: string): PersonName {
  const { first, last } = parseName(full);
  return { first, last };
}

function metaphoneCodes(normalized: string): Set<string> {
  const codes = new Set<string>();
  for (const token of normalized.split(' ')) {
    if (token === '') continue;
    for (const code of doubleMetaphone(token)) if (code !== '') codes.add(code);
  }
  return codes;
}

/**
 * The distinct Double Metaphone codes (primary and secondary) of every word of the name,
 * honorifics and suffixes left out, sorted. Stored in a column and compared with what a search
 * computes, so it depends on nothing but the name.
 */
export function phoneticKeys(fullName: string): string[] {
  return [...metaphoneCodes(normalizeName(parseName(fullName).words.join(' ')))].sort();
}

/**
 * The given names that share a nickname group with `first` (its first word, normalized), itself
 * included, sorted: what to look up to fetch the candidates a nickname may hide.
 */
export function nicknameKeys(first: string): string[] {
  const word = normalizeName(first).split(' ')[0] ?? '';
  return [...givenNameVariants(word)].sort();
}

export function digitsOnly(phone: string): string {
  return phone.replace(/[^0-9]/g, '');
}

// Fewer digits than a local number cannot identify anyone; the last ten leave out the country
// code, which is typed or not.
const PHONE_MIN_DIGITS = 7;
const PHONE_COMPARED_DIGITS = 10;

function phoneKey(phone: string | null | undefined): string {
  const digits = digitsOnly(phone ?? '');
  return digits.length < PHONE_MIN_DIGITS ? '' : digits.slice(-PHONE_COMPARED_DIGITS);
}

/** Same number when the last ten digits agree (+1 (555) 123-4567 is 555.123.4567); at least seven each. */
export function samePhone(a: string, b: string): boolean {
  const ka = phoneKey(a);
  return ka !== '' && ka === phoneKey(b);
}

/** A person to check: a full name as typed, and a date of birth (YYYY-MM-DD) and phone if known. */
export interface ConflictSubject {
  name: string;
  dateOfBirth?: string | null;
  phone?: string | null;
}

/** A client or adverse party on file. */
export interface ConflictCandidate extends ConflictSubject {
  kind: 'client' | 'adverse';
}

export type MatchReason = 'exact_name' | 'nickname' | 'sounds_like' | 'similar_spelling' | 'date_of_birth' | 'phone';

export interface ConflictMatch {
  score: 1 | 2 | 3 | 4 | 5;
  reasons: MatchReason[];
}

export const MATCH_REASON_LABELS: Record<MatchReason, string> = {
  exact_name: 'Same name',
  nickname: 'Nickname of the same name',
  sounds_like: 'Sounds alike',
  similar_spelling: 'Similar spelling',
  date_of_birth: 'Same date of birth',
  phone: 'Same phone',
};

// Edit distance is only worth computing for names of a real length: it costs the product of the
// two lengths, and nobody's name is longer than this. Longer input still compares exactly and by
// sound.
const MAX_FUZZY_LENGTH = 128;
// A last name this long survives one typo and is still the same name; shorter ones do not (Lee, Lea).
const LAST_NAME_TYPO_MIN_LENGTH = 5;
const SIMILAR_SPELLING_MAX_EDITS = 2;
const SIMILAR_SPELLING_MAX_RATIO = 0.2;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** What is compared of a person, computed once however many people they are compared with. */
interface Prepared {
  full: string;
  first: string;
  last: string;
  firstCodes: Set<string>;
  lastCodes: Set<string>;
  dateOfBirth: string;
  phone: string;
}

function prepare(subject: ConflictSubject): Prepared {
  const parsed = parseName(subject.name);
  const first = normalizeName(parsed.first);
  const last = normalizeName(parsed.last);
  const dob = (subject.dateOfBirth ?? '').trim();
  return {
    full: normalizeName(parsed.words.join(' ')),
    first,
    last,
    firstCodes: metaphoneCodes(first),
    lastCodes: metaphoneCodes(last),
    // A date that is not a date links nobody (two blank or mistyped dates are not evidence).
    dateOfBirth: DATE.test(dob) ? dob : '',
    phone: phoneKey(subject.phone),
  };
}

/** Edit distance when it can be at most `max` and both strings are of a name's length; else Infinity. */
function boundedDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return Infinity;
  if (a.length > MAX_FUZZY_LENGTH || b.length > MAX_FUZZY_LENGTH) return Infinity;
  return distance(a, b);
}

function sameLastName(a: string, b: string): boolean {
  if (a === '' || b === '') return false;
  if (a === b) return true;
  return Math.min(a.length, b.length) >= LAST_NAME_TYPO_MIN_LENGTH && boundedDistance(a, b, 1) <= 1;
}

function shareCode(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  for (const code of a) if (b.has(code)) return true;
  return false;
}

interface NameEvidence {
  score: 0 | 2 | 3 | 4;
  reason: MatchReason | null;
}

const NO_NAME_EVIDENCE: NameEvidence = { score: 0, reason: null };

/**
 * How strongly two names point to one person; the strongest rule that applies wins (see
 * scoreConflict). Every rule is symmetric, so the answer does not depend on which side is which.
 */
function nameEvidence(a: Prepared, b: Prepared): NameEvidence {
  if (a.full === '' || b.full === '') return NO_NAME_EVIDENCE;
  if (a.full === b.full) return { score: 4, reason: 'exact_name' };
  const bothFirst = a.first !== '' && b.first !== '';
  if (bothFirst && sameLastName(a.last, b.last) && areNicknameVariants(a.first, b.first)) {
    return { score: 4, reason: 'nickname' };
  }
  if (bothFirst && shareCode(a.firstCodes, b.firstCodes) && shareCode(a.lastCodes, b.lastCodes)) {
    return { score: 3, reason: 'sounds_like' };
  }
  const edits = boundedDistance(a.full, b.full, SIMILAR_SPELLING_MAX_EDITS);
  if (edits <= SIMILAR_SPELLING_MAX_EDITS && edits <= SIMILAR_SPELLING_MAX_RATIO * Math.max(a.full.length, b.full.length)) {
    return { score: 3, reason: 'similar_spelling' };
  }
  // Same surname and initial (R. Smith, Robert Smith): weak, shown without a name reason of its own.
  if (bothFirst && a.last !== '' && a.last === b.last && a.first.codePointAt(0) === b.first.codePointAt(0)) {
    return { score: 2, reason: null };
  }
  return NO_NAME_EVIDENCE;
}

function scorePrepared(a: Prepared, b: Prepared): ConflictMatch | null {
  const name = nameEvidence(a, b);
  const reasons: MatchReason[] = [];
  let score: number = name.score;
  if (name.reason) reasons.push(name.reason);
  if (a.dateOfBirth !== '' && a.dateOfBirth === b.dateOfBirth) {
    reasons.push('date_of_birth');
    score = name.score >= 3 ? 5 : score + 1;
  }
  if (a.phone !== '' && a.phone === b.phone) {
    reasons.push('phone');
    score += 1;
  }
  if (score === 0) return null;
  return { score: Math.min(5, Math.max(1, score)) as ConflictMatch['score'], reasons };
}

/**
 * How likely `subject` and `candidate` are one person, 1 (worth a look) to 5 (almost certainly),
 * or null when nothing links them.
 *
 *   Name evidence, the strongest that applies:
 *     4  exact_name        same normalized full name (word order of "Smith, Robert" aside)
 *     4  nickname          first names of one nickname group (Bob, Robert), same last name
 *                          (or one typo apart when both have 5 letters or more)
 *     3  sounds_like       first names share a Double Metaphone code, and last names too
 *     3  similar_spelling  full names at most 2 edits apart, and at most 20% of the longer
 *     2  (no reason)       same last name and the same first initial
 *     0  otherwise
 *   Same date of birth:  +1 (date_of_birth); with name evidence of 3 or more, the score is 5
 *   Same phone:          +1 (phone)
 *   Clamped to 1..5, so a date of birth or a phone alone scores 1, and the same name and date of
 *   birth score 5.
 */
export function scoreConflict(subject: ConflictSubject, candidate: ConflictCandidate): ConflictMatch | null {
  return scorePrepared(prepare(subject), prepare(candidate));
}

export interface ConflictHit {
  subjectIndex: number;
  candidateIndex: number;
  score: 1 | 2 | 3 | 4 | 5;
  reasons: MatchReason[];
}

/**
 * Every subject–candidate pair that scores, the strongest first (then by subject, then by
 * candidate, so the order is stable). Each person is normalized once, not once per pair.
 */
export function findConflicts(subjects: readonly ConflictSubject[], candidates: readonly ConflictCandidate[]): ConflictHit[] {
  const preparedSubjects = subjects.map(prepare);
  const preparedCandidates = candidates.map(prepare);
  const hits: ConflictHit[] = [];
  preparedSubjects.forEach((subject, subjectIndex) => {
    preparedCandidates.forEach((candidate, candidateIndex) => {
      const match = scorePrepared(subject, candidate);
      if (match) hits.push({ subjectIndex, candidateIndex, score: match.score, reasons: match.reasons });
    });
  });
  return hits.sort((x, y) => y.score - x.score || x.subjectIndex - y.subjectIndex || x.candidateIndex - y.candidateIndex);
}
