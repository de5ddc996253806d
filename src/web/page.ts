import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PageContext } from './layout.tsx';
import { styleNonce } from './content-security-policy.ts';

/** What every page needs from the request: the session, a CSRF token and the CSP nonce. */
export function pageContext(request: FastifyRequest, reply: FastifyReply): PageContext {
  return {
    session: request.session,
    csrfToken: reply.generateCsrf(),
    styleNonce: styleNonce(reply),
    path: request.url,
    readOnly: request.readOnly,
  };
}

/** Form bodies are flat string maps; anything else (arrays, missing) reads as empty. */
export function formField(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}

/** All values of a multi-valued field (checkbox groups). */
export function formList(body: unknown, name: string): string[] {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return typeof value === 'string' ? [value] : [];
}
