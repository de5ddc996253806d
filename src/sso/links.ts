// Linking an SSO identity to a Haven account (DESIGN §1.1): by issuer and subject, confirmed
// by the account's own password (the link is made when that login passes its last step) or by
// an administrator. An e-mail address never links anything.
import { and, eq } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Tx } from '../db/client.ts';
import { ssoIdentities, ssoLinkRequests } from '../db/schema.ts';
import { recordAudit } from '../audit/service.ts';

/** An identity a provider vouched for, that no account is linked to yet. */
export interface PendingIdentity {
  providerId: string;
  providerName: string;
  issuer: string;
  subject: string;
  email: string | null;
  name: string | null;
}

export function encodePendingIdentity(identity: PendingIdentity): string {
  return JSON.stringify(identity);
}

export function decodePendingIdentity(text: string): PendingIdentity | null {
  try {
    const v = JSON.parse(text) as PendingIdentity;
    const str = (x: unknown) => typeof x === 'string';
    const strOrNull = (x: unknown) => x === null || typeof x === 'string';
    return str(v.providerId) && str(v.providerName) && str(v.issuer) && str(v.subject) && strOrNull(v.email) && strOrNull(v.name) ? v : null;
  } catch {
    return null;
  }
}

/**
 * Links `pending` (as carried by the login's session) to the user who just finished signing in
 * with their password. Only a first link: an account already linked at that provider keeps its
 * identity, and an identity linked meanwhile to another account stays there (both audited).
 */
export async function linkConfirmedIdentity(app: App, tx: Tx, user: { id: string; login: string }, pendingText: string, ip: string): Promise<void> {
  const pending = decodePendingIdentity(pendingText);
  if (!pending) return;
  const inserted = await tx
    .insert(ssoIdentities)
    .values({
      userId: user.id,
      providerId: pending.providerId,
      issuer: pending.issuer,
      subject: pending.subject,
      email: pending.email,
      linkedBy: 'password',
      linkedAt: app.clock.now(),
    })
    .onConflictDoNothing()
    .returning({ id: ssoIdentities.id });
  await tx.delete(ssoLinkRequests).where(and(eq(ssoLinkRequests.issuer, pending.issuer), eq(ssoLinkRequests.subject, pending.subject)));
  await recordAudit(
    app,
    {
      action: inserted.length ? 'sso.linked' : 'sso.link_refused',
      actor: user,
      target: user.login,
      ip,
      details: { provider: pending.providerName, subject: pending.subject, email: pending.email, by: 'password', ...(inserted.length ? {} : { reason: 'already_linked' }) },
    },
    tx,
  );
}
