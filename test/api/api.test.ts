// The API of DESIGN §1.7 and §2.4 as attacks, on both databases: the token's lifecycle, an
// account deactivated under a live token, case access through the API, SSN digits, the error
// shapes, rate limits, location rules, and the audit of every call.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, type TestHaven } from '../helpers/app.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { call, tokenFor } from './helpers.ts';

describe.each(DB_KINDS)('API v1 (%s)', (kind) => {
  let haven: TestHaven;
  const tokens: Record<string, string> = {};

  const ok = async (...argv: string[]) => {
    const result = await runCommand(haven.app, { argv });
    expect(result.code, `${argv.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const api = (method: string, url: string, token: string | null, body?: unknown, ip?: string) => call(haven.server, method, url, { token, body, ip });
  const auditRows = (action: string) =>
    haven.app.database.rows<{ actor_login: string; target: string; ip: string; details: Record<string, unknown> }>(
      sql`SELECT actor_login, target, ip, details FROM audit_log WHERE action = ${action} ORDER BY seq`,
    );

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('root', 'Site Administrator');
    await haven.createUser('integ', 'API Client');
    await haven.createUser('ann', 'Attorney');
    await haven.createUser('sue', 'Supervisor');
    await haven.createUser('ida', 'Intake Worker');
    for (const p of ['cases_create', 'cases_view_assigned', 'cases_edit']) await ok('roles', 'grant', 'API Client', p, '--set', 'internal');
    await ok('roles', 'grant', 'Attorney', 'api_access', '--set', 'internal');
    await ok('roles', 'grant', 'Supervisor', 'api_access', '--set', 'both');
    await ok('roles', 'grant', 'Supervisor', 'admin_users', '--set', 'internal');
    for (const login of ['integ', 'ann', 'sue']) tokens[login] = (await tokenFor(haven, login, `${login} sync`)).token;
  });
  afterAll(async () => {
    await haven?.close();
  });

  test('the token lifecycle: shown once, stored hashed, listed with its last use, revocable', async () => {
    const { token, browser } = await tokenFor(haven, 'integ', 'Lifecycle');
    // Shown once: the page again does not show it.
    expect((await browser.get('/preferences?done=token-created')).body).not.toContain('id="new-token"');
    // Only a hash is stored: the token appears nowhere in the database.
    const [found] = await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM api_tokens WHERE token_hash = ${token}`);
    expect(found!.n).toBe(0);
    const me = await api('GET', '/api/v1/me', token, undefined, '198.51.100.23');
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ login: 'integ', role: 'API Client' });
    const page = await browser.get('/preferences');
    expect(page.body).toMatch(/Lifecycle<\/th><td>[^<]*<\/td><td>Expires [^<]*<\/td><td>[^<]*UTC from 198\.51\.100\.23/);
    // Revoked from the page: the next call is refused, and the refusal is audited.
    const id = /Lifecycle<\/th>(?:(?!<\/tr>)[^])*action="\/preferences\/api-tokens\/([0-9a-f-]{36})\/revoke"/.exec(page.body)?.[1];
    expect(id).toBeDefined();
    const revoke = await browser.post(`/preferences/api-tokens/${id}/revoke`, {});
    expect(revoke.status).toBe(303);
    const after = await api('GET', '/api/v1/me', token);
    expect(after.status).toBe(401);
    expect(after.json).toEqual({ error: 'token_revoked' });
    expect((await auditRows('api.refused')).at(-1)).toMatchObject({ actor_login: 'integ', details: { token: 'Lifecycle', reason: 'revoked' } });
    // Another user cannot revoke someone else's token.
    const other = haven.client();
    await other.login('ann', 'tulip7orbit-haven');
    await other.get('/preferences');
    expect((await other.post(`/preferences/api-tokens/${id}/revoke`, {})).status).toBe(404);
  });

  test('a role without API Access has no token section and cannot make one', async () => {
    const browser = haven.client();
    await browser.login('ida', 'tulip7orbit-haven');
    expect((await browser.get('/preferences')).body).not.toContain('id="api-tokens"');
    expect((await browser.post('/preferences/api-tokens', { token_name: 'sneaky' })).status).toBe(403);
    expect(await haven.app.database.rows(sql`SELECT 1 FROM api_tokens WHERE name = 'sneaky'`)).toHaveLength(0);
  });

  test('the token form: errors beside the field, and a token needs a recent sign-in', async () => {
    const browser = haven.client();
    await browser.login('integ', 'tulip7orbit-haven');
    await browser.get('/preferences');
    const bad = await browser.post('/preferences/api-tokens', { token_name: '', expires_in_days: '400' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/id="token_name-error"/);
    expect(bad.body).toMatch(/id="expires_in_days-error"[^>]*>Enter whole days from 1 to 365/);
    haven.clock.advance(6 * 60_000);
    const stale = await browser.post('/preferences/api-tokens', { token_name: 'Later' });
    expect(stale.status).toBe(303);
    expect(stale.location).toMatch(/^\/reauth\?next=/);
  });

  test('a token expires on its day (manual clock)', async () => {
    const { token } = await tokenFor(haven, 'integ', 'One day', { days: '1' });
    expect((await api('GET', '/api/v1/me', token)).status).toBe(200);
    haven.clock.advance(24 * 3600_000 + 1000);
    const expired = await api('GET', '/api/v1/me', token);
    expect(expired.status).toBe(401);
    expect(expired.json).toEqual({ error: 'token_expired' });
  });

  test('Login Active = No kills a token at its next call, and reactivation does not revive it', async () => {
    await haven.createUser('temp', 'API Client');
    const { token } = await tokenFor(haven, 'temp', 'Temp');
    expect((await api('GET', '/api/v1/me', token)).status).toBe(200);
    await ok('users', 'set-active', 'temp', 'no');
    const dead = await api('GET', '/api/v1/me', token);
    expect(dead.status).toBe(401);
    await ok('users', 'set-active', 'temp', 'yes');
    expect((await api('GET', '/api/v1/me', token)).status).toBe(401);
    // Deactivation from Admin > Users does the same, even mid-flight with another token.
    const { token: second } = await tokenFor(haven, 'temp', 'Temp 2');
    await haven.app.db.execute(sql`UPDATE users SET login_active = false WHERE login = 'temp'`);
    expect((await api('GET', '/api/v1/me', second)).json).toEqual({ error: 'account_inactive' });
  });

  test('no token, a malformed one, a cookie instead of a token: 401, and CSRF is no way in either', async () => {
    const none = await api('GET', '/api/v1/me', null);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect((await call(haven.server, 'GET', '/api/v1/me', { headers: { authorization: 'Bearer not-a-token' } })).status).toBe(401);
    expect((await call(haven.server, 'GET', '/api/v1/me', { headers: { authorization: `Basic ${tokens.integ}` } })).status).toBe(401);
    const guessed = `hvn_${'A'.repeat(43)}`;
    expect((await api('GET', '/api/v1/me', guessed)).json).toEqual({ error: 'unauthorized' });
    // A signed-in browser's cookie is not a credential for the API.
    const browser = haven.client();
    await browser.login('ann', 'tulip7orbit-haven');
    const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const withCookie = await call(haven.server, 'POST', '/api/v1/clients', { body: { first_name: 'Csrf', last_name: 'Victim' }, headers: { cookie } });
    expect(withCookie.status).toBe(401);
    expect(await haven.app.database.rows(sql`SELECT 1 FROM clients WHERE first_name = 'Csrf'`)).toHaveLength(0);
  });

  test('clients, cases, notes and search; a case the caller may not see is a 404 everywhere', async () => {
    const client = await api('POST', '/api/v1/clients', tokens.ann!, { first_name: 'Rosa', last_name: 'Delgado', date_of_birth: '1979-04-02', ssn: '123-45-6789' });
    expect(client.status).toBe(201);
    const made = await api('POST', '/api/v1/cases', tokens.ann!, { client_id: client.json.id, problem_code: '63', adverse_parties: ['Harbor View Properties LLC'] });
    expect(made.status).toBe(201);
    expect(made.json.number).toMatch(/^\d{2}-\d{6}$/);
    const caseId = made.json.id as string;
    const read = await api('GET', `/api/v1/cases/${caseId}`, tokens.ann!);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ number: made.json.number, disposition: 'pending', client: { first_name: 'Rosa', ssn: '***-**-6789', date_of_birth: '1979-04-02' }, adverse_parties: ['Harbor View Properties LLC'] });
    // ssn_view_full sees the number, and that showing is audited.
    expect((await api('GET', `/api/v1/cases/${caseId}`, tokens.sue!)).json).toMatchObject({ client: { ssn: '123-45-6789' } });
    expect((await auditRows('ssn.view_full')).at(-1)).toMatchObject({ actor_login: 'sue', target: made.json.number });
    expect((await api('POST', `/api/v1/cases/${caseId}/notes`, tokens.ann!, { text: 'Called the landlord.' })).status).toBe(201);
    const search = await api('GET', '/api/v1/cases?q=Delgado', tokens.ann!);
    expect(search.json).toEqual({ items: [{ id: caseId, number: made.json.number, client_name: 'Rosa Delgado', disposition: 'pending' }] });

    // integ sees only assigned cases: this one is a 404 by id, absent from search, and closed to notes.
    expect(await api('GET', `/api/v1/cases/${caseId}`, tokens.integ!)).toMatchObject({ status: 404, json: { error: 'not_found' } });
    expect((await api('GET', '/api/v1/cases/00000000-0000-4000-8000-000000000000', tokens.integ!)).status).toBe(404);
    expect((await api('GET', '/api/v1/cases/not-a-uuid', tokens.integ!)).status).toBe(404);
    expect((await api('GET', `/api/v1/cases?q=${made.json.number}`, tokens.integ!)).json).toEqual({ items: [] });
    expect((await api('GET', '/api/v1/cases?q=Rosa%20Delgado', tokens.integ!)).json).toEqual({ items: [] });
    expect((await api('POST', `/api/v1/cases/${caseId}/notes`, tokens.integ!, { text: 'sneaky' })).status).toBe(404);
    // Nor can integ reach the client by opening a case of its own for her: "no such client".
    const hijack = await api('POST', '/api/v1/cases', tokens.integ!, { client_id: client.json.id, problem_code: '63' });
    expect(hijack).toMatchObject({ status: 400, json: { error: 'invalid_input', fields: { client_id: 'No such client.' } } });
    // Its own client, new, is fine, and its case is its own.
    const own = await api('POST', '/api/v1/clients', tokens.integ!, { first_name: 'Tomas', last_name: 'Berg' });
    const ownCase = await api('POST', '/api/v1/cases', tokens.integ!, { client_id: own.json.id, problem_code: '63' });
    expect(ownCase.status).toBe(201);
    expect((await api('GET', `/api/v1/cases/${ownCase.json.id}`, tokens.integ!)).status).toBe(200);
    // The denied read is audited like a page's.
    expect((await auditRows('case.view_denied')).some((r) => r.actor_login === 'integ' && r.target === caseId)).toBe(true);
  });

  test('a full SSN under ssn_digits=last4 is refused with 400 naming the field', async () => {
    await ok('settings', 'set', 'ssn_digits', 'last4');
    try {
      for (const ssn of ['123-45-6789', '123456789', '123 45 6789']) {
        const refused = await api('POST', '/api/v1/clients', tokens.ann!, { first_name: 'Full', last_name: 'Number', ssn });
        expect(refused.status, ssn).toBe(400);
        expect(Object.keys(refused.json.fields as object), ssn).toEqual(['ssn']);
      }
      expect(await haven.app.database.rows(sql`SELECT 1 FROM clients WHERE last_name = 'Number'`)).toHaveLength(0);
      expect((await api('POST', '/api/v1/clients', tokens.ann!, { first_name: 'Four', last_name: 'Digits', ssn: '6789' })).status).toBe(201);
    } finally {
      await ok('settings', 'set', 'ssn_digits', 'full');
    }
  });

  test('errors are JSON: 400 names each bad field, 403 without the permission, 404 for an unknown route', async () => {
    const bad = await api('POST', '/api/v1/clients', tokens.ann!, { first_name: '', last_name: 7, date_of_birth: '1999-02-30', extra: true });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('invalid_input');
    expect(Object.keys(bad.json.fields as object)).toContain('last_name');
    const badService = await api('POST', '/api/v1/clients', tokens.ann!, { first_name: '', last_name: 'X', date_of_birth: '1999-02-30' });
    expect(badService.json).toMatchObject({ error: 'invalid_input', fields: { first_name: expect.any(String), date_of_birth: 'This date does not exist.' } });
    const badCase = await api('POST', '/api/v1/cases', tokens.ann!, { client_id: 'x', problem_code: '63' });
    expect(badCase).toMatchObject({ status: 400, json: { fields: { client_id: expect.any(String) } } });
    const notJson = await call(haven.server, 'POST', '/api/v1/clients', { token: tokens.ann!, raw: { payload: '{"first_name": ', contentType: 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.json.error).toBeDefined();
    expect(notJson.body).not.toMatch(/at \w+ \(|node_modules/);
    expect(await api('GET', '/api/v1/users', tokens.ann!)).toMatchObject({ status: 403, json: { error: 'forbidden' } });
    expect((await api('GET', '/api/v1/nothing-here', tokens.ann!)).json).toEqual({ error: 'not_found' });
    const users = await api('GET', '/api/v1/users', tokens.sue!);
    expect(users.status).toBe(200);
    expect((users.json.items as { login: string }[]).map((u) => u.login)).toContain('integ');
    const report = await api('GET', '/api/v1/reports/users', tokens.sue!);
    expect(report.status).toBe(200);
    expect((await auditRows('report.users.export')).at(-1)).toMatchObject({ actor_login: 'sue', details: { format: 'json' } });
  });

  test('every call is audited with the token name', async () => {
    const before = (await auditRows('api.call')).length;
    await api('GET', '/api/v1/me', tokens.ann!, undefined, '192.0.2.77');
    await api('GET', '/api/v1/users', tokens.ann!);
    const rows = (await auditRows('api.call')).slice(before);
    expect(rows).toEqual([
      expect.objectContaining({ actor_login: 'ann', target: 'GET /api/v1/me', ip: '192.0.2.77', details: { token: 'ann sync', status: 200 } }),
      expect.objectContaining({ actor_login: 'ann', target: 'GET /api/v1/users', details: { token: 'ann sync', status: 403 } }),
    ]);
  });

  test('location rules apply to tokens: the set for the caller\'s network, and Login for it', async () => {
    await ok('locations', 'add', '--name', 'Office', '--cidr', '10.0.0.0/8', '--internal');
    try {
      expect((await api('GET', '/api/v1/me', tokens.integ!, undefined, '10.1.1.1')).status).toBe(200);
      // API Client's external set has api_access but not login_external: refused from outside.
      const outside = await api('GET', '/api/v1/me', tokens.integ!, undefined, '203.0.113.50');
      expect(outside).toMatchObject({ status: 403, json: { error: 'login_not_allowed_here' } });
      // Supervisor's external set: login and api_access, but no case permissions there.
      await ok('roles', 'grant', 'Supervisor', 'login_external', '--set', 'external');
      expect((await api('GET', '/api/v1/me', tokens.sue!, undefined, '203.0.113.51')).status).toBe(200);
      expect((await api('GET', '/api/v1/cases?q=Delgado', tokens.sue!, undefined, '203.0.113.51')).status).toBe(403);
      expect((await api('GET', '/api/v1/cases?q=Delgado', tokens.sue!, undefined, '10.2.2.2')).status).toBe(200);
    } finally {
      await ok('locations', 'remove', 'Office');
      await ok('roles', 'revoke', 'Supervisor', 'login_external', '--set', 'external');
    }
  });

  test('429 with Retry-After past the per-token limit; a new minute starts afresh', async () => {
    const { token } = await tokenFor(haven, 'integ', 'Flood');
    haven.clock.advance(60_000 - (haven.clock.now().getTime() % 60_000) + 1000);
    let refused: Awaited<ReturnType<typeof api>> | undefined;
    for (let batch = 0; batch < haven.app.config.apiRateLimits.perToken / 50 + 1 && !refused; batch++) {
      const answers = await Promise.all(Array.from({ length: 50 }, () => api('GET', '/api/v1/me', token, undefined, `198.51.100.${batch}`)));
      refused = answers.find((a) => a.status === 429);
    }
    expect(refused).toBeDefined();
    expect(refused!.json).toEqual({ error: 'too_many_requests' });
    expect(Number(refused!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused!.headers['retry-after'])).toBeLessThanOrEqual(60);
    // Calls refused with 429 are not audited one by one.
    const audited = (await auditRows('api.call')).filter((r) => r.details.token === 'Flood');
    expect(audited.length).toBeLessThanOrEqual(haven.app.config.apiRateLimits.perToken);
    haven.clock.advance(61_000);
    expect((await api('GET', '/api/v1/me', token)).status).toBe(200);
  });
});
