import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { Agent, request } from 'undici';
import { makeHavenDataDir, runHaven, startHavenProcess, type HavenDataDir, type HavenProcess } from '../helpers/cli.ts';
import { startTestIdp, testCa, type TestCa, type TestIdp } from '../helpers/oidc-idp.ts';

// The documented way to trust an issuer behind a private CA (src/sso/oidc.ts, docs/OPERATIONS.md):
// NODE_EXTRA_CA_CERTS. The real `haven start` process, an Okta-like IdP (oidc-provider over
// HTTPS, certificate from the test CA) in this test process: without the variable Haven cannot
// fetch the IdP's discovery document and says so on the login page (502); with it, the sign-in
// starts and the browser is sent to the IdP's authorization endpoint with PKCE.

const SECRET = 'client-secret-for-haven-0123456789';

describe('an issuer behind a private CA, trusted through NODE_EXTRA_CA_CERTS', () => {
  let ca: TestCa;
  let idp: TestIdp;
  let data: HavenDataDir;
  let baseUrl: string;
  let server: HavenProcess | undefined;
  // Haven's own certificate is self-signed: this client does not check it (the IdP's is not its concern).
  const insecure = new Agent({ connect: { rejectUnauthorized: false } });

  beforeAll(async () => {
    [ca, data] = await Promise.all([testCa(), makeHavenDataDir({ template: inject('pgliteTemplateDir') })]);
    // loadConfig's default base URL: https://localhost:<HAVEN_HTTPS_PORT>.
    baseUrl = `https://localhost:${data.env.HAVEN_HTTPS_PORT}`;
    idp = await startTestIdp({ kind: 'okta', clients: [{ clientId: 'haven-okta', clientSecret: SECRET, redirectUris: [`${baseUrl}/login/sso/okta/callback`] }] });
    const added = await runHaven(['sso', 'add', 'okta', '--kind', 'okta', '--issuer', idp.issuer, '--client-id', 'haven-okta', '--client-secret-stdin'], { env: data.env, stdin: `${SECRET}\n` });
    expect(added.code, `stdout: ${added.stdout}\nstderr: ${added.stderr}`).toBe(0);
    const policy = await runHaven(['sso', 'policy', 'enabled'], { env: data.env });
    expect(policy.code, `stdout: ${policy.stdout}\nstderr: ${policy.stderr}`).toBe(0);
  });
  afterAll(async () => {
    await server?.kill('SIGKILL');
    await idp?.close();
    await insecure.close();
    data?.cleanup();
  });

  /** Starts `haven start` on the data dir with `extraCaCerts` as NODE_EXTRA_CA_CERTS (or without it). */
  async function start(extraCaCerts: string | undefined): Promise<HavenProcess> {
    const env = { ...data.env };
    delete env.NODE_EXTRA_CA_CERTS;
    if (extraCaCerts !== undefined) env.NODE_EXTRA_CA_CERTS = extraCaCerts;
    server = startHavenProcess(env);
    await server.ready;
    return server;
  }

  /** Stops the server started by the test (SIGTERM: a clean exit, which frees the data dir for the next start). */
  afterEach(async () => {
    if (!server) return;
    const stopping = server;
    server = undefined;
    const exited = await stopping.kill('SIGTERM');
    expect(exited.code, `stdout: ${stopping.stdout()}\nstderr: ${stopping.stderr()}`).toBe(0);
  });

  function startSignIn() {
    return request(`${baseUrl}/login/sso/okta`, { method: 'GET', dispatcher: insecure });
  }

  test('without NODE_EXTRA_CA_CERTS the provider cannot be reached: 502 and the login page says so', async () => {
    await start(undefined);
    const answer = await startSignIn();
    const body = await answer.body.text();
    expect(answer.statusCode, body.slice(0, 500)).toBe(502);
    expect(answer.headers['content-type']).toMatch(/^text\/html/);
    expect(body).toContain('The identity provider could not be reached. Try again in a moment.');
    expect(body).toMatch(/<p role="alert"[^>]*>The identity provider could not be reached/);
    // Still the login page: the Okta button to try again, and the password form.
    expect(body).toContain('href="/login/sso/okta"');
    expect(body).toContain('name="password"');
    expect(answer.headers.location).toBeUndefined();
    // No sign-in was started: no flow cookie.
    const cookies = [answer.headers['set-cookie'] ?? []].flat();
    expect(cookies.filter((c) => c.startsWith('__Host-haven_sso='))).toEqual([]);
    // The operator's log says which provider failed.
    const warning = () => server!.stdout().split('\n').find((line) => line.includes('sso: the provider could not be reached'));
    await expect.poll(warning).toBeDefined();
    expect(JSON.parse(warning()!)).toMatchObject({ level: 40, provider: 'okta' });
    // …and why: the certificate fetch hides in its cause, which is what tells an operator to set NODE_EXTRA_CA_CERTS.
    expect(JSON.parse(warning()!).err).toMatch(/certificate/i);
  }, 60_000);

  test('with NODE_EXTRA_CA_CERTS=<the CA file> the sign-in starts: 303 to the authorization endpoint, with PKCE', async () => {
    await start(ca.caFile);
    const answer = await startSignIn();
    const body = await answer.body.text();
    expect(answer.statusCode, body.slice(0, 500)).toBe(303);
    const location = answer.headers.location;
    expect(typeof location).toBe('string');
    expect(location as string).toMatch(new RegExp(`^${idp.issuer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/`));
    const authorization = new URL(location as string);
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('code_challenge')?.length).toBeGreaterThanOrEqual(43);
    expect(authorization.searchParams.get('client_id')).toBe('haven-okta');
    expect(authorization.searchParams.get('response_type')).toBe('code');
    expect(authorization.searchParams.get('redirect_uri')).toBe(`${baseUrl}/login/sso/okta/callback`);
    for (const p of ['state', 'nonce']) expect(authorization.searchParams.get(p)?.length).toBeGreaterThanOrEqual(22);
    expect(server!.stdout()).not.toContain('sso: the provider could not be reached');
    const cookies = [answer.headers['set-cookie'] ?? []].flat();
    expect(cookies.some((c) => c.startsWith('__Host-haven_sso='))).toBe(true);
    // The endpoint is the IdP's own (from discovery): it answers, not with an error page.
    const trusting = new Agent({ connect: { ca: ca.caPem } });
    try {
      const atIdp = await request(authorization, { method: 'GET', dispatcher: trusting });
      await atIdp.body.dump();
      expect(atIdp.statusCode).toBeGreaterThanOrEqual(300);
      expect(atIdp.statusCode).toBeLessThan(400);
      expect(atIdp.headers.location).toMatch(/\/interaction\//);
    } finally {
      await trusting.close();
    }
  }, 60_000);
});
