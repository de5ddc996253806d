import { Secret, TOTP } from 'otpauth';
import { expect } from 'vitest';
import type { TestClient, TestResponse } from './client.ts';
import type { TestHaven } from './app.ts';
import { answerTimes } from './wait.ts';

/** What an authenticator app shows at `when` (computed with otpauth, independently of Haven). */
export function appCode(secret: string, when: Date): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: when.getTime() });
}

export function manualKey(html: string): string {
  const key = /id="mfa-manual-key">([A-Z2-7]+)</.exec(html)?.[1];
  if (!key) throw new Error('no manual key on the page');
  return key;
}

export function recoveryCodes(html: string): string[] {
  return [...html.matchAll(/<code>([a-z2-9]{5}-[a-z2-9]{5})<\/code>/g)].map((m) => m[1]!);
}

export function sixDigitCode(text: string): string {
  const code = /\b(\d{6})\b/.exec(text)?.[1];
  if (!code) throw new Error(`no code in: ${text}`);
  return code;
}

/** Enrols the signed-in client with an authenticator app; returns the secret and the recovery codes. */
export async function enrolApp(haven: TestHaven, client: TestClient): Promise<{ secret: string; codes: string[] }> {
  await client.get('/mfa/enrol');
  expect((await client.post('/mfa/enrol', { method: 'app' })).location).toBe('/mfa/enrol');
  const secret = manualKey((await client.get('/mfa/enrol')).body);
  const confirmed = await client.post('/mfa/enrol/confirm', { code: appCode(secret, haven.clock.now()) });
  expect(confirmed.status).toBe(303);
  expect(confirmed.location).toBe('/mfa/recovery-codes');
  const codes = recoveryCodes((await client.get('/mfa/recovery-codes')).body);
  expect(codes).toHaveLength(10);
  return { secret, codes };
}

/**
 * Submits a code at /login/mfa and returns the answer. A wrong code is delayed on the manual
 * clock like a wrong password, so the post runs under answerTimes.
 */
export async function submitCode(haven: TestHaven, client: TestClient, code: string, url = '/login/mfa'): Promise<TestResponse> {
  await client.get(url.startsWith('/login/mfa') ? '/login/mfa' : '/mfa/enrol');
  let response: TestResponse | undefined;
  await answerTimes(haven.clock, [async () => (response = await client.post(url, { code }))], 120_000, 500);
  return response!;
}
