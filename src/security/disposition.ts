// A case's Disposition and the only ways it may change. The states and transitions are fixed in
// code (not configurable) because reports, the CSR and access rules all read them: a case that
// could jump from Rejected straight to Open would skip the intake review a reopened application
// goes through again in Pending.

import { isClosingCode } from './lsc-codes.ts';

export const DISPOSITIONS = ['prescreen', 'incomplete_intake', 'pending', 'open', 'closed', 'rejected'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

export const DISPOSITION_LABELS: Record<Disposition, string> = {
  prescreen: 'Prescreen',
  incomplete_intake: 'Incomplete Intake',
  pending: 'Pending',
  open: 'Open',
  closed: 'Closed',
  rejected: 'Rejected',
};

export const DISPOSITION_ACTIONS = ['accept', 'reject', 'close', 'reopen'] as const;
export type DispositionAction = (typeof DISPOSITION_ACTIONS)[number];

/** What the person changing the disposition typed in; each action reads only its own fields. */
export interface DispositionInput {
  reason?: string;
  referral?: string;
  closingCode?: string;
}

export type DispositionChange =
  | { ok: true; to: Disposition }
  | { ok: false; status: 403 | 409 | 400; message: string; fields?: Record<string, string> };

interface Transition {
  permission: string;
  /** The states the action applies to, and where each one leads. */
  from: Partial<Record<Disposition, Disposition>>;
  /** Past participle for "A Closed case cannot be …". */
  done: string;
  verb: string;
}

const TRANSITIONS: Record<DispositionAction, Transition> = {
  accept: {
    permission: 'cases_edit',
    from: { prescreen: 'open', incomplete_intake: 'open', pending: 'open' },
    done: 'accepted',
    verb: 'accept',
  },
  reject: {
    permission: 'cases_edit',
    from: { prescreen: 'rejected', incomplete_intake: 'rejected', pending: 'rejected' },
    done: 'rejected',
    verb: 'reject',
  },
  close: { permission: 'cases_edit', from: { open: 'closed' }, done: 'closed', verb: 'close' },
  // Reopening a rejection sends it back to Pending, to be accepted or rejected again on its
  // merits, never straight to Open.
  reopen: { permission: 'cases_reopen', from: { closed: 'open', rejected: 'pending' }, done: 'reopened', verb: 'reopen' },
};

function article(word: string): string {
  return /^[AEIOU]/i.test(word) ? 'An' : 'A';
}

function destination(from: Disposition, action: DispositionAction): Disposition | undefined {
  // Own keys only: a state named like an Object method must not find one on the prototype.
  const targets = TRANSITIONS[action].from;
  return Object.hasOwn(targets, from) ? targets[from] : undefined;
}

/** The form errors of an action's fields, or null when they are complete. */
function fieldErrors(action: DispositionAction, input: DispositionInput): Record<string, string> | null {
  const fields: Record<string, string> = {};
  if (action === 'reject') {
    if (!input.reason?.trim()) fields.reason = 'Give the reason the application is rejected.';
    if (!input.referral?.trim()) fields.referral = 'Say where the applicant was referred, or "None".';
  }
  if (action === 'close') {
    const code = input.closingCode ?? '';
    if (code.trim() === '') fields.closing_code = 'Choose a closing code.';
    else if (!isClosingCode(code)) fields.closing_code = `"${code}" is not a CSR closing code.`;
  }
  return Object.keys(fields).length ? fields : null;
}

/**
 * Whether `action` may take a case from `from`, and where to. Checked in the order a request is
 * answered: may this person do it at all (403), does it apply to this case now (409), is the
 * form complete (400). The 403 comes first so that nobody without the permission learns more
 * about the case from the answer.
 */
export function planDispositionChange(
  from: Disposition,
  action: DispositionAction,
  input: DispositionInput,
  permissions: readonly string[],
): DispositionChange {
  const transition = TRANSITIONS[action];
  if (!permissions.includes(transition.permission)) {
    return { ok: false, status: 403, message: `You do not have permission to ${transition.verb} cases.` };
  }
  const to = destination(from, action);
  if (to === undefined) {
    const label = DISPOSITION_LABELS[from];
    return { ok: false, status: 409, message: `${article(label)} ${label} case cannot be ${transition.done}.` };
  }
  const fields = fieldErrors(action, input);
  if (fields) {
    const message =
      action === 'reject' ? 'A rejection needs a reason and a referral.' : 'Closing a case needs a CSR closing code.';
    return { ok: false, status: 400, message, fields };
  }
  return { ok: true, to };
}

/** The actions this person could take on a case in this state (fields aside): the buttons to show. */
export function actionsAvailable(from: Disposition, permissions: readonly string[]): DispositionAction[] {
  return DISPOSITION_ACTIONS.filter(
    (action) => permissions.includes(TRANSITIONS[action].permission) && destination(from, action) !== undefined,
  );
}

export function isDisposition(v: string): v is Disposition {
  return (DISPOSITIONS as readonly string[]).includes(v);
}

export function isDispositionAction(v: string): v is DispositionAction {
  return (DISPOSITION_ACTIONS as readonly string[]).includes(v);
}
