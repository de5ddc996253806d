// What bench/run.ts and its server process (bench/server.ts) say to each other.
import type { ProfileMessage } from './profile.ts';

/** The baseline route: public, one primary-key query run the way routes run queries (drizzle), a tiny body. */
export const BASELINE_PATH = '/bench/one-query';
/** The same query as a named statement, as the session lookup runs: the cheapest round trip there is (reported). */
export const PREPARED_BASELINE_PATH = '/bench/one-prepared-query';
/** Diagnostic: a signed-in route that queries nothing itself and sends a tiny body (the security layer alone). */
export const SIGNED_IN_PATH = '/bench/signed-in';
/** Accepted by the password policy (letters and digits, not predictable, not breached). */
export const BENCH_PASSWORD = 'tulip7orbit-haven';
/** Signs in once for the page benchmarks; its id is what the baseline route looks up. */
export const PAGE_USER = 'bench-page';

/** One account per concurrent login loop and per login run, so no account queues behind itself. */
export function loginUsers(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `bench-login-${i}`);
}

/** Accounts with an authenticator app (secret BENCH_TOTP_SECRET). A TOTP code works once per user, so each login takes a fresh account. */
export const TOTP_USER_COUNT = 2000;
export const BENCH_TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
export function totpUser(i: number): string {
  return `bench-totp-${i}`;
}

export type ParentMessage =
  | { type: 'record' }
  | { type: 'recorded' }
  | { type: 'count' }
  | { type: 'throttle'; keys: string[] }
  /** Start tracking the server's peak resident memory afresh; `memory` answers with the peak since. */
  | { type: 'memory-reset' }
  | { type: 'memory' }
  /** CPU-profile the server's main thread (BENCH_PROFILE_DIR, bench/profile.ts). */
  | ProfileMessage
  | { type: 'stop' };

export interface ThrottleRow {
  key: string;
  failures: number;
  /** Seconds from now until the counter's next turn (negative: free now). */
  nextInSeconds: number;
}

export type ChildMessage =
  | { type: 'ready'; httpsPort: number; passwordHash: string; apiToken: string }
  | { type: 'failed'; error: string }
  | { type: 'recording' }
  | { type: 'statements'; statements: string[] }
  /** Statements so far, and the server process's CPU time (user + system, microseconds, all threads). */
  | { type: 'count'; count: number; cpuMicros: number }
  | { type: 'throttle'; rows: ThrottleRow[] }
  /** Resident set size now and its peak since the last reset, bytes (sampled every 10 ms). */
  | { type: 'memory'; rss: number; peakRss: number }
  | { type: 'profiled' };
