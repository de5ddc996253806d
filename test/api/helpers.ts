// Driving the API as an integration would: a token made on My Preferences, then JSON calls with
// `Authorization: Bearer`.
import { expect } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { TestClient } from '../helpers/client.ts';

export interface ApiAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
  body: string;
}

/** One API call. `body` is sent as JSON; `raw` as it is, with its own content type. */
export async function call(
  server: FastifyInstance,
  method: string,
  url: string,
  options: { token?: string | null; body?: unknown; raw?: { payload: string | Buffer; contentType: string }; ip?: string; headers?: Record<string, string> } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let payload: string | Buffer | undefined;
  if (options.raw) {
    headers['content-type'] = options.raw.contentType;
    payload = options.raw.payload;
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(options.body);
  }
  const r = await server.inject({ method: method as 'GET', url, headers, payload, remoteAddress: options.ip ?? '203.0.113.10' });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    json = {};
  }
  return { status: r.statusCode, headers: r.headers as ApiAnswer['headers'], json, body: r.body };
}

/** Signs in through the login form and makes a token on My Preferences; returns it and the browser. */
export async function tokenFor(haven: TestHaven, login: string, name = 'Integration', options: { days?: string; ip?: string } = {}): Promise<{ token: string; browser: TestClient }> {
  const browser = haven.client(options.ip ? { ip: options.ip } : {});
  const signedIn = await browser.login(login, TEST_PASSWORD);
  expect(signedIn.status, `login of ${login}`).toBe(303);
  await browser.get('/preferences');
  const made = await browser.post('/preferences/api-tokens', { token_name: name, expires_in_days: options.days ?? '' });
  expect(made.status, made.body.slice(0, 400)).toBe(303);
  expect(made.location).toBe('/preferences?done=token-created#api-tokens');
  const page = await browser.get(made.location!);
  const token = /id="new-token"[^>]*>([^<]+)</.exec(page.body)?.[1]?.trim();
  expect(token, 'the token is shown once').toMatch(/^hvn_[A-Za-z0-9_-]{43}$/);
  return { token: token!, browser };
}
