// Single sign-on (DESIGN §1.1): providers and the policy (Admin > Single Sign On and `haven sso`),
// the readiness check, identities and their links, and the sign-in itself: started at
// /login/sso/:provider, finished at its /callback, where a verified identity becomes a login
// that obeys everything a password login does (Login Active, the Login permission where the
// user is, location rules, MFA, the audit of failures).
import { and, asc, eq, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import { rowsOf, type Tx } from '../db/client.ts';
import { roles, ssoIdentities, ssoLinkRequests, ssoPolicy, ssoProviders, users } from '../db/schema.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { currentRing, openRecord, sealRecord } from '../keys/records.ts';
import { sealForSession, unsealForSession } from '../security/session-sealing.ts';
import {
  amrShowsMfa,
  checkProviderForm,
  identityFromClaims,
  isSsoKind,
  isSsoPolicy,
  loginForNewAccount,
  readinessProblem,
  SSO_FLOW_LIFETIME_MS,
  SSO_KIND_LABELS,
  SSO_LINK_REQUEST_LIFETIME_MS,
  verifiedEmail,
  type ProviderForm,
  type SsoKind,
  type SsoPolicy,
} from '../security/sso.ts';
import { hasPermission, loginPermissionFor } from '../security/permissions.ts';
import { generateSecretToken, hashToken } from '../security/tokens.ts';
import { isReadOnly } from '../failover/state.ts';
import { getSiteSettings } from '../settings/service.ts';
import { readLoginFacts, startReadOnlySession, startSession, type LoginClient } from '../auth/service.ts';
import type { SessionStage } from '../sessions/service.ts';
import { createUser, emailTaken, normalizeLogin } from '../users/service.ts';
import { authorizationRequest, describeError, forgetDiscovery, redeemCallback, type ProviderForExchange } from './oidc.ts';
import type { PendingIdentity } from './links.ts';

// ---- Providers ---------------------------------------------------------------------------

export interface ProviderRow {
  id: string;
  name: string;
  kind: SsoKind;
  issuer: string;
  clientId: string;
  hostedDomain: string | null;
  trustAmr: boolean;
  newAccountRoleName: string | null;
  linkedAccounts: number;
}

export async function listProviders(app: App): Promise<ProviderRow[]> {
  const rows = await app.db
    .select({
      id: ssoProviders.id,
      name: ssoProviders.name,
      kind: ssoProviders.kind,
      issuer: ssoProviders.issuer,
      clientId: ssoProviders.clientId,
      hostedDomain: ssoProviders.hostedDomain,
      trustAmr: ssoProviders.trustAmr,
      newAccountRoleName: roles.name,
      linkedAccounts: sql<number>`(SELECT count(*)::int FROM sso_identities i WHERE i.provider_id = ${ssoProviders.id})`,
    })
    .from(ssoProviders)
    .leftJoin(roles, eq(roles.id, ssoProviders.newAccountRoleId))
    .orderBy(asc(ssoProviders.name));
  return rows.map((r) => ({ ...r, kind: isSsoKind(r.kind) ? r.kind : 'oidc' }));
}

interface ProviderWithSecret extends ProviderForExchange {
  name: string;
  kind: SsoKind;
  trustAmr: boolean;
  newAccountRoleId: string | null;
}

/**
 * A provider by its name, its client secret opened, while SSO is on (one query with the policy):
 * only the sign-in needs this. Null for an unknown name, or for every name while SSO is off.
 */
async function providerForSignIn(app: App, name: string): Promise<ProviderWithSecret | null> {
  const [found] = await app.db
    .select({ row: ssoProviders })
    .from(ssoProviders)
    .innerJoin(ssoPolicy, and(eq(ssoPolicy.id, 1), sql`${ssoPolicy.policy} <> 'off'`))
    .where(eq(ssoProviders.name, name));
  const row = found?.row;
  if (!row) return null;
  const { client_secret } = openRecord(app, 'sso_providers', row.id, row.dataKey, { client_secret: row.clientSecretSealed });
  return {
    id: row.id,
    name: row.name,
    kind: isSsoKind(row.kind) ? row.kind : 'oidc',
    issuer: row.issuer,
    clientId: row.clientId,
    clientSecret: client_secret!,
    hostedDomain: row.hostedDomain,
    trustAmr: row.trustAmr,
    newAccountRoleId: row.newAccountRoleId,
  };
}

export interface ProviderEditor {
  actor: Actor | null;
  ip: string | null;
}

/** Adds a provider, or changes one (`id`): checked field by field, the secret sealed, audited. */
export async function saveProvider(
  app: App,
  form: ProviderForm,
  editor: ProviderEditor,
  id?: string,
): Promise<{ ok: true; id: string } | { ok: false; errors: Record<string, string> }> {
  const existing = await listProviders(app);
  const roleRows = await app.db.select({ id: roles.id, name: roles.name }).from(roles);
  const checked = checkProviderForm(form, {
    otherNames: existing.filter((p) => p.id !== id).map((p) => p.name),
    roleNames: roleRows.map((r) => r.name),
    editing: Boolean(id),
  });
  if (!checked.ok) return checked;
  const p = checked.provider;
  const before = id ? existing.find((e) => e.id === id) : undefined;
  if (id && !before) return { ok: false, errors: { _form: 'No such provider.' } };
  const newAccountRoleId = p.newAccountRole ? roleRows.find((r) => r.name === p.newAccountRole)!.id : null;
  const now = app.clock.now();
  const savedId = await app.db.transaction(async (tx) => {
    const rowId = id ?? crypto.randomUUID();
    const secret = p.clientSecret ? sealRecord(app, 'sso_providers', rowId, { client_secret: p.clientSecret }) : null;
    const values = { name: p.name, kind: p.kind, issuer: p.issuer, clientId: p.clientId, hostedDomain: p.hostedDomain, trustAmr: p.trustAmr, newAccountRoleId, updatedAt: now };
    if (id) {
      await tx
        .update(ssoProviders)
        .set({ ...values, ...(secret ? { dataKey: secret.dataKey, clientSecretSealed: secret.values.client_secret! } : {}) })
        .where(eq(ssoProviders.id, id));
    } else {
      await tx.insert(ssoProviders).values({ id: rowId, ...values, dataKey: secret!.dataKey, clientSecretSealed: secret!.values.client_secret!, createdAt: now });
    }
    await recordAudit(
      app,
      {
        action: id ? 'sso.provider_changed' : 'sso.provider_added',
        actor: editor.actor,
        target: p.name,
        ip: editor.ip,
        details: {
          kind: p.kind,
          issuer: p.issuer,
          clientId: p.clientId,
          hostedDomain: p.hostedDomain,
          trustAmr: p.trustAmr,
          newAccountRole: p.newAccountRole,
          ...(id ? { secretChanged: Boolean(p.clientSecret), ...(before!.name !== p.name ? { renamedFrom: before!.name } : {}) } : {}),
        },
      },
      tx,
    );
    return rowId;
  });
  forgetDiscovery(app);
  return { ok: true, id: savedId };
}

/** Removes a provider and every identity linked through it; refused while SSO is on and it is the only one. */
export async function removeProvider(app: App, name: string, editor: ProviderEditor): Promise<{ ok: true } | { ok: false; error: string }> {
  const providers = await listProviders(app);
  const provider = providers.find((p) => p.name === name);
  if (!provider) return { ok: false, error: `No provider named "${name}".` };
  const policy = await getSsoPolicy(app);
  if (policy.policy !== 'off' && providers.length === 1)
    return { ok: false, error: 'Single sign-on is turned on and this is its only provider: turn single sign-on off first.' };
  await app.db.transaction(async (tx) => {
    await tx.delete(ssoProviders).where(eq(ssoProviders.id, provider.id));
    await recordAudit(app, { action: 'sso.provider_removed', actor: editor.actor, target: provider.name, ip: editor.ip, details: { unlinkedAccounts: provider.linkedAccounts } }, tx);
  });
  forgetDiscovery(app);
  return { ok: true };
}

// ---- Policy ------------------------------------------------------------------------------

export interface SsoPolicyState {
  policy: SsoPolicy;
  breakGlassUserId: string | null;
  breakGlassLogin: string | null;
}

export async function getSsoPolicy(app: App): Promise<SsoPolicyState> {
  const [row] = await app.db
    .select({ policy: ssoPolicy.policy, breakGlassUserId: ssoPolicy.breakGlassUserId, breakGlassLogin: users.login })
    .from(ssoPolicy)
    .leftJoin(users, eq(users.id, ssoPolicy.breakGlassUserId))
    .where(eq(ssoPolicy.id, 1));
  if (!row || !isSsoPolicy(row.policy)) return { policy: 'off', breakGlassUserId: null, breakGlassLogin: null };
  return { policy: row.policy, breakGlassUserId: row.breakGlassUserId, breakGlassLogin: row.breakGlassLogin };
}

/**
 * Sets the policy. `required` needs a provider and a break-glass administrator: an active
 * account whose role may administer site settings and sign in from the office, with MFA set up,
 * so that the site has one way in that does not depend on the provider.
 */
export async function setSsoPolicy(
  app: App,
  input: { policy: string; breakGlassLogin: string },
  editor: ProviderEditor,
): Promise<{ ok: true } | { ok: false; errors: Record<string, string> }> {
  if (!isSsoPolicy(input.policy)) return { ok: false, errors: { policy: 'Choose off, enabled or required.' } };
  const policy = input.policy;
  const providers = await listProviders(app);
  if (policy !== 'off' && providers.length === 0) return { ok: false, errors: { policy: 'Add a provider first.' } };
  let breakGlass: { id: string; login: string } | null = null;
  const login = normalizeLogin(input.breakGlassLogin);
  if (policy === 'required') {
    if (!login) return { ok: false, errors: { break_glass: 'Name the break-glass administrator: the one account that keeps its password and MFA.' } };
    const [row] = await app.db
      .select({ id: users.id, login: users.login, loginActive: users.loginActive, mfaEnabled: users.mfaEnabled, internal: roles.internalPermissions, external: roles.externalPermissions })
      .from(users)
      .innerJoin(roles, eq(roles.id, users.roleId))
      .where(eq(users.login, login));
    if (!row) return { ok: false, errors: { break_glass: `No account named "${login}".` } };
    const admin = hasPermission(row.internal, 'admin_site_settings') && (hasPermission(row.internal, loginPermissionFor('internal')) || hasPermission(row.external, loginPermissionFor('external')));
    if (!row.loginActive || !admin) return { ok: false, errors: { break_glass: `${row.login} is not an active administrator of site settings.` } };
    if (!row.mfaEnabled) return { ok: false, errors: { break_glass: `${row.login} has no MFA set up: the break-glass account keeps a password and MFA.` } };
    breakGlass = { id: row.id, login: row.login };
  }
  const now = app.clock.now();
  await app.db.transaction(async (tx) => {
    await tx
      .insert(ssoPolicy)
      .values({ id: 1, policy, breakGlassUserId: breakGlass?.id ?? null, updatedAt: now })
      .onConflictDoUpdate({ target: ssoPolicy.id, set: { policy, breakGlassUserId: breakGlass?.id ?? null, updatedAt: now } });
    await recordAudit(app, { action: 'sso.policy_changed', actor: editor.actor, target: policy, ip: editor.ip, details: { policy, breakGlass: breakGlass?.login ?? null } }, tx);
  });
  return { ok: true };
}

// ---- Readiness, identities and link requests ---------------------------------------------

export interface ReadinessLine {
  login: string;
  reason: string;
}

/** Every account that could not sign in by SSO today, with the reason (`haven sso readiness`). */
export async function ssoReadiness(app: App): Promise<ReadinessLine[]> {
  const rows = await rowsOf<{ id: string; login: string; email: string; login_active: boolean; may_log_in: boolean; linked: number }>(
    app.db,
    sql`SELECT u.id, u.login, u.email, u.login_active,
               ('login_internal' = ANY(r.internal_permissions) OR 'login_external' = ANY(r.external_permissions)) AS may_log_in,
               (SELECT count(*)::int FROM sso_identities i WHERE i.user_id = u.id) AS linked
          FROM users u JOIN roles r ON r.id = u.role_id
         ORDER BY u.login`,
  );
  const byEmail = new Map<string, string[]>();
  for (const r of rows) {
    const key = r.email.trim().toLowerCase();
    if (key) byEmail.set(key, [...(byEmail.get(key) ?? []), r.login]);
  }
  const lines: ReadinessLine[] = [];
  for (const r of rows) {
    const same = (byEmail.get(r.email.trim().toLowerCase()) ?? []).filter((l) => l !== r.login);
    const reason = readinessProblem({ id: r.id, login: r.login, email: r.email, loginActive: r.login_active, mayLogIn: r.may_log_in, linkedProviders: r.linked }, same);
    if (reason) lines.push({ login: r.login, reason });
  }
  return lines;
}

export interface IdentityRow {
  id: string;
  login: string;
  provider: string;
  subject: string;
  email: string | null;
  linkedBy: string;
  linkedAt: Date;
  lastLoginAt: Date | null;
}

export function listIdentities(app: App): Promise<IdentityRow[]> {
  return app.db
    .select({
      id: ssoIdentities.id,
      login: users.login,
      provider: ssoProviders.name,
      subject: ssoIdentities.subject,
      email: ssoIdentities.email,
      linkedBy: ssoIdentities.linkedBy,
      linkedAt: ssoIdentities.linkedAt,
      lastLoginAt: ssoIdentities.lastLoginAt,
    })
    .from(ssoIdentities)
    .innerJoin(users, eq(users.id, ssoIdentities.userId))
    .innerJoin(ssoProviders, eq(ssoProviders.id, ssoIdentities.providerId))
    .orderBy(asc(users.login), asc(ssoProviders.name));
}

export interface LinkRequestRow {
  id: string;
  provider: string;
  subject: string;
  email: string | null;
  name: string | null;
  requestedAt: Date;
}

export async function listLinkRequests(app: App): Promise<LinkRequestRow[]> {
  const since = new Date(app.clock.now().getTime() - SSO_LINK_REQUEST_LIFETIME_MS);
  return app.db
    .select({
      id: ssoLinkRequests.id,
      provider: ssoProviders.name,
      subject: ssoLinkRequests.subject,
      email: ssoLinkRequests.email,
      name: ssoLinkRequests.name,
      requestedAt: ssoLinkRequests.requestedAt,
    })
    .from(ssoLinkRequests)
    .innerJoin(ssoProviders, eq(ssoProviders.id, ssoLinkRequests.providerId))
    .where(sql`${ssoLinkRequests.requestedAt} > ${since}`)
    .orderBy(asc(ssoLinkRequests.requestedAt));
}

/** An administrator links an identity that asked for it to an account (its first link at that provider). */
export async function linkRequestToUser(app: App, requestId: string, login: string, editor: ProviderEditor): Promise<{ ok: true } | { ok: false; errors: Record<string, string> }> {
  const [request] = await app.db.select().from(ssoLinkRequests).where(eq(ssoLinkRequests.id, requestId));
  if (!request) return { ok: false, errors: { _form: 'That request is gone: it was linked or has expired.' } };
  const [user] = await app.db.select({ id: users.id, login: users.login }).from(users).where(eq(users.login, normalizeLogin(login)));
  if (!user) return { ok: false, errors: { login: `No account named "${login}".` } };
  const [provider] = await app.db.select({ name: ssoProviders.name }).from(ssoProviders).where(eq(ssoProviders.id, request.providerId));
  return app.db.transaction(async (tx) => {
    const inserted = await tx
      .insert(ssoIdentities)
      .values({ userId: user.id, providerId: request.providerId, issuer: request.issuer, subject: request.subject, email: request.email, linkedBy: 'administrator', linkedAt: app.clock.now() })
      .onConflictDoNothing()
      .returning({ id: ssoIdentities.id });
    if (!inserted.length) return { ok: false as const, errors: { login: `${user.login} is linked to another identity at ${provider?.name} already: unlink it first.` } };
    await tx.delete(ssoLinkRequests).where(eq(ssoLinkRequests.id, request.id));
    await recordAudit(app, { action: 'sso.linked', actor: editor.actor, target: user.login, ip: editor.ip, details: { provider: provider?.name, subject: request.subject, email: request.email, by: 'administrator' } }, tx);
    return { ok: true as const };
  });
}

export async function unlinkIdentity(app: App, identityId: string, editor: ProviderEditor): Promise<boolean> {
  return app.db.transaction(async (tx) => {
    const [gone] = await tx.delete(ssoIdentities).where(eq(ssoIdentities.id, identityId)).returning({ userId: ssoIdentities.userId, providerId: ssoIdentities.providerId, subject: ssoIdentities.subject });
    if (!gone) return false;
    const [who] = await tx.select({ login: users.login }).from(users).where(eq(users.id, gone.userId));
    const [provider] = await tx.select({ name: ssoProviders.name }).from(ssoProviders).where(eq(ssoProviders.id, gone.providerId));
    await recordAudit(app, { action: 'sso.unlinked', actor: editor.actor, target: who?.login ?? null, ip: editor.ip, details: { provider: provider?.name, subject: gone.subject } }, tx);
    return true;
  });
}

// ---- Signing in --------------------------------------------------------------------------

/** The providers the login page offers (none while SSO is off): one query, the policy with them. */
export async function providersForLoginPage(app: App): Promise<{ policy: SsoPolicy; providers: { name: string; kind: SsoKind }[] }> {
  const rows = await rowsOf<{ policy: string; name: string | null; kind: string | null }>(
    app.db,
    sql`SELECT p.policy, pr.name, pr.kind FROM sso_policy p LEFT JOIN sso_providers pr ON p.policy <> 'off' WHERE p.id = 1 ORDER BY pr.name`,
  );
  const policy = rows[0] && isSsoPolicy(rows[0].policy) ? rows[0].policy : 'off';
  if (policy === 'off') return { policy, providers: [] };
  return { policy, providers: rows.filter((r) => r.name !== null).map((r) => ({ name: r.name!, kind: isSsoKind(r.kind ?? '') ? (r.kind as SsoKind) : 'oidc' })) };
}

export function callbackUrlOf(app: App, providerName: string): string {
  return `${app.config.baseUrl}/login/sso/${providerName}/callback`;
}

// The state of a started sign-in and of a pending link travel in cookies, sealed under a key
// derived from the master key: nothing is written before the provider has answered, a browser
// cannot read or change them, and another browser's cookie does not fit this one's callback.
function flowSealingKey(app: App): string {
  return currentRing(app.keys).current.key.toString('base64');
}

interface SignInFlow {
  provider: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  next: string;
  startedAt: number;
}

export async function beginSsoLogin(app: App, providerName: string, next: string): Promise<{ ok: true; redirect: string; flowCookie: string } | { ok: false; reason: 'unknown' | 'unreachable' }> {
  const provider = await providerForSignIn(app, providerName);
  if (!provider) return { ok: false, reason: 'unknown' };
  let request;
  try {
    request = await authorizationRequest(app, provider, callbackUrlOf(app, provider.name));
  } catch (error) {
    app.log.warn({ provider: provider.name, err: describeError(error) }, 'sso: the provider could not be reached');
    return { ok: false, reason: 'unreachable' };
  }
  const flow: SignInFlow = { provider: provider.name, state: request.state, nonce: request.nonce, codeVerifier: request.codeVerifier, next, startedAt: app.clock.now().getTime() };
  return { ok: true, redirect: request.url, flowCookie: sealForSession(flowSealingKey(app), 'sso sign-in', JSON.stringify(flow)) };
}

export type SsoLoginOutcome =
  | { kind: 'signed_in'; sessionToken: string; stage: SessionStage; deviceToken: string; next: string }
  | { kind: 'link'; linkCookie: string; providerName: string; next: string }
  | { kind: 'refused'; message: string; status: number };

const REFUSALS: Record<string, string> = {
  flow: 'This sign-in was not started here, or took longer than 10 minutes. Start again.',
  provider: 'The identity provider did not confirm the sign-in. Start again, or ask your administrator.',
  account: 'The identity provider signed you in, but no Haven account may sign in with that identity here. Ask your administrator.',
  unreachable: 'The identity provider could not be reached. Try again in a moment.',
};

function openSealed<T>(app: App, purpose: string, sealed: string | undefined): T | null {
  if (!sealed || sealed.length > 4096) return null;
  const text = unsealForSession(flowSealingKey(app), purpose, sealed);
  if (!text) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

/**
 * The provider's answer at /login/sso/:provider/callback: the flow cookie must belong to this
 * provider and be fresh; openid-client checks state, redeems the code with the PKCE verifier
 * and verifies the ID token (nonce, issuer, audience, expiry, signature); the identity is
 * checked for its kind (Google's `hd`, Entra's `tid`/`oid`); then the linked account signs in
 * under every rule of a password login. Every refusal is a `login.failure` entry.
 */
export async function finishSsoLogin(
  app: App,
  input: { providerName: string; callbackUrl: URL; flowCookie: string | undefined; client: LoginClient },
): Promise<SsoLoginOutcome> {
  const ip = input.client.ip;
  const fail = async (reason: string, message: keyof typeof REFUSALS, details: Record<string, unknown> = {}, actor: { id: string; login: string } | null = null, status = 401) => {
    await recordAudit(app, { action: 'login.failure', actor, target: actor?.login ?? null, ip, details: { method: 'sso', provider: input.providerName, reason, ...details } });
    return { kind: 'refused' as const, message: REFUSALS[message]!, status };
  };
  const flow = openSealed<SignInFlow>(app, 'sso sign-in', input.flowCookie);
  const now = app.clock.now().getTime();
  if (!flow || flow.provider !== input.providerName) return fail('sso_no_flow', 'flow', {}, null, 400);
  if (now - flow.startedAt > SSO_FLOW_LIFETIME_MS || now < flow.startedAt) return fail('sso_flow_expired', 'flow', {}, null, 400);
  const provider = await providerForSignIn(app, input.providerName);
  if (!provider) return fail('sso_unknown_provider', 'flow', {}, null, 404);

  const verdict = await redeemCallback(app, provider, input.callbackUrl, flow);
  if (!verdict.ok) return fail(`sso_${verdict.reason}`, verdict.reason === 'provider_unreachable' ? 'unreachable' : 'provider', { detail: verdict.detail }, null, verdict.reason === 'provider_unreachable' ? 502 : 401);
  const identity = identityFromClaims(provider.kind, provider.hostedDomain, verdict.claims);
  if (!identity.ok) return fail(`sso_${identity.reason}`, 'provider', { hd: verdict.claims.hd ?? null });
  const mfaAtProvider = provider.trustAmr && amrShowsMfa(verdict.claims.amr);

  const [linked] = await app.db
    .select({ id: ssoIdentities.id, login: users.login })
    .from(ssoIdentities)
    .innerJoin(users, eq(users.id, ssoIdentities.userId))
    .where(and(eq(ssoIdentities.issuer, provider.issuer), eq(ssoIdentities.subject, identity.subject)));
  const pending: PendingIdentity = { providerId: provider.id, providerName: provider.name, issuer: provider.issuer, subject: identity.subject, email: identity.email, name: identity.name };

  let login = linked?.login;
  let created = false;
  if (!login) {
    const made = await maybeCreateAccount(app, provider, pending, verdict.claims, ip);
    if (made) {
      login = made;
      created = true;
    } else {
      if (isReadOnly(app)) return fail('sso_not_linked', 'account', { subject: identity.subject, readOnly: true });
      await rememberLinkRequest(app, pending, ip);
      await recordAudit(app, { action: 'sso.link_requested', target: identity.email, ip, details: { provider: provider.name, subject: identity.subject, email: identity.email } });
      const label = provider.kind === 'oidc' ? provider.name : SSO_KIND_LABELS[provider.kind];
      const linkCookie = sealForSession(flowSealingKey(app), 'sso link', JSON.stringify({ ...pending, label, next: flow.next, startedAt: now }));
      return { kind: 'link', linkCookie, providerName: provider.name, next: flow.next };
    }
  }

  const facts = await readLoginFacts(app, {
    login,
    ip,
    deviceHash: input.client.deviceToken ? hashToken(input.client.deviceToken) : '',
    mfaSecretHash: input.client.mfaDeviceSecret ? hashToken(input.client.mfaDeviceSecret) : '',
  });
  const user = facts.user;
  if (!user) return fail('sso_account_gone', 'account', { subject: identity.subject });
  const actor = { id: user.id, login: user.login };
  if (!user.loginActive) return fail('login_inactive', 'account', { subject: identity.subject }, actor, 403);
  if (!user.mayLogInHere) return fail('no_login_permission', 'account', { network: user.location.network?.name ?? null, kind: user.location.kind }, actor, 403);

  const how = {
    firstFactor: mfaAtProvider ? ('sso_with_mfa' as const) : ('sso' as const),
    auditDetails: { method: 'sso', provider: provider.name, ...(mfaAtProvider ? { mfaAtProvider: true } : {}), ...(created ? { accountCreated: true } : {}) },
    alsoInTransaction: async (tx: Tx) => {
      await tx.update(ssoIdentities).set({ lastLoginAt: app.clock.now() }).where(and(eq(ssoIdentities.issuer, provider.issuer), eq(ssoIdentities.subject, identity.subject)));
    },
  };
  const started = isReadOnly(app) ? await startReadOnlySession(app, user, facts.settings, input.client, how) : await startSession(app, user, facts.settings, input.client, how);
  return { kind: 'signed_in', sessionToken: started.sessionToken, stage: started.stage, deviceToken: started.deviceToken, next: flow.next };
}

async function rememberLinkRequest(app: App, pending: PendingIdentity, ip: string): Promise<void> {
  const now = app.clock.now();
  await app.db
    .insert(ssoLinkRequests)
    .values({ providerId: pending.providerId, issuer: pending.issuer, subject: pending.subject, email: pending.email, name: pending.name, requestedAt: now, ip })
    .onConflictDoUpdate({ target: [ssoLinkRequests.issuer, ssoLinkRequests.subject], set: { email: pending.email, name: pending.name, requestedAt: now, ip } });
}

/**
 * With `sso_allow_account_creation` on and a role chosen for this provider's new accounts, an
 * identity with a verified e-mail that no account uses gets an account of its own. An e-mail
 * some account has already is never a match: that person links with their password.
 */
async function maybeCreateAccount(app: App, provider: ProviderWithSecret, pending: PendingIdentity, claims: Record<string, unknown>, ip: string): Promise<string | null> {
  if (!provider.newAccountRoleId || isReadOnly(app)) return null;
  if (!(await getSiteSettings(app)).sso_allow_account_creation) return null;
  const email = verifiedEmail(claims);
  if (!email) return null;
  if (await emailTaken(app, email)) return null;
  // The logins that could collide with the one made from this address: it, or it followed by digits.
  const base = loginForNewAccount(email, () => false);
  const similar = await rowsOf<{ login: string }>(app.db, sql`SELECT login FROM users WHERE login = ${base} OR login ~ ${`^${base.replace(/[.]/g, '\\.')}[0-9]+$`}`);
  const logins = new Set(similar.map((t) => t.login));
  const login = loginForNewAccount(email, (l) => logins.has(l));
  const result = await createUser(
    app,
    { login, fullName: pending.name?.trim() || login, email, roleId: provider.newAccountRoleId, password: generateSecretToken() },
    { actor: null, ip, mustChangePassword: false },
  );
  if (!result.ok) {
    app.log.warn({ provider: provider.name, errors: result.errors }, 'sso: a new account could not be created');
    return null;
  }
  await app.db.transaction(async (tx) => {
    await tx.insert(ssoIdentities).values({ userId: result.id, providerId: provider.id, issuer: pending.issuer, subject: pending.subject, email, linkedBy: 'created', linkedAt: app.clock.now() });
    await recordAudit(app, { action: 'sso.account_created', actor: { id: result.id, login }, target: login, ip, details: { provider: provider.name, subject: pending.subject, email } }, tx);
  });
  return login;
}

/** The identity waiting to be linked (the link page's cookie), if it is this browser's and fresh. */
export function pendingLinkOf(app: App, cookie: string | undefined): (PendingIdentity & { label: string; next: string }) | null {
  const pending = openSealed<PendingIdentity & { label: string; next: string; startedAt: number }>(app, 'sso link', cookie);
  if (!pending) return null;
  const age = app.clock.now().getTime() - pending.startedAt;
  return age >= 0 && age <= SSO_FLOW_LIFETIME_MS ? pending : null;
}
