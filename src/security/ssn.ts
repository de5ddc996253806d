// Social Security numbers: what may be entered and stored, and how they are shown.
// The site setting `ssn_digits` decides how much is kept. Under `last4` a full number must never
// reach the database, whatever shape it is typed in, so the rule that refuses it counts digits
// rather than trusting the accepted formats alone. Stored values are digits only: 9 or 4.

export type SsnDigits = 'full' | 'last4';

export type SsnParse = { ok: true; value: string | null } | { ok: false; message: string };

const LAST4_ONLY_MESSAGE = 'Enter only the last four digits of the SSN: this site does not store full numbers.';
const FULL_SHAPE_MESSAGE = 'Enter 9 digits (123-45-6789) or the last four digits.';
const LAST4_SHAPE_MESSAGE = 'Enter the last four digits of the SSN.';
const SERIAL_0000_MESSAGE = 'This is not a valid SSN: none ends in 0000.';

// `\d` is ASCII only in JavaScript, so these accept 0–9 and nothing that merely looks like it.
const FULL_PATTERN = /^(\d{3})[- ]?(\d{2})[- ]?(\d{4})$/;
// The last four alone, or behind a mask as Haven shows it (***-**-6789) or as forms often do (xxx-xx-6789).
const LAST4_PATTERN = /^(?:[*xX]{3}[- ]?[*xX]{2}[- ]?)?(\d{4})$/;
// Every decimal digit of any script: a full number typed in full-width or Arabic-Indic digits
// still counts as one.
const ANY_DIGIT = /\p{Nd}/gu;

function digitCount(text: string): number {
  return text.match(ANY_DIGIT)?.length ?? 0;
}

/** Why the Social Security Administration would never have issued this number, or null. */
function ssaRuleBroken(area: string, group: string, serial: string): string | null {
  if (area === '000' || area === '666' || area.startsWith('9')) {
    return 'This is not a valid SSN: none begins with 000, 666 or 900 to 999.';
  }
  if (group === '00') return 'This is not a valid SSN: none has 00 as its middle two digits.';
  if (serial === '0000') return SERIAL_0000_MESSAGE;
  return null;
}

/**
 * Reads an SSN as typed into its stored form: 9 digits, the last 4, or null when left empty
 * (the SSN is optional). Under `last4`, anything with more than four digits is refused before
 * its shape is even looked at.
 */
export function parseSsnInput(raw: string, digits: SsnDigits): SsnParse {
  const text = raw.trim();
  if (text === '') return { ok: true, value: null };

  if (digits === 'last4' && digitCount(text) > 4) return { ok: false, message: LAST4_ONLY_MESSAGE };

  const last4 = LAST4_PATTERN.exec(text);
  if (last4) {
    const serial = last4[1]!;
    // No number ever issued ends in 0000, so these four digits cannot be anyone's.
    if (serial === '0000') return { ok: false, message: SERIAL_0000_MESSAGE };
    return { ok: true, value: serial };
  }

  if (digits === 'full') {
    const full = FULL_PATTERN.exec(text);
    if (full) {
      const broken = ssaRuleBroken(full[1]!, full[2]!, full[3]!);
      if (broken) return { ok: false, message: broken };
      return { ok: true, value: full[1]! + full[2]! + full[3]! };
    }
    return { ok: false, message: FULL_SHAPE_MESSAGE };
  }
  return { ok: false, message: LAST4_SHAPE_MESSAGE };
}

function isStoredForm(stored: string): boolean {
  return /^(?:\d{9}|\d{4})$/.test(stored);
}

/**
 * `***-**-6789`, whether the full number or only its last four is stored, so the two look the
 * same on screen. A stored value of any other shape is masked whole: it is shown to nobody.
 */
export function maskSsn(stored: string | null): string {
  if (stored === null || stored === '') return '';
  if (!isStoredForm(stored)) return '***-**-****';
  return `***-**-${stored.slice(-4)}`;
}

/** The full number (123-45-6789) to holders of `ssn_view_full` when it is stored; the mask otherwise. */
export function formatSsn(stored: string | null, canSeeFull: boolean): string {
  if (canSeeFull && isFullSsn(stored)) {
    const s = stored!;
    return `${s.slice(0, 3)}-${s.slice(3, 5)}-${s.slice(5)}`;
  }
  return maskSsn(stored);
}

export function isFullSsn(stored: string | null): boolean {
  return stored !== null && /^\d{9}$/.test(stored);
}

/** What a stored value becomes when the site switches to `last4`: its last four digits. */
export function truncateSsn(stored: string): string {
  return stored.replace(/\D/g, '').slice(-4);
}
