import { and, eq, inArray, lte, or } from 'drizzle-orm';
import type { App } from '../context.ts';
import { apiRateWindows, conflictResults, intakeApplications, mfaEmailCodes, mfaTrustedDevices, sessions, setupTokens, ssoLinkRequests } from '../db/schema.ts';
import type { Job, JobWork } from '../jobs/service.ts';
import { pruneCutoffs } from '../security/retention.ts';

export interface PruneReport {
  sessions: number;
  emailCodes: number;
  trustedDevices: number;
  setupTokens: number;
  abandonedApplications: number;
}

/**
 * Deletes the security records that their own rules already refuse (src/security/retention.ts):
 * dead sessions, expired e-mailed codes, remembered devices past their 24 hours, expired setup
 * links; and the identity data of applications abandoned mid-intake. Never a client, a case, the
 * audit log or mail.
 */
export async function pruneExpired(app: App): Promise<PruneReport> {
  const cut = pruneCutoffs(app.clock.now());
  return app.db.transaction(async (t) => {
    const deadSessions = await t
      .delete(sessions)
      .where(or(lte(sessions.lastSeenAt, cut.sessionsLastSeenBy), lte(sessions.expiresAt, cut.sessionsExpiredBy)))
      .returning({ id: sessions.id });
    const codes = await t
      .delete(mfaEmailCodes)
      .where(and(lte(mfaEmailCodes.expiresAt, cut.emailCodesExpiredBy), lte(mfaEmailCodes.createdAt, cut.emailCodesSentBy)))
      .returning({ id: mfaEmailCodes.id });
    const devices = await t
      .delete(mfaTrustedDevices)
      .where(lte(mfaTrustedDevices.lastLoginAt, cut.trustedDevicesLastLoginBy))
      .returning({ userId: mfaTrustedDevices.userId });
    // Used links wait for their expiry too: completeSetup un-claims its link when the form has an error.
    const tokens = await t.delete(setupTokens).where(lte(setupTokens.expiresAt, cut.setupTokensExpiredBy)).returning({ tokenHash: setupTokens.tokenHash });
    // Abandoned applications keep what screened them, like halted ones, and lose the rest.
    const abandoned = await t
      .update(intakeApplications)
      .set({ status: 'abandoned', dataKey: null, identitySealed: null, adverseParties: null, updatedAt: app.clock.now() })
      .where(and(eq(intakeApplications.status, 'open'), lte(intakeApplications.updatedAt, cut.applicationsUntouchedBy)))
      .returning({ id: intakeApplications.id });
    if (abandoned.length) await t.delete(conflictResults).where(inArray(conflictResults.applicationId, abandoned.map((a) => a.id)));
    await t.delete(apiRateWindows).where(lte(apiRateWindows.windowStart, cut.apiRateWindowsStartedBy));
    await t.delete(ssoLinkRequests).where(lte(ssoLinkRequests.requestedAt, cut.ssoLinkRequestsBy));
    return { sessions: deadSessions.length, emailCodes: codes.length, trustedDevices: devices.length, setupTokens: tokens.length, abandonedApplications: abandoned.length };
  });
}

/** Hourly; a run that deleted something is recorded in job_runs with its counts. */
export const PRUNE_JOB: Job = {
  name: 'housekeeping.prune',
  lockKey: 7_210_102,
  record: 'when-worked',
  async run(app): Promise<JobWork> {
    const report = await pruneExpired(app);
    const deleted = report.sessions + report.emailCodes + report.trustedDevices + report.setupTokens + report.abandonedApplications;
    return { worked: deleted > 0, details: { ...report } };
  },
};

export const PRUNE_SCHEDULE = '0 17 * * * *';
