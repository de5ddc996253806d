import type { App } from '../context.ts';
import type { SessionContext } from '../sessions/service.ts';
import { getSiteSettings } from '../settings/service.ts';
import { availableMethods, mayDisableOwnMfa, type MethodAvailability } from '../security/mfa.ts';
import { mfaState, type MfaState } from '../mfa/service.ts';

export interface Preferences {
  mfa: MfaState;
  /** The methods the site offers for "Enable MFA", each with whether it can be chosen now. */
  methods: MethodAvailability[];
  /** Whether the user may turn their own MFA off (not when their role requires it). */
  mayDisableMfa: boolean;
}

/** What My Preferences shows the signed-in user about their own account. */
export async function preferencesOf(app: App, session: SessionContext): Promise<Preferences | null> {
  const [settings, mfa] = await Promise.all([getSiteSettings(app), mfaState(app, session.user.id)]);
  if (!mfa) return null;
  return {
    mfa,
    methods: availableMethods(settings, { mailConfigured: Boolean(app.config.smtpUrl) }),
    mayDisableMfa: mayDisableOwnMfa(settings, { roleName: session.user.roleName, permissions: session.permissions }),
  };
}
