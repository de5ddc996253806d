// What bench/cases.ts and its server process (bench/cases-server.ts) say to each other.
import type { ProfileMessage } from './profile.ts';
import type { SeedReport } from './cases-seed.ts';

/** Public, one primary-key query of `users` through drizzle: the "one-query request" of bench/run.ts, the case page's unit. */
export const CASES_ONE_QUERY_PATH = '/bench/cases/one-query';
/** Signed-in, one primary-key query of `clients` through drizzle (as searchCases runs its query): the search's baseline. */
export const CLIENT_BY_ID_PATH = '/bench/cases/client';

export const CASES_PASSWORD = 'tulip7orbit-haven';
/** Read Only: cases_view_all. */
export const READER = 'bench-cases-reader';
/** Intake Worker: cases_view_assigned; the first staff user, so 1 case in STAFF_COUNT is theirs (and some more as staff). */
export const ASSIGNED = 'bench-cases-assigned';
export const STAFF_COUNT = 50;

export type Viewer = 'reader' | 'assigned';

/** A seeded case, found by its g. */
export interface Sample {
  g: number;
  caseId: string;
  number: string;
  clientId: string;
  firstName: string;
  lastName: string;
}

export type DirectItem = { kind: 'pk'; id: string } | { kind: 'search'; q: string };

export type CasesParentMessage =
  | { type: 'count' }
  | { type: 'record' }
  | { type: 'recorded' }
  /** Runs the items one after the other in-process and times each. */
  | { type: 'direct'; viewer: Viewer; items: DirectItem[] }
  /** EXPLAIN (ANALYZE, BUFFERS) of the statement searchCases runs for `q`. */
  | { type: 'explain'; viewer: Viewer; q: string }
  /** CPU-profile the server's main thread (BENCH_PROFILE_DIR, bench/profile.ts). */
  | ProfileMessage
  | { type: 'stop' };

export type CasesChildMessage =
  | { type: 'progress'; message: string }
  | { type: 'ready'; httpsPort: number; seed: SeedReport; seedColumnProblems: string[]; samples: Sample[]; tableSizes: string; settings: string }
  | { type: 'failed'; error: string }
  | { type: 'count'; count: number; cpuMicros: number }
  | { type: 'recording' }
  | { type: 'statements'; statements: string[] }
  | { type: 'direct'; ms: number[]; results: number[] }
  | { type: 'explain'; statement: string; params: unknown[]; plan: string }
  | { type: 'profiled' };
