// When expired security records may be deleted (the housekeeping job, src/housekeeping/).
// They hold only hashes, but a database should not keep what no rule will read again. Each
// cutoff is the instant from which the record's own rule refuses it, so deleting changes
// no answer.

import { SSO_LINK_REQUEST_LIFETIME_MS } from './sso.ts';
import { TRUSTED_DEVICE_MS } from './mfa.ts';
import { rateWindowStart } from './api-tokens.ts';

/** The window of the hourly limit on e-mailed codes. */
export const CODE_MAIL_WINDOW_MS = 3_600_000;
import { SESSION_TIMEOUT_MAX_MINUTES } from './site-settings.ts';

export interface PruneCutoffs {
  /**
   * Sessions last seen at or before this are idle-timed-out under any allowed setting (the
   * longest is SESSION_TIMEOUT_MAX_MINUTES; a shorter site or network timeout is enforced at each
   * request, so pruning does not rely on today's value).
   */
  sessionsLastSeenBy: Date;
  /** Sessions whose absolute lifetime ends at or before this. */
  sessionsExpiredBy: Date;
  /** E-mailed codes whose 15 minutes end at or before this… */
  emailCodesExpiredBy: Date;
  /** …and that were sent at or before this: they count towards the hourly sending limit until then. */
  emailCodesSentBy: Date;
  /** Remembered MFA devices whose last login is at or before this: no longer trusted. */
  trustedDevicesLastLoginBy: Date;
  /** Setup links that expired at or before this (used ones too: only expiry counts). */
  setupTokensExpiredBy: Date;
  /**
   * Intake applications still open and untouched since this are abandoned: whatever identity
   * data they hold is erased (an application is a phone call, not a file to keep).
   */
  applicationsUntouchedBy: Date;
  /** API rate windows that started at or before this belong to a past minute: they count nothing. */
  apiRateWindowsStartedBy: Date;
  /** SSO identities waiting for a link since this are no longer shown: the person signs in again. */
  ssoLinkRequestsBy: Date;
}

/** How long an unfinished application may wait for its worker before its identity data is erased. */
export const APPLICATION_ABANDONED_MS = 24 * 3_600_000;

export function pruneCutoffs(now: Date): PruneCutoffs {
  const t = now.getTime();
  return {
    sessionsLastSeenBy: new Date(t - SESSION_TIMEOUT_MAX_MINUTES * 60_000),
    sessionsExpiredBy: now,
    emailCodesExpiredBy: now,
    emailCodesSentBy: new Date(t - CODE_MAIL_WINDOW_MS),
    trustedDevicesLastLoginBy: new Date(t - TRUSTED_DEVICE_MS),
    setupTokensExpiredBy: now,
    applicationsUntouchedBy: new Date(t - APPLICATION_ABANDONED_MS),
    apiRateWindowsStartedBy: new Date(rateWindowStart(now).getTime() - 1),
    ssoLinkRequestsBy: new Date(t - SSO_LINK_REQUEST_LIFETIME_MS),
  };
}
