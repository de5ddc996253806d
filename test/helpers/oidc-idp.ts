import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { promisify } from 'node:util';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { Agent, getGlobalDispatcher, request, setGlobalDispatcher } from 'undici';

const run = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// The test CA
// ---------------------------------------------------------------------------------------------

export interface TestCa {
  /** The temp directory holding the files below (removed when the process exits). */
  dir: string;
  /** The CA certificate's PEM file, for NODE_EXTRA_CA_CERTS. */
  caFile: string;
  caPem: string;
  /** The server certificate (DNS:localhost, IP:127.0.0.1), signed by the CA. */
  certPem: string;
  /** The server certificate's private key. */
  keyPem: string;
}

let caPromise: Promise<TestCa> | undefined;

/**
 * A CA (openssl, EC P-256) and a server certificate for DNS:localhost and IP:127.0.0.1 signed by
 * it, written to a temp dir; caFile is the CA's PEM path (for NODE_EXTRA_CA_CERTS). Memoized per
 * process.
 */
export function testCa(): Promise<TestCa> {
  caPromise ??= makeTestCa().catch((error: unknown) => {
    caPromise = undefined;
    throw error;
  });
  return caPromise;
}

async function makeTestCa(): Promise<TestCa> {
  const dir = mkdtempSync(join(tmpdir(), 'haven-test-ca-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  const ecKey = (out: string) =>
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out);

  await Promise.all([ecKey(file('ca.key')), ecKey(file('server.key'))]);
  await openssl(
    'req', '-x509', '-new', '-key', file('ca.key'), '-sha256', '-days', '30',
    '-subj', `/CN=Haven test CA ${randomUUID()}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', file('ca.pem'),
  );
  await openssl('req', '-new', '-key', file('server.key'), '-subj', '/CN=localhost', '-out', file('server.csr'));
  writeFileSync(
    file('server.ext'),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '',
    ].join('\n'),
  );
  await openssl(
    'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-CAcreateserial', '-sha256', '-days', '30', '-extfile', file('server.ext'), '-out', file('server.pem'),
  );
  return {
    dir,
    caFile: file('ca.pem'),
    caPem: readFileSync(file('ca.pem'), 'utf8'),
    certPem: readFileSync(file('server.pem'), 'utf8'),
    keyPem: readFileSync(file('server.key'), 'utf8'),
  };
}

/** A dispatcher that trusts the system roots plus the test CA. */
function agentTrusting(ca: TestCa): Agent {
  return new Agent({ connect: { ca: [...rootCertificates, ca.caPem] } });
}

let trustedAgent: { caPem: string; agent: Agent } | undefined;

/**
 * Makes this process's global fetch (Node's built-in fetch, used by openid-client) trust the test
 * CA (plus the system roots), via undici's setGlobalDispatcher. Idempotent: calling it again
 * re-installs the same agent only if something else replaced it.
 */
export function trustTestCa(ca: TestCa): void {
  if (trustedAgent?.caPem !== ca.caPem) {
    trustedAgent = { caPem: ca.caPem, agent: agentTrusting(ca) };
  }
  if (getGlobalDispatcher() !== trustedAgent.agent) {
    setGlobalDispatcher(trustedAgent.agent);
  }
}

// ---------------------------------------------------------------------------------------------
// The identity provider
// ---------------------------------------------------------------------------------------------

export interface IdpAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  /** Only put in tokens by kind 'google'. */
  hd?: string;
  /** Only put in tokens by kind 'entra' (defaults to the IdP's tenantId there). */
  tid?: string;
  /** Only put in tokens by kind 'entra'. */
  oid?: string;
}

export interface IdpClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

export interface TestIdp {
  /**
   * The issuer URL, e.g. https://localhost:PORT (kind 'entra': https://localhost:PORT/<tenantId>/v2.0;
   * discovery works at <issuer>/.well-known/openid-configuration).
   */
  issuer: string;
  /** The tenant id in the issuer (kind 'entra' only). */
  tenantId?: string;
  /**
   * Who the next authorization request signs in as (automatically, no form), and the amr to put in
   * the ID token (default ['pwd']). Stays in effect until changed. The IdP never keeps a session
   * (no session cookie reaches the browser), so every authorization request signs in afresh.
   */
  nextLogin(account: IdpAccount, options?: { amr?: string[] }): void;
  /**
   * From now on, every ID token the token endpoint returns is replaced by one whose claims
   * `change` returns (given the original payload), signed by the IdP's own key (default) or by a
   * key the IdP does not publish ('stranger', same kid and alg). null restores normal behaviour.
   */
  tamperIdTokens(
    change: ((claims: Record<string, unknown>) => Record<string, unknown>) | null,
    options?: { signWith?: 'idp' | 'stranger' },
  ): void;
  /** How many token requests the IdP answered. */
  tokenRequests(): number;
  close(): Promise<void>;
}

export type IdpKind = 'okta' | 'entra' | 'google' | 'oidc';

/** The little of oidc-provider's API used here (the package ships no types). */
interface OidcProvider {
  proxy: boolean;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    options?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  Grant: {
    new (properties: { accountId: string; clientId: string }): OidcGrant;
    find(id: string): Promise<OidcGrant | undefined>;
  };
}
interface OidcGrant {
  addOIDCScope(scope: string): void;
  save(): Promise<string>;
}
interface InteractionDetails {
  uid: string;
  prompt: { name: string; reasons: string[] };
  params: Record<string, unknown>;
  grantId?: string;
}
interface KoaContext {
  status: number;
  body: unknown;
  type: string;
  oidc?: { route?: string };
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;

let providerClass: Promise<ProviderConstructor> | undefined;

/**
 * oidc-provider, imported once. On import it warns that Node 20 is not a supported runtime (it
 * wants 22+); that one line is dropped so test output stays clean. The specifier is a variable so
 * that TypeScript does not look for type declarations the package does not have.
 */
function loadProvider(): Promise<ProviderConstructor> {
  providerClass ??= (async () => {
    const specifier = 'oidc-provider';
    const original = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
      original(...args);
    };
    try {
      const module = (await import(specifier)) as { Provider: ProviderConstructor };
      return module.Provider;
    } finally {
      console.warn = original;
    }
  })();
  return providerClass;
}

interface StoredModel {
  payload: Record<string, unknown>;
  expiresAt: number | undefined;
}

/** oidc-provider's storage, in memory, one store per IdP (the built-in one warns on every start). */
function memoryAdapterFactory(): (name: string) => Record<string, unknown> {
  const store = new Map<string, StoredModel>();
  const now = () => Math.floor(Date.now() / 1000);
  const live = (key: string): Record<string, unknown> | undefined => {
    const entry = store.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };
  return (name: string) => {
    const key = (id: string) => `${name}:${id}`;
    return {
      async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
        const expiresAt = expiresIn ? now() + expiresIn : undefined;
        store.set(key(id), { payload, expiresAt });
        if (typeof payload.grantId === 'string') {
          const grantKey = `grant:${payload.grantId}`;
          const members = (live(grantKey)?.members as string[] | undefined) ?? [];
          store.set(grantKey, { payload: { members: [...members, key(id)] }, expiresAt: undefined });
        }
        if (typeof payload.uid === 'string') store.set(`uid:${payload.uid}`, { payload: { id }, expiresAt });
        if (typeof payload.userCode === 'string') store.set(`userCode:${payload.userCode}`, { payload: { id }, expiresAt });
      },
      async find(id: string) {
        return live(key(id));
      },
      async findByUid(uid: string) {
        const id = live(`uid:${uid}`)?.id;
        return typeof id === 'string' ? live(key(id)) : undefined;
      },
      async findByUserCode(userCode: string) {
        const id = live(`userCode:${userCode}`)?.id;
        return typeof id === 'string' ? live(key(id)) : undefined;
      },
      async consume(id: string) {
        const payload = live(key(id));
        if (payload) payload.consumed = now();
      },
      async destroy(id: string) {
        store.delete(key(id));
      },
      async revokeByGrantId(grantId: string) {
        const members = (live(`grant:${grantId}`)?.members as string[] | undefined) ?? [];
        for (const member of members) store.delete(member);
        store.delete(`grant:${grantId}`);
      },
    };
  };
}

const SIGNING_ALG = 'RS256';
let strangerKey: Promise<CryptoKey> | undefined;

/** A key the IdPs never publish (memoized: RSA key generation costs tens of milliseconds). */
function stranger(): Promise<CryptoKey> {
  strangerKey ??= generateKeyPair(SIGNING_ALG).then((pair) => pair.privateKey);
  return strangerKey;
}

/**
 * A real OpenID Connect provider (oidc-provider) over HTTPS (certificate from testCa()) on
 * 127.0.0.1, named https://localhost:PORT. Authorization code flow only, PKCE (S256) required for
 * every client, client_secret_basic and client_secret_post both accepted, query response mode.
 * Every authorization request signs in automatically as the account given to nextLogin().
 */
export async function startTestIdp(options: {
  kind: IdpKind;
  clients: IdpClient[];
  tenantId?: string;
}): Promise<TestIdp> {
  const { kind } = options;
  const [ca, Provider, idpKeys] = await Promise.all([
    testCa(),
    loadProvider(),
    generateKeyPair(SIGNING_ALG, { extractable: true }),
  ]);
  const kid = `test-${randomUUID()}`;
  const privateJwk: JWK = { ...(await exportJWK(idpKeys.privateKey)), kid, alg: SIGNING_ALG, use: 'sig' };

  const tenantId = kind === 'entra' ? (options.tenantId ?? randomUUID()) : undefined;
  /** The path the provider is mounted under: '' or '/<tenantId>/v2.0' (entra). */
  const prefix = tenantId === undefined ? '' : `/${tenantId}/v2.0`;

  let current: { account: IdpAccount; amr: string[] } | undefined;
  /** Every account nextLogin() was given, by sub: tokens are built after nextLogin may have moved on. */
  const accounts = new Map<string, IdpAccount>();
  let tamper: { change: (claims: Record<string, unknown>) => Record<string, unknown>; signWith: 'idp' | 'stranger' } | undefined;
  let tokenRequestCount = 0;

  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server: Server = createServer({ key: ca.keyPem, cert: ca.certPem }, (req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `https://localhost:${port}${prefix}`;

  const claimsFor = (account: IdpAccount): Record<string, unknown> => {
    const claims: Record<string, unknown> = { sub: account.sub };
    if (account.email !== undefined) claims.email = account.email;
    if (account.email_verified !== undefined) claims.email_verified = account.email_verified;
    if (account.name !== undefined) claims.name = account.name;
    if (kind === 'google' && account.hd !== undefined) claims.hd = account.hd;
    if (kind === 'entra') {
      claims.tid = account.tid ?? tenantId;
      if (account.oid !== undefined) claims.oid = account.oid;
    }
    return claims;
  };

  let provider: OidcProvider;
  try {
    provider = new Provider(issuer, {
      adapter: memoryAdapterFactory(),
      clients: options.clients.map((client) => ({
        client_id: client.clientId,
        client_secret: client.clientSecret,
        redirect_uris: client.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        // oidc-provider accepts client_secret_post as well for a client registered with basic.
        token_endpoint_auth_method: 'client_secret_basic',
      })),
      jwks: { keys: [privateJwk] },
      cookies: { keys: [randomBytes(32).toString('hex')] },
      // oidc-provider's default standalone claims plus amr; amr and auth_time also ride on the
      // openid scope so that they are in every ID token (standalone ones only when requested).
      claims: {
        acr: null,
        amr: null,
        auth_time: null,
        iss: null,
        sid: null,
        openid: ['sub', 'amr', 'auth_time', 'hd', 'tid', 'oid'],
        email: ['email', 'email_verified'],
        profile: ['name'],
      },
      conformIdTokenClaims: false,
      responseTypes: ['code'],
      pkce: { required: () => true },
      features: { devInteractions: { enabled: false } },
      ttl: {
        AccessToken: 3600,
        AuthorizationCode: 60,
        ClientCredentials: 600,
        Grant: 3600,
        IdToken: 3600,
        Interaction: 600,
        RefreshToken: 3600,
        Session: 3600,
      },
      interactions: {
        url: (_ctx: unknown, interaction: { uid: string }) => `${prefix}/interaction/${interaction.uid}`,
      },
      async findAccount(_ctx: unknown, id: string) {
        const account = accounts.get(id);
        if (account === undefined) return undefined;
        return { accountId: id, claims: async () => claimsFor(account) };
      },
      async renderError(ctx: KoaContext, out: { error?: string; error_description?: string }, error: unknown) {
        ctx.type = 'text/plain';
        const detail = out.error === 'server_error' && error instanceof Error ? ` (${error.message})` : '';
        ctx.body = `test IdP error page: ${out.error ?? 'error'}: ${out.error_description ?? ''}${detail}`;
      },
    });
  } catch (error) {
    // A configuration oidc-provider rejects: do not leave the listener behind.
    server.close();
    throw error;
  }
  provider.proxy = false;
  // Koa logs errors to the console unless someone listens; the error pages say what went wrong.
  provider.on('error', () => {});

  // Replace ID tokens in token responses when asked to.
  provider.use(async (ctx, next) => {
    await next();
    if (tamper === undefined || ctx.oidc?.route !== 'token' || ctx.status !== 200) return;
    const body = ctx.body as Record<string, unknown> | undefined;
    if (typeof body?.id_token !== 'string') return;
    const claims = tamper.change({ ...decodeJwt(body.id_token) });
    const key = tamper.signWith === 'stranger' ? await stranger() : idpKeys.privateKey;
    const idToken = await new SignJWT(claims as JWTPayload)
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'JWT' })
      .sign(key);
    ctx.body = { ...body, id_token: idToken };
  });

  const callback = provider.callback();

  async function interaction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (current === undefined) {
      throw new Error('test IdP: nextLogin() was not called, nobody to sign in as');
    }
    const accountId = current.account.sub;
    const clientId = String(details.params.client_id);
    const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined)
      ?? new provider.Grant({ accountId, clientId });
    grant.addOIDCScope(typeof details.params.scope === 'string' ? details.params.scope : 'openid');
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId, amr: current.amr, remember: false }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  handle = (req, res) => {
    const url = req.url ?? '/';
    if (prefix !== '' && url !== prefix && !url.startsWith(`${prefix}/`) && !url.startsWith(`${prefix}?`)) {
      res.statusCode = 404;
      res.setHeader('content-type', 'text/plain');
      res.end(`test IdP: nothing at ${url} (the issuer is ${issuer})`);
      return;
    }
    const inner = url.slice(prefix.length) || '/';
    const path = inner.split('?')[0];

    // The IdP never keeps a session: the next authorization request logs in afresh, as whoever
    // nextLogin() names, even from a browser that went through this IdP before.
    const setHeader = res.setHeader.bind(res);
    res.setHeader = (name: string, value: number | string | readonly string[]) => {
      if (name.toLowerCase() === 'set-cookie') {
        const values = (Array.isArray(value) ? value : [String(value)]) as string[];
        return setHeader(name, values.filter((cookie) => !/^_session(\.sig)?=/.test(cookie)));
      }
      return setHeader(name, value);
    };

    if (path?.startsWith('/interaction/')) {
      interaction(req, res).catch((error: unknown) => {
        if (res.headersSent) return res.destroy();
        res.statusCode = 500;
        res.setHeader('content-type', 'text/plain');
        res.end(`test IdP error page: interaction failed: ${error instanceof Error ? error.message : String(error)}`);
      });
      return;
    }
    if (path === '/token' && req.method === 'POST') tokenRequestCount += 1;
    if (prefix !== '') {
      // How oidc-provider learns its mount path (see oidc_context.js urlFor): originalUrl holds the
      // full path, url the part below the mount point.
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = url;
      req.url = inner;
    }
    callback(req, res);
  };

  return {
    issuer,
    ...(tenantId === undefined ? {} : { tenantId }),
    nextLogin(account, loginOptions) {
      accounts.set(account.sub, { ...account });
      current = { account: { ...account }, amr: loginOptions?.amr ?? ['pwd'] };
    },
    tamperIdTokens(change, tamperOptions) {
      tamper = change === null ? undefined : { change, signWith: tamperOptions?.signWith ?? 'idp' };
    },
    tokenRequests: () => tokenRequestCount,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------------

/**
 * Plays the browser at the IdP without a browser: GETs `authorizationUrl` and follows redirects
 * (keeping cookies per host, trusting the test CA) until a redirect whose location starts with
 * `redirectUriPrefix` (a registered redirect URI's origin+path); returns that full URL (which
 * carries code and state, or error). Throws with the page's text if a response is not a redirect.
 */
export async function followIdp(authorizationUrl: string, redirectUriPrefix: string): Promise<string> {
  const agent = agentTrusting(await testCa());
  const jar = new Map<string, Map<string, string>>();
  try {
    let url = new URL(authorizationUrl);
    for (let hop = 0; hop < 20; hop += 1) {
      const cookies = jar.get(url.host);
      const response = await request(url, {
        method: 'GET',
        dispatcher: agent,
        headers: cookies?.size ? { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') } : {},
      });
      const text = await response.body.text();
      rememberCookies(jar, url.host, response.headers['set-cookie']);
      const location = response.headers.location;
      if (response.statusCode < 300 || response.statusCode >= 400 || typeof location !== 'string') {
        throw new Error(
          `followIdp: ${url.href} answered ${response.statusCode} instead of a redirect` +
            (text ? `: ${text.replace(/\s+/g, ' ').trim().slice(0, 500)}` : ''),
        );
      }
      const next = new URL(location, url);
      if (next.href.startsWith(redirectUriPrefix)) return next.href;
      url = next;
    }
    throw new Error(`followIdp: more than 20 redirects from ${authorizationUrl}`);
  } finally {
    await agent.close();
  }
}

function rememberCookies(
  jar: Map<string, Map<string, string>>,
  host: string,
  header: string | string[] | undefined,
): void {
  if (header === undefined) return;
  let cookies = jar.get(host);
  if (cookies === undefined) jar.set(host, (cookies = new Map()));
  for (const line of Array.isArray(header) ? header : [header]) {
    const [pair = '', ...attributes] = line.split(';');
    const equals = pair.indexOf('=');
    if (equals <= 0) continue;
    const name = pair.slice(0, equals).trim();
    const value = pair.slice(equals + 1).trim();
    const expired = attributes.some((attribute) => {
      const [key = '', attributeValue = ''] = attribute.split('=').map((part) => part.trim());
      if (key.toLowerCase() === 'max-age') return Number(attributeValue) <= 0;
      if (key.toLowerCase() === 'expires') return Date.parse(attributeValue) <= Date.now();
      return false;
    });
    if (expired || value === '') cookies.delete(name);
    else cookies.set(name, value);
  }
}
