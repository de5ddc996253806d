// CPU profiles of a benchmark server's main thread (BENCH_PROFILE_DIR): slower, for diagnosis,
// never for the numbers. The server answers `profile` messages with `answerProfile`; the parent
// wraps a measurement in `profiled`. Shared by bench/run.ts and bench/cases.ts.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/** `start` begins profiling; `stop` writes the .cpuprofile file. The server answers `profiled`. */
export type ProfileMessage = { type: 'profile'; action: 'start' } | { type: 'profile'; action: 'stop'; file: string };

/** The server's side: one inspector session, started and stopped by the parent's messages. */
export function profileAnswerer(): (message: ProfileMessage) => Promise<void> {
  let session: Session | undefined;
  return async (message) => {
    if (message.action === 'start') {
      session ??= new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    } else if (session) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(message.file, JSON.stringify(profile));
      session.disconnect();
    }
  };
}

/** The parent's side: profiles the server during `work` into `file`, or just runs `work` without a file. */
export async function profiled<T>(ask: (message: ProfileMessage) => Promise<unknown>, file: string | null, work: () => PromiseLike<T>): Promise<T> {
  if (!file) return await work();
  await ask({ type: 'profile', action: 'start' });
  try {
    return await work();
  } finally {
    await ask({ type: 'profile', action: 'stop', file });
  }
}
