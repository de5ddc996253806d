// What text Haven accepts and stores (pure). Hostile input must never reach the database in a
// form that PostgreSQL refuses (NUL), that it stores differently from what was hashed (lone
// UTF-16 surrogates become U+FFFD on the way to UTF-8), or that misleads a reader (terminal
// escapes, right-to-left overrides that reverse how a name reads).

export type TextProblem = 'nul' | 'surrogate' | 'replacement' | 'control' | 'line_break' | 'bidi_control';

// C0 controls except tab, line feed and carriage return; DEL; C1 controls.
const CONTROL = /[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const LINE_BREAK = /[\r\n\u2028\u2029]/;
// Embeddings, overrides and isolates (Unicode bidi controls) and the invisible marks that can
// be used the same way. Text in right-to-left scripts needs none of them to display correctly.
const BIDI_CONTROL = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

export interface TextRules {
  /** Line breaks are allowed (a note, a textarea). */
  multiline?: boolean;
}

/**
 * The first thing wrong with a text, or null if it may be stored. U+FFFD is refused as well:
 * it is what a decoder puts in place of bytes that were not UTF-8, and nobody types it.
 */
export function textProblem(value: string, rules: TextRules = {}): TextProblem | null {
  if (value.includes('\u0000')) return 'nul';
  if (!value.isWellFormed()) return 'surrogate';
  if (value.includes('\ufffd')) return 'replacement';
  if (CONTROL.test(value)) return 'control';
  if (!rules.multiline && LINE_BREAK.test(value)) return 'line_break';
  if (!rules.multiline && BIDI_CONTROL.test(value)) return 'bidi_control';
  return null;
}

/** The problems every text must be free of, wherever it comes from (the edge's last check). */
export function basicTextProblem(value: string): TextProblem | null {
  return textProblem(value, { multiline: true });
}

export const TEXT_PROBLEM_MESSAGES: Record<TextProblem, string> = {
  nul: 'Contains a NUL character, which cannot be saved.',
  surrogate: 'Contains a broken character (an unpaired UTF-16 surrogate).',
  replacement: 'Contains bytes that are not valid UTF-8 text.',
  control: 'Contains a control character. Type the text again without it.',
  line_break: 'Must be on one line.',
  bidi_control: 'Contains an invisible direction-changing character. Type the text again without it.',
};

/** Shortens to at most `max` code points, never splitting a surrogate pair. */
export function truncateCodePoints(value: string, max: number): string {
  if (value.length <= max) return value;
  let count = 0;
  let end = 0;
  for (const char of value) {
    if (count === max) break;
    count++;
    end += char.length;
  }
  return value.slice(0, end);
}

/**
 * The text PostgreSQL will store and give back unchanged: NUL (which it refuses) and lone
 * surrogates (which become U+FFFD in UTF-8) are replaced by U+FFFD. What is hashed must be
 * exactly what is stored, or the audit chain breaks.
 */
export function toStorableText(value: string): string {
  return value.toWellFormed().replace(/\u0000/g, '\ufffd');
}

/** `toStorableText` applied to every string (and object key) inside a JSON-like value. */
export function toStorableValue(value: unknown): unknown {
  if (typeof value === 'string') return toStorableText(value);
  if (Array.isArray(value)) return value.map(toStorableValue);
  if (value instanceof Date) return value;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [toStorableText(k), toStorableValue(v)]));
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return value;
}
