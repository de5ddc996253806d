import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  DISPOSITIONS,
  DISPOSITION_ACTIONS,
  DISPOSITION_LABELS,
  actionsAvailable,
  isDisposition,
  isDispositionAction,
  planDispositionChange,
  type Disposition,
  type DispositionAction,
  type DispositionInput,
} from '../../src/security/disposition.ts';
import { CLOSING_CODES } from '../../src/security/lsc-codes.ts';

const EVERYTHING = ['cases_edit', 'cases_reopen'];
const COMPLETE: DispositionInput = { reason: 'Outside priorities', referral: 'State bar referral line', closingCode: 'B' };

// The whole machine, written out: where each action takes each state, or '409' where it does not apply.
const TABLE: Record<Disposition, Record<DispositionAction, Disposition | 409>> = {
  prescreen: { accept: 'open', reject: 'rejected', close: 409, reopen: 409 },
  incomplete_intake: { accept: 'open', reject: 'rejected', close: 409, reopen: 409 },
  pending: { accept: 'open', reject: 'rejected', close: 409, reopen: 409 },
  open: { accept: 409, reject: 409, close: 'closed', reopen: 409 },
  closed: { accept: 409, reject: 409, close: 409, reopen: 'open' },
  rejected: { accept: 409, reject: 409, close: 409, reopen: 'pending' },
};

const PERMISSION_OF: Record<DispositionAction, string> = {
  accept: 'cases_edit',
  reject: 'cases_edit',
  close: 'cases_edit',
  reopen: 'cases_reopen',
};

const PAIRS = DISPOSITIONS.flatMap((from) => DISPOSITION_ACTIONS.map((action) => [from, action] as const));

const disposition = fc.constantFrom(...DISPOSITIONS);
const action = fc.constantFrom(...DISPOSITION_ACTIONS);
const input: fc.Arbitrary<DispositionInput> = fc.record(
  {
    reason: fc.oneof(fc.constant(''), fc.constant('  '), fc.string()),
    referral: fc.oneof(fc.constant(''), fc.constant('\t'), fc.string()),
    closingCode: fc.oneof(fc.constantFrom(...CLOSING_CODES.map((c) => c.code), 'C', 'D', 'E', 'J', 'ia', ''), fc.string()),
  },
  { requiredKeys: [] },
);
const permissions = fc.subarray(['cases_edit', 'cases_reopen', 'cases_view_all', 'cases_view_assigned', 'admin_users', 'intake']);

describe('the disposition table', () => {
  test('it covers all 24 pairs of state and action', () => {
    expect(PAIRS).toHaveLength(24);
  });

  test.each(PAIRS)('%s + %s, with every permission and complete fields', (from, act) => {
    const expected = TABLE[from][act];
    const result = planDispositionChange(from, act, COMPLETE, EVERYTHING);
    if (expected === 409) expect(result).toMatchObject({ ok: false, status: 409 });
    else expect(result).toEqual({ ok: true, to: expected });
  });

  test.each(PAIRS)('%s + %s, without the permission it needs: 403, before anything else', (from, act) => {
    const others = EVERYTHING.filter((p) => p !== PERMISSION_OF[act]);
    expect(planDispositionChange(from, act, COMPLETE, others)).toMatchObject({ ok: false, status: 403 });
    expect(planDispositionChange(from, act, {}, [])).toMatchObject({ ok: false, status: 403 });
  });

  test('rejected reopens to pending, never to open', () => {
    expect(planDispositionChange('rejected', 'reopen', {}, ['cases_reopen'])).toEqual({ ok: true, to: 'pending' });
    expect(planDispositionChange('rejected', 'accept', COMPLETE, EVERYTHING)).toMatchObject({ status: 409 });
  });

  test('closed reopens to open', () => {
    expect(planDispositionChange('closed', 'reopen', {}, ['cases_reopen'])).toEqual({ ok: true, to: 'open' });
  });

  test('reopening needs cases_reopen: cases_edit is not enough', () => {
    expect(planDispositionChange('closed', 'reopen', {}, ['cases_edit'])).toEqual({
      ok: false,
      status: 403,
      message: 'You do not have permission to reopen cases.',
    });
  });

  test('accepting, rejecting and closing need cases_edit: cases_reopen is not enough', () => {
    for (const [from, act] of [['pending', 'accept'], ['pending', 'reject'], ['open', 'close']] as const) {
      expect(planDispositionChange(from, act, COMPLETE, ['cases_reopen'])).toEqual({
        ok: false,
        status: 403,
        message: `You do not have permission to ${act} cases.`,
      });
    }
  });
});

describe('409 messages name the current disposition', () => {
  test.each([
    ['rejected', 'close', 'A Rejected case cannot be closed.'],
    ['open', 'reopen', 'An Open case cannot be reopened.'],
    ['open', 'accept', 'An Open case cannot be accepted.'],
    ['closed', 'reject', 'A Closed case cannot be rejected.'],
    ['closed', 'close', 'A Closed case cannot be closed.'],
    ['incomplete_intake', 'close', 'An Incomplete Intake case cannot be closed.'],
    ['prescreen', 'reopen', 'A Prescreen case cannot be reopened.'],
    ['pending', 'reopen', 'A Pending case cannot be reopened.'],
    ['rejected', 'accept', 'A Rejected case cannot be accepted.'],
  ] as const)('%s + %s: %s', (from, act, message) => {
    expect(planDispositionChange(from, act, COMPLETE, EVERYTHING)).toEqual({ ok: false, status: 409, message });
  });

  test('every 409 names the label of the state it came from', () => {
    for (const [from, act] of PAIRS) {
      const result = planDispositionChange(from, act, COMPLETE, EVERYTHING);
      if (!result.ok) expect(result.message).toContain(` ${DISPOSITION_LABELS[from]} case cannot be `);
    }
  });
});

describe('fields (400), checked last', () => {
  test.each(['prescreen', 'incomplete_intake', 'pending'] as const)('rejecting from %s needs a reason and a referral', (from) => {
    const result = planDispositionChange(from, 'reject', {}, ['cases_edit']);
    expect(result).toMatchObject({ ok: false, status: 400 });
    if (result.ok) return;
    expect(Object.keys(result.fields ?? {}).sort()).toEqual(['reason', 'referral']);
    expect(result.fields?.reason).toBeTruthy();
    expect(result.fields?.referral).toBeTruthy();
    expect(result.message).toBeTruthy();
  });

  test('a blank reason or referral is missing: only the missing one is reported', () => {
    const noReason = planDispositionChange('pending', 'reject', { reason: '  \n', referral: 'Bar referral' }, ['cases_edit']);
    expect(noReason).toMatchObject({ ok: false, status: 400 });
    expect(!noReason.ok && Object.keys(noReason.fields ?? {})).toEqual(['reason']);

    const noReferral = planDispositionChange('pending', 'reject', { reason: 'Conflict', referral: '\t' }, ['cases_edit']);
    expect(noReferral).toMatchObject({ ok: false, status: 400 });
    expect(!noReferral.ok && Object.keys(noReferral.fields ?? {})).toEqual(['referral']);
  });

  test('a reason and a referral are enough to reject', () => {
    expect(planDispositionChange('prescreen', 'reject', { reason: 'Conflict', referral: 'None' }, ['cases_edit'])).toEqual({
      ok: true,
      to: 'rejected',
    });
  });

  test.each([undefined, '', '  ', 'C', 'D', 'E', 'J', 'I', 'ia', ' A', 'Counsel and Advice', 'toString'])(
    'closing with closing code %j is refused',
    (closingCode) => {
      const result = planDispositionChange('open', 'close', { closingCode }, ['cases_edit']);
      expect(result).toMatchObject({ ok: false, status: 400 });
      expect(!result.ok && Object.keys(result.fields ?? {})).toEqual(['closing_code']);
    },
  );

  test.each(CLOSING_CODES.map((c) => c.code))('closing with closing code %s is allowed', (closingCode) => {
    expect(planDispositionChange('open', 'close', { closingCode }, ['cases_edit'])).toEqual({ ok: true, to: 'closed' });
  });

  test('accepting and reopening read no fields', () => {
    expect(planDispositionChange('pending', 'accept', {}, ['cases_edit'])).toEqual({ ok: true, to: 'open' });
    expect(planDispositionChange('closed', 'reopen', {}, ['cases_reopen'])).toEqual({ ok: true, to: 'open' });
  });

  test('order: 403 before 409 before 400', () => {
    // Wrong state, missing fields, no permission: 403.
    expect(planDispositionChange('closed', 'reject', {}, [])).toMatchObject({ status: 403 });
    // Wrong state, missing fields, the permission: 409.
    expect(planDispositionChange('closed', 'reject', {}, ['cases_edit'])).toMatchObject({ status: 409 });
    expect(planDispositionChange('rejected', 'close', {}, ['cases_edit'])).toMatchObject({ status: 409 });
    // Right state, missing fields, the permission: 400.
    expect(planDispositionChange('open', 'close', {}, ['cases_edit'])).toMatchObject({ status: 400 });
  });
});

describe('actionsAvailable', () => {
  test.each(DISPOSITIONS)('with every permission, %s offers the actions of its row of the table', (from) => {
    const expected = DISPOSITION_ACTIONS.filter((a) => TABLE[from][a] !== 409);
    expect(actionsAvailable(from, EVERYTHING)).toEqual(expected);
  });

  test('the buttons by state and permission', () => {
    expect(actionsAvailable('pending', ['cases_edit'])).toEqual(['accept', 'reject']);
    expect(actionsAvailable('open', ['cases_edit'])).toEqual(['close']);
    expect(actionsAvailable('closed', ['cases_edit'])).toEqual([]);
    expect(actionsAvailable('closed', ['cases_reopen'])).toEqual(['reopen']);
    expect(actionsAvailable('rejected', ['cases_reopen'])).toEqual(['reopen']);
    expect(actionsAvailable('pending', ['cases_reopen'])).toEqual([]);
  });

  test.each(DISPOSITIONS)('without either permission, %s offers nothing', (from) => {
    expect(actionsAvailable(from, [])).toEqual([]);
    expect(actionsAvailable(from, ['cases_view_all', 'admin_users', 'CASES_EDIT', 'cases_edit '])).toEqual([]);
  });
});

describe('properties', () => {
  test('an action is available exactly when planning it fails with neither 403 nor 409', () => {
    fc.assert(
      fc.property(disposition, action, input, permissions, (from, act, fields, granted) => {
        const result = planDispositionChange(from, act, fields, granted);
        const available = actionsAvailable(from, granted).includes(act);
        if (available) expect(result.ok || result.status === 400).toBe(true);
        else expect(!result.ok && (result.status === 403 || result.status === 409)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  test('an allowed change always goes where the table says, and never stays put', () => {
    fc.assert(
      fc.property(disposition, action, input, permissions, (from, act, fields, granted) => {
        const result = planDispositionChange(from, act, fields, granted);
        if (!result.ok) return;
        expect(result.to).toBe(TABLE[from][act]);
        expect(result.to).not.toBe(from);
      }),
      { numRuns: 2000 },
    );
  });

  test('no action, with any permissions and any fields, ever takes rejected to open', () => {
    fc.assert(
      fc.property(action, input, fc.array(fc.string()), permissions, (act, fields, junk, granted) => {
        const result = planDispositionChange('rejected', act, fields, [...granted, ...junk, ...EVERYTHING]);
        expect(result.ok && result.to === 'open').toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  test('along any walk of allowed changes, a rejected case reaches open only through pending and an accept', () => {
    fc.assert(
      fc.property(disposition, fc.array(fc.tuple(action, input), { maxLength: 20 }), (start, steps) => {
        let state: Disposition = start;
        for (const [act, fields] of steps) {
          const result = planDispositionChange(state, act, fields, EVERYTHING);
          if (!result.ok) continue;
          if (state === 'rejected') expect(result.to).toBe('pending');
          if (result.to === 'open') expect(['prescreen', 'incomplete_intake', 'pending', 'closed']).toContain(state);
          state = result.to;
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('every failure says why, in a sentence', () => {
    fc.assert(
      fc.property(disposition, action, input, permissions, (from, act, fields, granted) => {
        const result = planDispositionChange(from, act, fields, granted);
        if (!result.ok) expect(result.message).toMatch(/^[A-Z].*\.$/);
      }),
    );
  });
});

describe('catalogue and guards', () => {
  test('labels', () => {
    expect(DISPOSITION_LABELS).toEqual({
      prescreen: 'Prescreen',
      incomplete_intake: 'Incomplete Intake',
      pending: 'Pending',
      open: 'Open',
      closed: 'Closed',
      rejected: 'Rejected',
    });
  });

  test('isDisposition', () => {
    for (const d of DISPOSITIONS) expect(isDisposition(d)).toBe(true);
    for (const s of ['Open', 'OPEN', ' open', 'opened', 'incomplete-intake', '', 'toString', '__proto__', 'accept']) {
      expect(isDisposition(s), s).toBe(false);
    }
  });

  test('isDispositionAction', () => {
    for (const a of DISPOSITION_ACTIONS) expect(isDispositionAction(a)).toBe(true);
    for (const s of ['Accept', 'open', 'delete', 'reopen ', '', 'toString', '__proto__', 'closed']) {
      expect(isDispositionAction(s), s).toBe(false);
    }
  });
});
