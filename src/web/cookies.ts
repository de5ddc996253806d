import type { FastifyReply, FastifyRequest } from 'fastify';
import { TRUSTED_DEVICE_MS } from '../security/mfa.ts';

// Every cookie Haven sets, with the one set of attributes DESIGN §1.2 asks for: sent over
// HTTPS only, out of reach of scripts, not on cross-site requests, for the whole site and this
// host only (the __Host- prefix makes the browser hold the server to that).

export const SESSION_COOKIE = '__Host-haven_session';
export const CSRF_COOKIE = '__Host-haven_csrf';
/** A browser that signed in to an account before (its own failure counter). */
export const DEVICE_COOKIE = '__Host-haven_device';
/** A browser that passed the MFA step in the last 24 hours (DESIGN §1.3 names it). */
export const MFA_DEVICE_COOKIE = 'mfa_daily_secret_key';

export const COOKIE_OPTIONS = { path: '/', secure: true, httpOnly: true, sameSite: 'lax' } as const;

const DEVICE_COOKIE_MAX_AGE_S = 400 * 24 * 3600;

/** The session cookie's token as the browser sent it ('' without one): values sealed for the session use it as their key. */
export function sessionCookieToken(request: FastifyRequest): string {
  return request.cookies[SESSION_COOKIE] ?? '';
}

export function setSessionCookie(reply: FastifyReply, token: string): void {
  reply.setCookie(SESSION_COOKIE, token, COOKIE_OPTIONS);
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, COOKIE_OPTIONS);
}

export function setDeviceCookie(reply: FastifyReply, token: string): void {
  reply.setCookie(DEVICE_COOKIE, token, { ...COOKIE_OPTIONS, maxAge: DEVICE_COOKIE_MAX_AGE_S });
}

/** Lives exactly as long as the server trusts the device: 24 hours from passing MFA. */
export function setMfaDeviceCookie(reply: FastifyReply, secret: string): void {
  reply.setCookie(MFA_DEVICE_COOKIE, secret, { ...COOKIE_OPTIONS, maxAge: TRUSTED_DEVICE_MS / 1000 });
}

export function clearMfaDeviceCookie(reply: FastifyReply): void {
  reply.clearCookie(MFA_DEVICE_COOKIE, COOKIE_OPTIONS);
}
