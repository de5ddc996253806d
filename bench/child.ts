// The benchmark servers run in a child process (their own event loop, their own CPU count),
// spoken to over IPC: the parent asks, the child answers with a message of a given type.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

type Message = { type: string };
type Failed = { type: 'failed'; error: string };

export interface BenchChild<P extends Message, C extends Message> {
  /** Sends `message` and waits for the first answer of type `answer` (a `failed` answer rejects). */
  ask<T extends C['type']>(message: P, answer: T): Promise<Extract<C, { type: T }>>;
  /** Asks the child to stop, and kills it if it has not after `killAfterMs`. */
  stop(): Promise<void>;
  /** The child's `ready` message; `progress` messages before it go to `onProgress`. */
  ready: Promise<Extract<C, { type: 'ready' }>>;
}

export function forkBenchChild<P extends Message, C extends Message>(
  script: URL,
  kind: string,
  env: Record<string, string>,
  options: { killAfterMs: number; onProgress?: (message: string) => void },
): BenchChild<P, C> {
  const child: ChildProcess = fork(fileURLToPath(script), [], {
    // BENCH_SERVER_ARGS: extra Node options for the server process only, e.g. --cpu-prof.
    execArgv: [...process.execArgv, ...(process.env.BENCH_SERVER_ARGS?.split(' ').filter(Boolean) ?? [])],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ask: BenchChild<P, C>['ask'] = (message, answer) =>
    new Promise((resolve, reject) => {
      const onMessage = (m: C) => {
        if (m.type === 'failed') {
          cleanup();
          reject(new Error(`the ${kind} server failed: ${(m as unknown as Failed).error}`));
        }
        if (m.type !== answer) return;
        cleanup();
        resolve(m as never);
      };
      const onExit = () => reject(new Error(`the ${kind} server process exited`));
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(message);
    });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.send({ type: 'stop' });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
    await exited;
    clearTimeout(timer);
  };
  const ready = new Promise<Extract<C, { type: 'ready' }>>((resolve, reject) => {
    const onMessage = (m: C & { message?: string }) => {
      if (m.type === 'progress') {
        options.onProgress?.(m.message ?? '');
      } else if (m.type === 'ready') {
        child.off('message', onMessage);
        resolve(m as never);
      } else if (m.type === 'failed') {
        reject(new Error(`the ${kind} server failed to start:\n${(m as unknown as Failed).error}`));
      }
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`the ${kind} server process exited early (code ${code})`)));
  });
  return { ask, stop, ready };
}
