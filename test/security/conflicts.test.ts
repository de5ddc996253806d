import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  digitsOnly,
  findConflicts,
  MATCH_REASON_LABELS,
  nicknameKeys,
  normalizeName,
  phoneticKeys,
  samePhone,
  scoreConflict,
  splitFullName,
  type ConflictCandidate,
  type ConflictSubject,
  type MatchReason,
} from '../../src/security/conflicts.ts';

const client = (name: string, more: Partial<ConflictCandidate> = {}): ConflictCandidate => ({ name, kind: 'client', ...more });
const score = (a: string | ConflictSubject, b: string | ConflictCandidate) =>
  scoreConflict(typeof a === 'string' ? { name: a } : a, typeof b === 'string' ? client(b) : b);

// Generators for the properties below.
const TEN_KB = 'Robert '.repeat(1_000) + 'é'.repeat(3_000);
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
/** Any text: every code point, lone surrogates, NUL and the characters names are split on. */
const hostileText = fc.oneof(
  fc.string({ unit: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), loneSurrogate, fc.constantFrom('\u0000', ',', ' ', '-', "'", '.')) }),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('', '\u0000', 'x\ud83d', '\udc00Smith, Robert', TEN_KB, `${TEN_KB}, ${TEN_KB}`, ','.repeat(10_000), 'Mr. Jr.'),
);
/** Names built to match each other often, so the name rules are actually exercised. */
const nameArb = fc
  .tuple(
    fc.constantFrom('Robert', 'Bob', 'Rob', 'R.', 'John', 'Jon', 'Katherine', 'Catherine', 'Kate', 'José', 'Jose', 'Mary', ''),
    fc.constantFrom('Smith', 'Smyth', 'Smithe', 'García', 'Garcia', 'Jones', "O'Brien", 'OBrien', 'de la Cruz'),
    fc.boolean(),
    fc.constantFrom('', 'Mr. ', 'Dr '),
  )
  .map(([first, last, lastFirst, title]) => (lastFirst ? `${last}, ${first}` : `${title}${first} ${last}`));
const dateArb = fc.constantFrom(null, undefined, '', '1980-01-01', '1980-01-02', 'not a date', '\u0000');
const phoneArb = fc.constantFrom(null, undefined, '', '555-123-4567', '+1 (555) 123-4567', '123-4567', '\ud800');
const subjectArb = fc.record({ name: fc.oneof(nameArb, hostileText), dateOfBirth: dateArb, phone: phoneArb });

describe('splitFullName', () => {
  test.each([
    ['Robert J. Smith', 'Robert', 'Smith'],
    ['Smith, Robert', 'Robert', 'Smith'],
    ['Smith, Robert J.', 'Robert', 'Smith'],
    ['Mr. Robert Smith, Jr.', 'Robert', 'Smith'],
    ['Dr Robert Smith III', 'Robert', 'Smith'],
    ['Mrs. Smith', '', 'Smith'],
    ['Cher', '', 'Cher'],
    ["Mary-Jane O'Brien", 'Mary-Jane', "O'Brien"],
    ['de la Cruz, María', 'María', 'de la Cruz'],
    ['  Robert   "Bob"   Smith!  ', 'Robert', 'Smith'],
    ['', '', ''],
    ['Mr. Jr.', '', ''],
    ['123 !!!', '', ''],
  ])('%j gives first %j, last %j', (full, first, last) => {
    expect(splitFullName(full)).toEqual({ first, last });
  });
});

describe('normalizeName', () => {
  test('diacritics, case, hyphens and apostrophes go; other punctuation becomes one space', () => {
    expect(normalizeName('José')).toBe('jose');
    expect(normalizeName('  ZOË   Dupont-Durand ')).toBe('zoe dupontdurand');
    expect(normalizeName("O'Brien")).toBe(normalizeName('O\u2019Brien'));
    expect(normalizeName('O\u00b4Brien')).toBe('obrien');
    expect(normalizeName('Smith,Robert J.')).toBe('smith robert j');
    expect(normalizeName('Ｒｏｂｅｒｔ')).toBe('robert'); // full-width letters (NFKD)
  });

  test('NUL, controls, digits and lone surrogates are not letters', () => {
    expect(normalizeName('Ro\u0000bert\ud83d 42\u0007 Smith')).toBe('ro bert smith');
  });
});

describe('phoneticKeys and nicknameKeys', () => {
  test('the distinct Double Metaphone codes of every word, sorted, honorifics left out', () => {
    expect(phoneticKeys('Smith')).toEqual(['SM0', 'XMT']);
    expect(phoneticKeys('Dr. Robert Smith')).toEqual(['RPRT', 'SM0', 'XMT']);
    expect(phoneticKeys('Smith, Robert')).toEqual(phoneticKeys('robert SMITH'));
    expect(phoneticKeys('Jon Smyth')).toEqual(phoneticKeys('John Smith'));
    expect(phoneticKeys('')).toEqual([]);
  });

  test('nicknameKeys: the normalized first word and its variants, sorted', () => {
    expect(nicknameKeys(' Bob ')).toEqual(['bert', 'bob', 'bobby', 'rob', 'robbie', 'robby', 'robert']);
    expect(nicknameKeys('Zebulon James')).toEqual(['zebulon']);
    expect(nicknameKeys('')).toEqual([]);
  });

  test('property: phoneticKeys is deterministic, sorted, distinct and never empty strings', () => {
    fc.assert(
      fc.property(fc.oneof(nameArb, hostileText), (name) => {
        const keys = phoneticKeys(name);
        expect(phoneticKeys(name)).toEqual(keys);
        expect([...keys].sort()).toEqual(keys);
        expect(new Set(keys).size).toBe(keys.length);
        expect(keys).not.toContain('');
      }),
    );
  });
});

describe('phones', () => {
  test('digitsOnly keeps the digits', () => {
    expect(digitsOnly('+1 (555) 123-4567 ext.')).toBe('15551234567');
  });

  test.each([
    ['+1 (555) 123-4567', '555.123.4567', true],
    ['555-123-4567', '5551234567', true],
    ['1-555-123-4567', '(555) 123 4567', true],
    ['123-4567', '123 4567', true],
    ['555-123-4567', '555-123-4568', false],
    ['123-4567', '555-123-4567', false], // a local number says nothing of its area code
    ['12345', '12345', false], // too short to identify anyone
    ['', '', false],
  ])('samePhone(%j, %j) is %s', (a, b, expected) => {
    expect(samePhone(a, b)).toBe(expected);
    expect(samePhone(b, a)).toBe(expected);
  });
});

describe('scoreConflict', () => {
  test('a nickname of the same name: Bob Smith is Robert Smith, 4', () => {
    expect(score('Bob Smith', 'Robert Smith')).toEqual({ score: 4, reasons: ['nickname'] });
    expect(score('Smith, Bill', 'William Smith')).toEqual({ score: 4, reasons: ['nickname'] });
    // One typo in a long enough last name still counts as the same last name.
    expect(score('Bob Johnson', 'Robert Jonson')).toEqual({ score: 4, reasons: ['nickname'] });
  });

  test('Katherine and Catherine are one name', () => {
    expect(score('Katherine Jones', 'Catherine Jones')).toEqual({ score: 4, reasons: ['nickname'] });
  });

  test('Jon Smyth sounds like John Smith, 3', () => {
    expect(score('Jon Smyth', 'John Smith')).toEqual({ score: 3, reasons: ['sounds_like'] });
  });

  test('a small misspelling that does not sound alike is a similar spelling, 3', () => {
    expect(score('Maria Gonzalez', 'Maria Gonzalex')).toEqual({ score: 3, reasons: ['similar_spelling'] });
    // Two edits in a short name is too many (more than 20% of it).
    expect(score('Al Day', 'Ed Day')).toBeNull();
  });

  test('the same last name and first initial is weak evidence, 2', () => {
    expect(score('R. Smith', 'Robert Smith')).toEqual({ score: 2, reasons: [] });
  });

  test('diacritics, word order, case and honorifics do not make a different name', () => {
    expect(score('José García', 'Jose Garcia')).toEqual({ score: 4, reasons: ['exact_name'] });
    expect(score('Smith, Robert', 'ROBERT SMITH')).toEqual({ score: 4, reasons: ['exact_name'] });
    expect(score('Mr. Robert Smith, Jr.', 'Robert Smith')).toEqual({ score: 4, reasons: ['exact_name'] });
  });

  test('the same name and date of birth: 5', () => {
    const dob = { dateOfBirth: '1980-02-29' };
    expect(score({ name: 'Robert Smith', ...dob }, client('Robert Smith', dob))).toEqual({ score: 5, reasons: ['exact_name', 'date_of_birth'] });
    expect(score({ name: 'Jon Smyth', ...dob }, client('John Smith', dob))).toEqual({ score: 5, reasons: ['sounds_like', 'date_of_birth'] });
    expect(score({ name: 'R Smith', ...dob }, client('Robert Smith', dob))).toEqual({ score: 3, reasons: ['date_of_birth'] });
  });

  test('a date of birth or a phone alone is a weak link, 1; both together, 2', () => {
    const dob = { dateOfBirth: '1980-02-29' };
    const phone = { phone: '(555) 123-4567' };
    expect(score({ name: 'Alice Walker', ...dob }, client('Zed Brown', dob))).toEqual({ score: 1, reasons: ['date_of_birth'] });
    expect(score({ name: 'Alice Walker', phone: '+1 555 123 4567' }, client('Zed Brown', phone))).toEqual({ score: 1, reasons: ['phone'] });
    expect(score({ name: 'Alice Walker', ...dob, ...phone }, client('Zed Brown', { ...dob, ...phone }))).toEqual({
      score: 2,
      reasons: ['date_of_birth', 'phone'],
    });
  });

  test('a phone adds one, up to 5', () => {
    const phone = { phone: '555-123-4567' };
    expect(score({ name: 'Bob Smith', ...phone }, client('Robert Smith', phone))).toEqual({ score: 5, reasons: ['nickname', 'phone'] });
    expect(score({ name: 'Jon Smyth', ...phone }, client('John Smith', phone))).toEqual({ score: 4, reasons: ['sounds_like', 'phone'] });
    const all = { ...phone, dateOfBirth: '1970-01-01' };
    expect(score({ name: 'Robert Smith', ...all }, client('Robert Smith', all))).toEqual({ score: 5, reasons: ['exact_name', 'date_of_birth', 'phone'] });
  });

  test('unrelated names, and blank or malformed dates and phones, are no conflict', () => {
    expect(score('Alice Walker', 'Zed Brown')).toBeNull();
    expect(score('John Smith', 'Mary Smith')).toBeNull();
    expect(score({ name: 'Alice Walker', dateOfBirth: '', phone: '' }, client('Zed Brown', { dateOfBirth: '', phone: '' }))).toBeNull();
    expect(score({ name: 'Alice Walker', dateOfBirth: 'unknown' }, client('Zed Brown', { dateOfBirth: 'unknown' }))).toBeNull();
    expect(score({ name: 'Alice Walker', dateOfBirth: null, phone: null }, client('Zed Brown'))).toBeNull();
  });

  test('a name with no letters matches nothing by name, not even another such name', () => {
    expect(score('', '')).toBeNull();
    expect(score('Mr.', '???')).toBeNull();
  });

  test('every reason has a label', () => {
    const reasons: MatchReason[] = ['exact_name', 'nickname', 'sounds_like', 'similar_spelling', 'date_of_birth', 'phone'];
    for (const reason of reasons) expect(MATCH_REASON_LABELS[reason]).toMatch(/\S/);
    expect(Object.keys(MATCH_REASON_LABELS).sort()).toEqual([...reasons].sort());
  });
});

describe('findConflicts', () => {
  test('every pair that scores, strongest first, then by subject and candidate', () => {
    const subjects: ConflictSubject[] = [{ name: 'Bob Smith', dateOfBirth: '1980-01-01' }, { name: 'Jane Doe' }];
    const candidates: ConflictCandidate[] = [
      client('Jon Smyth'),
      { name: 'Doe, Jane', kind: 'adverse' },
      client('Robert Smith', { dateOfBirth: '1980-01-01' }),
      client('Zed Brown', { dateOfBirth: '1980-01-01' }),
      client('Robert Smith'),
    ];
    expect(findConflicts(subjects, candidates)).toEqual([
      { subjectIndex: 0, candidateIndex: 2, score: 5, reasons: ['nickname', 'date_of_birth'] },
      { subjectIndex: 0, candidateIndex: 4, score: 4, reasons: ['nickname'] },
      { subjectIndex: 1, candidateIndex: 1, score: 4, reasons: ['exact_name'] },
      { subjectIndex: 0, candidateIndex: 3, score: 1, reasons: ['date_of_birth'] },
    ]);
  });

  test('nothing to compare, nothing found', () => {
    expect(findConflicts([], [client('Robert Smith')])).toEqual([]);
    expect(findConflicts([{ name: 'Robert Smith' }], [])).toEqual([]);
  });

  // Edit distance between two 10 kB names alone takes some 40 ms: were it computed for each of
  // the 400 pairs of 10 kB names below, this would take many seconds instead of a fraction of one.
  // Timings belong in benchmarks: this only shows that huge names are handled (the test's own
  // timeout is the bound), and that the real matches among them are still found.
  test('3 subjects against 200 candidates, and 10 kB names on both sides', () => {
    const candidates = Array.from({ length: 200 }, (_, i) =>
      client(`${['Robert', 'Maria', 'Jon', 'Katherine'][i % 4]} ${['Smith', 'Garcia', 'Nguyen', 'Okafor'][i % 3]}${i}`, {
        dateOfBirth: `19${String(50 + (i % 50))}-01-01`,
        phone: `555-010-${String(i).padStart(4, '0')}`,
      }),
    );
    const huge = (seed: string) => Array.from({ length: 10_000 }, (_, i) => seed[i % seed.length]).join('');
    const hugeCandidates = Array.from({ length: 200 }, (_, i) => client(huge(`abcde fghij${i}`)));
    const hits = findConflicts([{ name: 'Bob Smith' }, { name: 'Maria Garcia' }, { name: huge('Robert Smith ') }], candidates);
    expect(hits.some((h) => h.subjectIndex === 1)).toBe(true);
    expect(Array.isArray(findConflicts([{ name: huge('abcde fghij') }, { name: huge('a') }], hugeCandidates))).toBe(true);
  });
});

describe('properties', () => {
  test('scoreConflict never throws, and gives null or a score of 1 to 5 with known reasons', () => {
    fc.assert(
      fc.property(subjectArb, subjectArb, (a, b) => {
        const match = scoreConflict(a, { ...b, kind: 'adverse' });
        if (match === null) return;
        expect([1, 2, 3, 4, 5]).toContain(match.score);
        for (const reason of match.reasons) expect(Object.hasOwn(MATCH_REASON_LABELS, reason)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('splitFullName, normalizeName, phoneticKeys and samePhone never throw on any text', () => {
    fc.assert(
      fc.property(hostileText, hostileText, (a, b) => {
        splitFullName(a);
        expect(normalizeName(a)).toMatch(/^(\p{L}+( \p{L}+)*)?$/u);
        phoneticKeys(a);
        nicknameKeys(a);
        samePhone(a, b);
      }),
      { numRuns: 300 },
    );
  });

  test('the score does not depend on which side is the subject', () => {
    fc.assert(
      fc.property(subjectArb, subjectArb, (a, b) => {
        expect(scoreConflict(a, { ...b, kind: 'client' })).toEqual(scoreConflict(b, { ...a, kind: 'client' }));
      }),
      { numRuns: 500 },
    );
  });

  test('a name always matches itself exactly, and with its date of birth scores 5', () => {
    fc.assert(
      fc.property(fc.oneof(nameArb, hostileText), (name) => {
        const match = scoreConflict({ name, dateOfBirth: '1980-01-01' }, client(name, { dateOfBirth: '1980-01-01' }));
        if (normalizeName(name) === '' || splitFullName(name).last === '') return;
        expect(match).toEqual({ score: 5, reasons: ['exact_name', 'date_of_birth'] });
      }),
    );
  });
});
