// The OpenID Connect exchange with a provider, through openid-client: discovery (kept an hour),
// the authorization request (state, nonce and PKCE, always), and the callback: the code
// redeemed with the verifier, the ID token checked for issuer, audience, expiry, nonce and, with
// non-repudiation checks on, its signature against the provider's published keys. Haven's clock
// (app.clock) is openid-client's clock, so that expiry follows the same time as everything else.
//
// An issuer behind a private CA: Node's fetch trusts the certificates in NODE_EXTRA_CA_CERTS
// (docs/OPERATIONS.md).
import * as client from 'openid-client';
import type { App } from '../context.ts';

export interface ProviderForExchange {
  id: string;
  kind: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  hostedDomain: string | null;
}

interface Discovered {
  server: client.ServerMetadata;
  jwks?: client.ExportedJWKSCache;
  fetchedAt: number;
}

// What discovery found, per App (a second Haven in the same process, as tests run, has its own).
const discovered = new WeakMap<App, Map<string, Discovered>>();
const DISCOVERY_LIFETIME_MS = 60 * 60_000;
const REQUEST_TIMEOUT_S = 10;

async function configurationFor(app: App, provider: ProviderForExchange): Promise<{ config: client.Configuration; entry: Discovered }> {
  let cache = discovered.get(app);
  if (!cache) discovered.set(app, (cache = new Map()));
  const key = `${provider.id} ${provider.issuer} ${provider.clientId}`;
  const now = app.clock.now().getTime();
  let entry = cache.get(key);
  if (!entry || now - entry.fetchedAt > DISCOVERY_LIFETIME_MS) {
    const found = await client.discovery(new URL(provider.issuer), provider.clientId, undefined, undefined, { timeout: REQUEST_TIMEOUT_S });
    entry = { server: found.serverMetadata(), fetchedAt: now };
    cache.set(key, entry);
  }
  const config = new client.Configuration(
    entry.server,
    provider.clientId,
    { client_secret: provider.clientSecret, [client.clockSkew]: Math.round((now - Date.now()) / 1000) },
    client.ClientSecretBasic(provider.clientSecret),
  );
  config.timeout = REQUEST_TIMEOUT_S;
  client.enableNonRepudiationChecks(config);
  if (entry.jwks) client.setJwksCache(config, entry.jwks);
  return { config, entry };
}

/** Forgets what discovery found (a provider changed or was removed). */
export function forgetDiscovery(app: App): void {
  discovered.delete(app);
}

export interface AuthorizationRequest {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

export async function authorizationRequest(app: App, provider: ProviderForExchange, redirectUri: string): Promise<AuthorizationRequest> {
  const { config } = await configurationFor(app, provider);
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const parameters: Record<string, string> = {
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  };
  // Google shows only accounts of this domain; the `hd` claim is still checked on return.
  if (provider.kind === 'google' && provider.hostedDomain) parameters.hd = provider.hostedDomain;
  return { url: client.buildAuthorizationUrl(config, parameters).href, state, nonce, codeVerifier };
}

export type CallbackVerdict =
  | { ok: true; claims: Record<string, unknown> }
  | { ok: false; reason: 'provider_error' | 'token_refused' | 'response_invalid' | 'provider_unreachable'; detail: string };

/** Redeems the callback's code and verifies the ID token; never throws for what a provider or a browser sent. */
export async function redeemCallback(
  app: App,
  provider: ProviderForExchange,
  callbackUrl: URL,
  expected: { state: string; nonce: string; codeVerifier: string },
): Promise<CallbackVerdict> {
  let config: client.Configuration;
  let entry: Discovered;
  try {
    ({ config, entry } = await configurationFor(app, provider));
  } catch (error) {
    return { ok: false, reason: 'provider_unreachable', detail: describeError(error) };
  }
  try {
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: expected.codeVerifier,
      expectedState: expected.state,
      expectedNonce: expected.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) return { ok: false, reason: 'response_invalid', detail: 'no ID token' };
    return { ok: true, claims: { ...claims } };
  } catch (error) {
    if (error instanceof client.AuthorizationResponseError) return { ok: false, reason: 'provider_error', detail: describeError(error) };
    if (error instanceof client.ResponseBodyError) return { ok: false, reason: 'token_refused', detail: describeError(error) };
    if (error instanceof client.ClientError && /fetch|network|timeout|ECONN|certificate/i.test(`${error.code} ${error.message} ${String(error.cause)}`))
      return { ok: false, reason: 'provider_unreachable', detail: describeError(error) };
    return { ok: false, reason: 'response_invalid', detail: describeError(error) };
  } finally {
    const jwks = client.getJwksCache(config);
    if (jwks) entry.jwks = jwks;
  }
}

/** An error as one line for the audit log and the server log, with what caused it (fetch hides a refused certificate in its cause). */
export function describeError(error: unknown): string {
  if (error instanceof client.AuthorizationResponseError || error instanceof client.ResponseBodyError) return `${error.error}${error.error_description ? `: ${error.error_description}` : ''}`.slice(0, 300);
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e));
  }
  return (parts.join(' <- ') || 'unknown error').slice(0, 300);
}
