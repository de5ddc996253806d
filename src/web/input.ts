// Input at the edge (DESIGN §3.2): every route declares its body, query and params as zod
// schemas; bad input is refused before any handler runs, with the names of the fields at fault.
import type { FastifyError, FastifySchemaCompiler, RouteOptions } from 'fastify';
import { z } from 'zod';
import { safeRedirectPath } from '../security/redirect.ts';
import { basicTextProblem, TEXT_PROBLEM_MESSAGES, textProblem, type TextRules } from '../security/text.ts';

export type FieldErrors = Record<string, string>;

// ---- Parsing -----------------------------------------------------------------------------

/**
 * An `application/x-www-form-urlencoded` body or a query string, decoded as a browser encodes
 * it (WHATWG URLSearchParams). Bytes that are not UTF-8 become U+FFFD, which the schemas then
 * refuse, rather than being kept as literal `%EB`. A repeated name gives an array. The object
 * has no prototype: a field named `__proto__` is only a field.
 */
export function parseUrlEncoded(text: string): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = Object.create(null);
  for (const [key, value] of new URLSearchParams(text)) {
    const seen = result[key];
    if (seen === undefined) result[key] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else result[key] = [seen, value];
  }
  return result;
}

// ---- Schemas -----------------------------------------------------------------------------

const notText = { error: (issue: { input: unknown }) => (issue.input === undefined ? 'Required.' : Array.isArray(issue.input) ? 'Sent more than once.' : 'Must be text.') };

function checked(max: number, rules: TextRules) {
  return z
    .string(notText)
    .max(max, `At most ${max} characters.`)
    .superRefine((value, ctx) => {
      const problem = textProblem(value, rules);
      if (problem) ctx.addIssue({ code: 'custom', message: TEXT_PROBLEM_MESSAGES[problem] });
    });
}

/** One line of text (a name, a login, a filter): no line breaks, controls or direction overrides. */
export const line = (max = 200) => checked(max, {});

/** Text with line breaks (a note, a textarea). */
export const lines = (max = 20_000) => checked(max, { multiline: true });

/** A password or a code as typed: any character a person can type, on one line. */
export const secret = (max = 1024) => checked(max, {});

/** A form field that may be absent (read as ''). A field sent twice is refused, not guessed at. */
export const optional = <T extends z.ZodType<string>>(schema: T) => schema.optional().transform((v) => v ?? '');

/** A checkbox group: absent, one value or several; each one checked like a line of text. */
export const list = (max = 200, items = 100) =>
  z
    .union([line(max), z.array(line(max)).max(items, `At most ${items} values.`)])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));

/** A yes/no choice from a form; anything else is an error, never a guess. */
export const yesNo = () =>
  z.enum(['yes', 'no'], { error: (issue) => (issue.input === undefined ? 'Choose yes or no.' : 'Must be yes or no.') });

/** A form's body: its fields plus the CSRF token; fields it does not name are dropped. */
export function form<T extends z.ZodRawShape>(shape: T) {
  return z.object({ _csrf: z.string().max(512).optional(), ...shape });
}

/** A query string: the named parameters, each optional; any other parameter is dropped. */
export function query<T extends z.ZodRawShape>(shape: T) {
  return z.object(shape);
}

/** A `next` parameter: where to go afterwards, always a safe same-site path ('/' if it is not one). */
export const redirectTarget = () =>
  z
    .string()
    .max(4096)
    .optional()
    .transform((v) => safeRedirectPath(v));

export const NO_QUERY = z.object({});
export const NO_BODY = form({});
export const ID_PARAMS = z.object({ id: z.uuid() });

// ---- Validation --------------------------------------------------------------------------

interface Issue {
  instancePath: string;
  message: string;
}

/** Input nested deeper than this is refused: no form or API body of Haven's needs more. */
export const MAX_INPUT_DEPTH = 32;

/**
 * The path of the first string anywhere in `value` that no route may accept, if any; or of the
 * first value nested deeper than MAX_INPUT_DEPTH. Walked with an explicit stack: a body of
 * 10,000 nested arrays must not exhaust the call stack.
 */
function findBasicTextProblem(value: unknown): Issue | null {
  const stack: { value: unknown; path: string[] }[] = [{ value, path: [] }];
  while (stack.length) {
    const { value: v, path } = stack.pop()!;
    if (typeof v === 'string') {
      const problem = basicTextProblem(v);
      if (problem) return { instancePath: `/${path.join('/')}`, message: TEXT_PROBLEM_MESSAGES[problem] };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (path.length >= MAX_INPUT_DEPTH) return { instancePath: `/${path.join('/')}`, message: `Nested more than ${MAX_INPUT_DEPTH} levels deep.` };
    const entries = Array.isArray(v) ? v.map((item, i) => [String(i), item] as const) : Object.entries(v);
    for (const [k, item] of entries) {
      const keyProblem = basicTextProblem(k);
      if (keyProblem) return { instancePath: `/${path.join('/')}`, message: TEXT_PROBLEM_MESSAGES[keyProblem] };
      stack.push({ value: item, path: [...path, k] });
    }
  }
  return null;
}

/**
 * Fastify's validator for zod schemas. After the schema, one more check runs on every string
 * of the result, whatever the schema said of it (a record of unknown values, say): no NUL, no
 * lone surrogate, no undecodable bytes, no control character reaches a handler.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema }) =>
  (data) => {
    const result = schema.safeParse(data);
    if (!result.success) {
      return { error: result.error.issues.map((i) => ({ instancePath: `/${i.path.map(String).join('/')}`, message: i.message })) as never };
    }
    const problem = findBasicTextProblem(result.data);
    if (problem) return { error: [problem] as never };
    return { value: result.data };
  };

/** The field names and messages of a validation error, e.g. `{ login: 'Must be on one line.' }`. */
export function fieldErrorsOf(error: FastifyError): FieldErrors {
  const fields: FieldErrors = {};
  for (const issue of (error.validation ?? []) as unknown as Issue[]) {
    const name = issue.instancePath.replace(/^\//, '').replace(/\//g, '.') || '_input';
    fields[name] ??= issue.message;
  }
  return fields;
}

const SCHEMALESS_METHODS = ['GET', 'HEAD', 'OPTIONS'];

/** A route that takes input without declaring its shape is a boot failure, like a missing access declaration. */
export function assertInputDeclared(route: RouteOptions): void {
  const methods = [route.method].flat();
  const name = `${methods.join(',')} ${route.url}`;
  if (route.url.includes(':') && !route.schema?.params) throw new Error(`Route ${name} does not declare its params (schema.params).`);
  if (!route.schema?.querystring) throw new Error(`Route ${name} does not declare its query string (schema.querystring).`);
  if (methods.some((m) => !SCHEMALESS_METHODS.includes(m)) && !route.schema?.body) {
    throw new Error(`Route ${name} does not declare its body (schema.body).`);
  }
}
