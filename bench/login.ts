// A browser-like password login over HTTPS with undici: GET /login for the CSRF cookie and
// token, then POST /login, each login with its own (fresh) cookie jar.
import { Agent, request } from 'undici';

export const SESSION_COOKIE = '__Host-haven_session';
export const CSRF_COOKIE = '__Host-haven_csrf';

/** Self-signed certificate: the benchmark talks to its own server. */
export function insecureAgent(): Agent {
  return new Agent({ connect: { rejectUnauthorized: false } });
}

export class CookieJar {
  readonly cookies = new Map<string, string>();

  store(setCookie: string | string[] | undefined): void {
    for (const line of setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /;\s*max-age=0\b/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export interface LoginOptions {
  baseUrl: string;
  agent: Agent;
  login: string;
  password: string;
  /** Sent as X-Forwarded-For (the server trusts 127.0.0.1 as a proxy). */
  forwardedFor?: string;
  signal?: AbortSignal;
}

export type LoginResult = { ok: true; jar: CookieJar } | { ok: false; status: number; step: 'form' | 'submit'; detail: string };

const CSRF_INPUT = /name="_csrf"[^>]*?value="([^"]+)"/;

export async function fullLogin(options: LoginOptions): Promise<LoginResult> {
  const jar = new CookieJar();
  const extra: Record<string, string> = options.forwardedFor ? { 'x-forwarded-for': options.forwardedFor } : {};
  const form = await request(`${options.baseUrl}/login`, { dispatcher: options.agent, headers: extra, signal: options.signal });
  const html = await form.body.text();
  jar.store(form.headers['set-cookie']);
  const token = CSRF_INPUT.exec(html)?.[1];
  if (form.statusCode !== 200 || !token || !jar.cookies.has(CSRF_COOKIE)) {
    return { ok: false, status: form.statusCode, step: 'form', detail: token ? 'no CSRF cookie' : 'no CSRF token in the form' };
  }
  const submitted = await request(`${options.baseUrl}/login`, {
    dispatcher: options.agent,
    method: 'POST',
    headers: { ...extra, 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    body: new URLSearchParams({ login: options.login, password: options.password, _csrf: token }).toString(),
    signal: options.signal,
  });
  await submitted.body.dump();
  jar.store(submitted.headers['set-cookie']);
  if (submitted.statusCode !== 303 || !jar.cookies.has(SESSION_COOKIE)) {
    return { ok: false, status: submitted.statusCode, step: 'submit', detail: jar.cookies.has(SESSION_COOKIE) ? 'not a redirect' : 'no session cookie' };
  }
  return { ok: true, jar };
}

/**
 * Password plus an authenticator-app code: the login above (answered with a redirect to
 * /login/mfa), then GET /login/mfa for its form and POST the current TOTP code.
 */
export async function fullTotpLogin(options: LoginOptions & { code: () => string }): Promise<LoginResult> {
  const first = await fullLogin(options);
  if (!first.ok) return first;
  const jar = first.jar;
  const form = await request(`${options.baseUrl}/login/mfa`, { dispatcher: options.agent, headers: { cookie: jar.header() }, signal: options.signal });
  const html = await form.body.text();
  jar.store(form.headers['set-cookie']);
  const token = CSRF_INPUT.exec(html)?.[1];
  if (form.statusCode !== 200 || !token) return { ok: false, status: form.statusCode, step: 'form', detail: 'no MFA form' };
  const submitted = await request(`${options.baseUrl}/login/mfa`, {
    dispatcher: options.agent,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    body: new URLSearchParams({ code: options.code(), _csrf: token }).toString(),
    signal: options.signal,
  });
  await submitted.body.dump();
  jar.store(submitted.headers['set-cookie']);
  if (submitted.statusCode !== 303 || submitted.headers.location !== '/') {
    return { ok: false, status: submitted.statusCode, step: 'submit', detail: `MFA step answered ${submitted.statusCode} ${String(submitted.headers.location ?? '')}` };
  }
  return { ok: true, jar };
}
