// Single sign-on policy (DESIGN §1.1): what a provider's settings may be, who an ID token says
// the person is, whether its `amr` shows a second factor, and which accounts may still use a
// password. Pure: the OpenID Connect exchange itself is openid-client's (sso/oidc.ts).
import { textProblem, TEXT_PROBLEM_MESSAGES } from './text.ts';

export const SSO_KINDS = ['google', 'entra', 'okta', 'oidc'] as const;
export type SsoKind = (typeof SSO_KINDS)[number];

export const SSO_KIND_LABELS: Record<SsoKind, string> = {
  google: 'Google Workspace',
  entra: 'Microsoft Entra ID',
  okta: 'Okta',
  oidc: 'Other OpenID Connect provider',
};

export const SSO_POLICIES = ['off', 'enabled', 'required'] as const;
export type SsoPolicy = (typeof SSO_POLICIES)[number];

export const SSO_POLICY_LABELS: Record<SsoPolicy, string> = {
  off: 'Off: password login only',
  enabled: 'Enabled: password login and single sign-on',
  required: 'Enabled and required: single sign-on only, except the break-glass administrator',
};

export function isSsoKind(value: string): value is SsoKind {
  return (SSO_KINDS as readonly string[]).includes(value);
}

export function isSsoPolicy(value: string): value is SsoPolicy {
  return (SSO_POLICIES as readonly string[]).includes(value);
}

/** How long a started sign-in (state, nonce, PKCE verifier) and a pending link stay usable. */
export const SSO_FLOW_LIFETIME_MS = 10 * 60_000;

/** Identities waiting for an administrator's link are forgotten after this long. */
export const SSO_LINK_REQUEST_LIFETIME_MS = 30 * 24 * 3600_000;

/** Names that would collide with /login/sso/link. */
const RESERVED_PROVIDER_NAMES = ['link'];

export const PROVIDER_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

export interface ProviderForm {
  name: string;
  kind: string;
  issuer: string;
  clientId: string;
  /** Empty when editing means "keep the stored secret". */
  clientSecret: string;
  hostedDomain: string;
  trustAmr: boolean;
  newAccountRole: string;
}

export interface CheckedProvider {
  name: string;
  kind: SsoKind;
  issuer: string;
  clientId: string;
  clientSecret: string | null;
  hostedDomain: string | null;
  trustAmr: boolean;
  newAccountRole: string | null;
}

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/**
 * An issuer URL as Haven will use it: https, no query or fragment, no credentials. A trailing
 * slash is kept as written, since the ID token's `iss` must match the issuer exactly.
 */
export function parseIssuer(raw: string): { ok: true; issuer: string } | { ok: false; error: string } {
  const text = raw.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, error: 'Enter the issuer as a full address, such as https://example.okta.com.' };
  }
  if (url.protocol !== 'https:') return { ok: false, error: 'The issuer must be an https:// address.' };
  if (url.username || url.password || url.search || url.hash || text.length > 500) return { ok: false, error: 'The issuer must be a plain https:// address, without a query, fragment or credentials.' };
  return { ok: true, issuer: text };
}

/** The provider form of Admin > Single Sign On and `haven sso add`, checked field by field. */
export function checkProviderForm(
  form: ProviderForm,
  context: { otherNames: readonly string[]; roleNames: readonly string[]; editing: boolean },
): { ok: true; provider: CheckedProvider } | { ok: false; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const name = form.name.trim();
  if (!PROVIDER_NAME_PATTERN.test(name)) errors.name = 'Use 1 to 40 lower-case letters, digits and hyphens (it appears in the sign-in address), such as "okta".';
  else if (context.otherNames.includes(name)) errors.name = `A provider named "${name}" exists already.`;
  else if (RESERVED_PROVIDER_NAMES.includes(name)) errors.name = `"${name}" is a word Haven's addresses use: choose another name.`;

  const kind = form.kind.trim();
  if (!isSsoKind(kind)) errors.kind = 'Choose Google Workspace, Microsoft Entra ID, Okta or another OpenID Connect provider.';

  const issuer = parseIssuer(form.issuer);
  if (!issuer.ok) errors.issuer = issuer.error;
  else if (kind === 'google' && issuer.issuer !== 'https://accounts.google.com') errors.issuer = "Google's issuer is https://accounts.google.com.";
  // A tenant's own issuer: `common` or `organizations` would let any tenant's accounts through.
  else if (kind === 'entra' && !/^https:\/\/[^/]+\/[0-9a-f-]{36}\/v2\.0\/?$/i.test(issuer.issuer))
    errors.issuer = "Use the tenant's own issuer, https://login.microsoftonline.com/<tenant id>/v2.0.";

  const clientId = form.clientId.trim();
  const idProblem = textProblem(clientId);
  if (!clientId || clientId.length > 300) errors.client_id = 'Enter the client id the provider gave Haven (at most 300 characters).';
  else if (idProblem) errors.client_id = TEXT_PROBLEM_MESSAGES[idProblem];

  const secret = form.clientSecret.trim();
  if (!secret && !context.editing) errors.client_secret = 'Enter the client secret the provider gave Haven.';
  else if (secret.length > 1000) errors.client_secret = 'At most 1000 characters.';
  else if (secret && textProblem(secret)) errors.client_secret = TEXT_PROBLEM_MESSAGES[textProblem(secret)!];

  const hostedDomain = form.hostedDomain.trim().toLowerCase();
  if (kind === 'google' && !hostedDomain) errors.hosted_domain = "Enter your Google Workspace domain, such as example.org: only accounts of that domain may sign in.";
  else if (hostedDomain && !DOMAIN.test(hostedDomain)) errors.hosted_domain = 'Enter a domain name, such as example.org.';
  else if (hostedDomain && kind !== 'google') errors.hosted_domain = 'A hosted domain applies to Google Workspace only.';

  const role = form.newAccountRole.trim();
  if (role && !context.roleNames.includes(role)) errors.new_account_role = 'Choose one of the roles, or no new accounts.';

  if (Object.keys(errors).length || !isSsoKind(kind) || !issuer.ok) return { ok: false, errors };
  return {
    ok: true,
    provider: { name, kind, issuer: issuer.issuer, clientId, clientSecret: secret || null, hostedDomain: hostedDomain || null, trustAmr: form.trustAmr, newAccountRole: role || null },
  };
}

export type IdTokenClaims = Record<string, unknown>;

export type IdentityVerdict =
  | { ok: true; subject: string; email: string | null; name: string | null }
  | { ok: false; reason: 'wrong_hosted_domain' | 'missing_tenant' | 'missing_subject' };

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 255;

/**
 * Who a verified ID token says the person is, for linking: the subject (Entra ID: tenant id and
 * object id, stable across the tenant's apps, unlike its pairwise `sub`), checked against what
 * the provider's kind requires (Google Workspace: `hd` is the site's domain, since any Google
 * account can sign in at Google). The e-mail is for people to read, never for linking.
 */
export function identityFromClaims(kind: SsoKind, hostedDomain: string | null, claims: IdTokenClaims): IdentityVerdict {
  let subject: string;
  if (kind === 'entra') {
    if (!nonEmpty(claims.tid) || !nonEmpty(claims.oid)) return { ok: false, reason: 'missing_tenant' };
    subject = `${claims.tid}:${claims.oid}`;
  } else {
    if (!nonEmpty(claims.sub)) return { ok: false, reason: 'missing_subject' };
    subject = claims.sub;
  }
  if (kind === 'google' && (typeof claims.hd !== 'string' || claims.hd.toLowerCase() !== hostedDomain)) return { ok: false, reason: 'wrong_hosted_domain' };
  const email = typeof claims.email === 'string' && claims.email.length <= 254 ? claims.email : null;
  const name = typeof claims.name === 'string' ? claims.name.slice(0, 200) : null;
  return { ok: true, subject, email, name };
}

/** An e-mail the provider vouches for (only these may start a new account). */
export function verifiedEmail(claims: IdTokenClaims): string | null {
  return claims.email_verified === true && typeof claims.email === 'string' ? claims.email : null;
}

// RFC 8176 methods that are a factor besides a password: something held or something one is.
const SECOND_FACTOR_METHODS = ['mfa', 'otp', 'hwk', 'swk', 'sc', 'sms', 'tel', 'fpt', 'face', 'iris', 'retina', 'vbm', 'pop'];

/** Whether an `amr` claim shows that the provider checked more than a password (RFC 8176). */
export function amrShowsMfa(amr: unknown): boolean {
  return Array.isArray(amr) && amr.some((m) => typeof m === 'string' && SECOND_FACTOR_METHODS.includes(m));
}

/**
 * Whether the password form may sign this account in: always unless SSO is required, and then
 * only the break-glass administrator (who keeps password and MFA).
 */
export function passwordLoginAllowed(policy: SsoPolicy, breakGlassUserId: string | null, userId: string | null): boolean {
  return policy !== 'required' || (userId !== null && userId === breakGlassUserId);
}

/** Why an account could not sign in by SSO today, for `haven sso readiness` and the page; null if it could. */
export interface ReadinessAccount {
  id: string;
  login: string;
  email: string;
  loginActive: boolean;
  mayLogIn: boolean;
  linkedProviders: number;
}

export function readinessProblem(account: ReadinessAccount, sameEmail: readonly string[]): string | null {
  if (!account.loginActive) return 'Login Active is No';
  if (!account.mayLogIn) return 'its role has no Login permission';
  if (!account.email.trim()) return 'no e-mail address';
  if (sameEmail.length) return `e-mail shared with ${sameEmail.join(', ')}`;
  if (account.linkedProviders === 0) return 'not linked to a provider yet (the first SSO sign-in asks for the Haven password)';
  return null;
}

/** A login name for an account SSO creates: the address's local part, made unique. */
export function loginForNewAccount(email: string, taken: (login: string) => boolean): string {
  const local = (email.split('@')[0] ?? '').toLowerCase().replace(/[^a-z0-9._-]/g, '').replace(/^[^a-z0-9]+/, '').slice(0, 40);
  const base = local.length >= 2 ? local : 'user';
  if (!taken(base)) return base;
  for (let n = 2; ; n++) if (!taken(`${base}${n}`)) return `${base}${n}`;
}
