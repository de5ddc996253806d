import { eq } from 'drizzle-orm';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { App } from '../context.ts';
import type { Tx } from '../db/client.ts';
import { takeSessionValue, type SessionContext } from '../sessions/service.ts';
import { resealReadOnlySession } from '../failover/sessions.ts';
import { sessions, webauthnCredentials } from '../db/schema.ts';
import { recordAudit } from '../audit/service.ts';
import { enableMfa, type MfaUser } from './service.ts';

// WebAuthn through @simplewebauthn/server. The relying party is the host of HAVEN_BASE_URL
// (DESIGN §1.3): a browser refuses a bare IP address, so the default base URL is localhost.
const rp = (app: App) => ({ id: new URL(app.config.baseUrl).hostname, origin: app.config.baseUrl });

async function storeChallenge(app: App, sessionId: string, challenge: string | null): Promise<void> {
  await app.db.update(sessions).set({ webauthnChallenge: challenge }).where(eq(sessions.id, sessionId));
}

/** The challenge is taken (read and cleared in one statement): each one can be answered once. */
function takeChallenge(app: App, sessionId: string): Promise<string | null> {
  return takeSessionValue(app, sessionId, 'webauthn_challenge');
}

async function credentialsOf(app: App, userId: string) {
  return app.db.select().from(webauthnCredentials).where(eq(webauthnCredentials.userId, userId));
}

export async function registrationOptions(app: App, sessionId: string, user: MfaUser & { fullName: string }): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const existing = await credentialsOf(app, user.id);
  const options = await generateRegistrationOptions({
    rpName: 'Haven',
    rpID: rp(app).id,
    userName: user.login,
    userDisplayName: user.fullName,
    userID: new TextEncoder().encode(user.id),
    attestationType: 'none',
    excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports as AuthenticatorTransport[] })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
  });
  await storeChallenge(app, sessionId, options.challenge);
  return options;
}

export type PasskeyOutcome<T = undefined> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Verifies a new passkey against this session's challenge and turns MFA on with it; `complete`
 * runs in the same transaction (the new session id, the recovery codes).
 */
export async function completePasskeyRegistration<T>(
  app: App,
  sessionId: string,
  user: MfaUser,
  response: RegistrationResponseJSON,
  complete: (tx: Tx) => Promise<T>,
): Promise<PasskeyOutcome<T>> {
  const challenge = await takeChallenge(app, sessionId);
  if (!challenge) return { ok: false, error: 'The passkey request expired. Try again.' };
  let info;
  try {
    const verification = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp(app).origin,
      expectedRPID: rp(app).id,
      requireUserVerification: false,
    });
    if (!verification.verified) return { ok: false, error: 'The passkey could not be verified.' };
    info = verification.registrationInfo;
  } catch (error) {
    await recordAudit(app, { action: 'mfa.passkey_failure', actor: { id: user.id, login: user.login }, target: user.login, details: { step: 'registration', error: String((error as Error).message).slice(0, 200) } });
    return { ok: false, error: 'The passkey could not be verified.' };
  }
  const now = app.clock.now();
  const value = await app.db.transaction(async (t) => {
    await enableMfa(app, t, user, 'passkey', { keepSessionId: sessionId });
    await t.insert(webauthnCredentials).values({
      id: info.credential.id,
      userId: user.id,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: info.credential.transports ?? [],
      createdAt: now,
    });
    return complete(t);
  });
  return { ok: true, value };
}

/** Options (a fresh challenge) for an assertion by one of the user's credentials. */
async function assertionOptions(app: App, userId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const credentials = await credentialsOf(app, userId);
  return generateAuthenticationOptions({
    rpID: rp(app).id,
    allowCredentials: credentials.map((c) => ({ id: c.id, transports: c.transports as AuthenticatorTransport[] })),
    userVerification: 'preferred',
  });
}

export async function authenticationOptions(app: App, sessionId: string, userId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const options = await assertionOptions(app, userId);
  await storeChallenge(app, sessionId, options.challenge);
  return options;
}

/** Checks an assertion against one of the user's credentials and a challenge; gives the new signature counter, or throws. */
async function checkAssertion(app: App, credential: Awaited<ReturnType<typeof credentialsOf>>[number], response: AuthenticationResponseJSON, challenge: string): Promise<number> {
  const verification = await verifyAuthenticationResponse({
    response,
    expectedChallenge: challenge,
    expectedOrigin: rp(app).origin,
    expectedRPID: rp(app).id,
    credential: {
      id: credential.id,
      publicKey: new Uint8Array(Buffer.from(credential.publicKey, 'base64url')),
      counter: credential.counter,
      transports: credential.transports as AuthenticatorTransport[],
    },
    requireUserVerification: false,
  });
  if (!verification.verified) throw new Error('not verified');
  return verification.authenticationInfo.newCounter;
}

/**
 * Verifies a passkey assertion for the user of this session (only their own credentials count),
 * at the code step or at re-authentication.
 */
export async function verifyPasskey(
  app: App,
  input: { sessionId: string; user: MfaUser; response: AuthenticationResponseJSON; ip: string; purpose: 'login' | 'reauth' },
): Promise<PasskeyOutcome> {
  const { sessionId, user, response, ip } = input;
  const failure = input.purpose === 'login' ? 'mfa.challenge_failure' : 'reauth.failure';
  const challenge = await takeChallenge(app, sessionId);
  const credential = (await credentialsOf(app, user.id)).find((c) => c.id === response.id);
  const actor = { id: user.id, login: user.login };
  if (!challenge || !credential) {
    await recordAudit(app, { action: failure, actor, target: user.login, ip, details: { method: 'passkey', reason: challenge ? 'unknown_credential' : 'no_challenge' } });
    return { ok: false, error: 'That passkey is not registered for this account, or the request expired.' };
  }
  try {
    const newCounter = await checkAssertion(app, credential, response, challenge);
    await app.db.update(webauthnCredentials).set({ counter: newCounter, lastUsedAt: app.clock.now() }).where(eq(webauthnCredentials.id, credential.id));
  } catch (error) {
    await recordAudit(app, { action: failure, actor, target: user.login, ip, details: { method: 'passkey', reason: String((error as Error).message).slice(0, 200) } });
    return { ok: false, error: 'The passkey could not be verified.' };
  }
  const success = input.purpose === 'login' ? 'mfa.challenge_success' : 'reauth.success';
  await recordAudit(app, { action: success, actor, target: user.login, ip, details: { method: 'passkey', with: 'passkey' } });
  return { ok: true, value: undefined };
}

// ---- While the site is read-only ------------------------------------------------------------

const READ_ONLY_CHALLENGE_MS = 5 * 60_000;

/**
 * authenticationOptions while the site is read-only: the challenge cannot be kept in the
 * session's row, so it goes into the read-only session's sealed cookie (the caller sets the
 * returned token). null: the session is a database session from before the switch, which
 * cannot carry one; its holder signs in again.
 */
export async function authenticationOptionsWhileReadOnly(
  app: App,
  session: SessionContext,
): Promise<{ options: PublicKeyCredentialRequestOptionsJSON; sessionToken: string } | null> {
  if (!session.readOnly) return null;
  const options = await assertionOptions(app, session.user.id);
  const challenge = { value: options.challenge, expiresAt: app.clock.now().getTime() + READ_ONLY_CHALLENGE_MS };
  return { options, sessionToken: resealReadOnlySession(app, session.readOnly, { challenge }) };
}

/**
 * verifyPasskey at the code step while the site is read-only: against the challenge sealed in
 * the session, each challenge answered once on this instance (and the step's session ends at
 * once). The signature counter cannot be stored, so a cloned authenticator is noticed only
 * after the outage, at its next use (docs/DECISIONS.md).
 */
export async function verifyPasskeyWhileReadOnly(app: App, input: { session: SessionContext; response: AuthenticationResponseJSON; ip: string }): Promise<PasskeyOutcome> {
  const { session, response, ip } = input;
  const actor = { id: session.user.id, login: session.user.login };
  const challenge = session.readOnly?.challenge;
  const usable = challenge && challenge.expiresAt > app.clock.now().getTime() && !app.failover.usedCodes.has(`challenge:${challenge.value}`);
  const credential = (await credentialsOf(app, session.user.id)).find((c) => c.id === response.id);
  if (!usable || !credential) {
    await recordAudit(app, { action: 'mfa.challenge_failure', actor, target: actor.login, ip, details: { method: 'passkey', reason: usable ? 'unknown_credential' : 'no_challenge', readOnly: true } });
    return { ok: false, error: 'That passkey is not registered for this account, or the request expired.' };
  }
  app.failover.usedCodes.add(`challenge:${challenge.value}`);
  try {
    await checkAssertion(app, credential, response, challenge.value);
  } catch (error) {
    await recordAudit(app, { action: 'mfa.challenge_failure', actor, target: actor.login, ip, details: { method: 'passkey', reason: String((error as Error).message).slice(0, 200), readOnly: true } });
    return { ok: false, error: 'The passkey could not be verified.' };
  }
  await recordAudit(app, { action: 'mfa.challenge_success', actor, target: actor.login, ip, details: { method: 'passkey', with: 'passkey', readOnly: true } });
  return { ok: true, value: undefined };
}
