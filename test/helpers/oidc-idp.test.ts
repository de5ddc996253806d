import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { followIdp, startTestIdp, testCa, trustTestCa, type IdpKind, type TestIdp } from './oidc-idp.ts';

// The harness against openid-client v6 directly (not the app): discovery, code flow with PKCE,
// state and nonce, the claims each kind puts in the ID token, and tampered ID tokens.

const redirectUri = 'https://localhost:9999/cb';
const clientId = 'haven-test';
const clientSecret = 'haven-test-secret-0123456789';

async function signIn(
  idp: TestIdp,
  options: { clientAuthentication?: client.ClientAuth; nonRepudiation?: boolean } = {},
) {
  const config = await client.discovery(new URL(idp.issuer), clientId, clientSecret, options.clientAuthentication);
  if (options.nonRepudiation) client.enableNonRepudiationChecks(config);
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const callbackUrl = await followIdp(authorizationUrl.href, redirectUri);
  const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  return { config, callbackUrl, nonce, claims: tokens.claims() };
}

describe('test OIDC IdP', () => {
  const idps = new Map<IdpKind, TestIdp>();
  const tenantId = '11111111-2222-3333-4444-555555555555';

  beforeAll(async () => {
    trustTestCa(await testCa());
    const clients = [{ clientId, clientSecret, redirectUris: [redirectUri] }];
    for (const kind of ['okta', 'entra', 'google'] as const) {
      idps.set(kind, await startTestIdp({ kind, clients, ...(kind === 'entra' ? { tenantId } : {}) }));
    }
  });
  afterAll(async () => {
    await Promise.all([...idps.values()].map((idp) => idp.close()));
  });
  const idp = (kind: IdpKind) => idps.get(kind)!;

  it('okta: signs in with the code flow (client_secret_post, openid-client’s default)', async () => {
    const okta = idp('okta');
    expect(okta.issuer).toMatch(/^https:\/\/localhost:\d+$/);
    okta.nextLogin({ sub: 'okta-user-1', email: 'ada@example.org', email_verified: true, name: 'Ada' });
    const { claims, callbackUrl, nonce } = await signIn(okta);
    expect(new URL(callbackUrl).searchParams.get('iss')).toBe(okta.issuer);
    expect(claims).toMatchObject({
      iss: okta.issuer,
      aud: clientId,
      sub: 'okta-user-1',
      email: 'ada@example.org',
      email_verified: true,
      name: 'Ada',
      nonce,
      amr: ['pwd'],
    });
    expect(claims?.auth_time).toEqual(expect.any(Number));
    expect(claims).not.toHaveProperty('hd');
    expect(claims).not.toHaveProperty('tid');
    expect(okta.tokenRequests()).toBe(1);
  });

  it('entra: the issuer has the tenant path, and tid/oid are in the ID token', async () => {
    const entra = idp('entra');
    expect(entra.issuer).toMatch(new RegExp(`^https://localhost:\\d+/${tenantId}/v2\\.0$`));
    entra.nextLogin({ sub: 'entra-sub', email: 'grace@example.org', oid: 'object-id-1' }, { amr: ['pwd', 'mfa'] });
    const { config, claims } = await signIn(entra);
    const metadata = config.serverMetadata();
    expect(metadata.authorization_endpoint).toBe(`${entra.issuer}/auth`);
    expect(metadata.token_endpoint).toBe(`${entra.issuer}/token`);
    expect(metadata.jwks_uri).toBe(`${entra.issuer}/jwks`);
    expect(claims).toMatchObject({
      iss: entra.issuer,
      sub: 'entra-sub',
      email: 'grace@example.org',
      tid: tenantId,
      oid: 'object-id-1',
      amr: ['pwd', 'mfa'],
    });
  });

  it('google: hd is in the ID token (client_secret_basic), and nextLogin switches the account', async () => {
    const google = idp('google');
    google.nextLogin({ sub: 'g-1', email: 'alan@example.edu', email_verified: true, hd: 'example.edu' });
    const first = await signIn(google, { clientAuthentication: client.ClientSecretBasic() });
    expect(first.claims).toMatchObject({ sub: 'g-1', email: 'alan@example.edu', hd: 'example.edu', amr: ['pwd'] });
    google.nextLogin({ sub: 'g-2', email: 'kurt@gmail.com', email_verified: false });
    const second = await signIn(google, { clientAuthentication: client.ClientSecretBasic() });
    expect(second.claims).toMatchObject({ sub: 'g-2', email: 'kurt@gmail.com', email_verified: false });
    expect(second.claims).not.toHaveProperty('hd');
  });

  it('without PKCE the IdP answers the redirect URI with an error and never reaches the token endpoint', async () => {
    const okta = idp('okta');
    okta.nextLogin({ sub: 'okta-user-1' });
    const before = okta.tokenRequests();
    const config = await client.discovery(new URL(okta.issuer), clientId, clientSecret);
    const url = client.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid', state: 's' });
    const callbackUrl = new URL(await followIdp(url.href, redirectUri));
    expect(callbackUrl.searchParams.get('error')).toBe('invalid_request');
    expect(okta.tokenRequests()).toBe(before);
  });

  it('followIdp throws with the error page when the client is unknown', async () => {
    const okta = idp('okta');
    const url = `${okta.issuer}/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(redirectUri)}`;
    await expect(followIdp(url, redirectUri)).rejects.toThrow(/invalid_client/);
  });

  it('a tampered aud is rejected by openid-client', async () => {
    const okta = idp('okta');
    okta.nextLogin({ sub: 'okta-user-1', email: 'ada@example.org' });
    okta.tamperIdTokens((claims) => ({ ...claims, aud: 'someone-else' }));
    try {
      const error = await signIn(okta).catch((caught: unknown) => caught);
      // openid-client's ClientError wraps oauth4webapi's error, whose cause names the claim.
      expect(error).toMatchObject({ code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', cause: { cause: { claim: 'aud' } } });
    } finally {
      okta.tamperIdTokens(null);
    }
    await expect(signIn(okta)).resolves.toBeTruthy();
  });

  it('a signature by a key the IdP does not publish is rejected with non-repudiation checks (and only then)', async () => {
    const google = idp('google');
    google.nextLogin({ sub: 'g-1', email: 'alan@example.edu', hd: 'example.edu' });
    google.tamperIdTokens((claims) => claims, { signWith: 'stranger' });
    try {
      const error = await signIn(google, { nonRepudiation: true }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(client.ClientError);
      expect((error as Error).cause).toMatchObject({ message: 'JWT signature verification failed' });
      // openid-client v6 does not verify the ID token's signature by default (it came straight
      // from the token endpoint over TLS): the app must call enableNonRepudiationChecks.
      await expect(signIn(google)).resolves.toBeTruthy();
    } finally {
      google.tamperIdTokens(null);
    }
    await expect(signIn(google, { nonRepudiation: true })).resolves.toBeTruthy();
  });
});
