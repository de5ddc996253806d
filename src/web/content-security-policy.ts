import { randomFillSync } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';

// A strict policy (DESIGN §1.2): nothing inline but one <style> per page, the idle-logout
// warning's delay, allowed by a nonce. The policy is fixed, so it is built once; helmet's own
// CSP rebuilt its middleware on every request to add nonces, about a seventh of a page's CPU.
const DIRECTIVES: [string, string[]][] = [
  ['default-src', ["'self'"]],
  ['script-src', ["'self'"]],
  ['style-src', ["'self'"]],
  ['img-src', ["'self'", 'data:']],
  ['font-src', ["'self'"]],
  ['connect-src', ["'self'"]],
  ['form-action', ["'self'"]],
  ['frame-ancestors', ["'none'"]],
  ['base-uri', ["'none'"]],
  ['object-src', ["'none'"]],
];

export function contentSecurityPolicy(styleNonce?: string): string {
  return DIRECTIVES.map(([name, sources]) =>
    [name, ...sources, ...(name === 'style-src' && styleNonce ? [`'nonce-${styleNonce}'`] : [])].join(' '),
  ).join(';');
}

const STATIC_POLICY = contentSecurityPolicy();
// The policy with a nonce, as the text around it.
const [BEFORE_NONCE, AFTER_NONCE] = contentSecurityPolicy('\0').split('\0') as [string, string];
const STYLE_NONCE = Symbol('styleNonce');

// 128 random bits per nonce, drawn from a buffer refilled 256 nonces at a time: a randomBytes
// call per page was 7% of the dashboard's CPU in `npm run bench` (crypto.randomUUID pools its
// randomness the same way).
const NONCE_BYTES = 16;
const noncePool = Buffer.alloc(NONCE_BYTES * 256);
let noncePoolOffset = noncePool.length;

function nextNonce(): string {
  if (noncePoolOffset === noncePool.length) {
    randomFillSync(noncePool);
    noncePoolOffset = 0;
  }
  const nonce = noncePool.toString('base64', noncePoolOffset, noncePoolOffset + NONCE_BYTES);
  noncePoolOffset += NONCE_BYTES;
  return nonce;
}

/** Every answer carries the policy; a page with an inline <style> gets its nonce added by `styleNonce`. */
export function registerContentSecurityPolicy(server: FastifyInstance): void {
  server.addHook('onRequest', (_request, reply, done) => {
    reply.header('content-security-policy', STATIC_POLICY);
    done();
  });
}

/** This response's style nonce, made (and named in its policy) the first time a page asks. */
export function styleNonce(reply: FastifyReply): string {
  const holder = reply as FastifyReply & { [STYLE_NONCE]?: string };
  let nonce = holder[STYLE_NONCE];
  if (!nonce) {
    nonce = nextNonce();
    holder[STYLE_NONCE] = nonce;
    reply.header('content-security-policy', BEFORE_NONCE + nonce + AFTER_NONCE);
  }
  return nonce;
}
