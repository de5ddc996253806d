import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';

/** The project root: `bin/haven.mjs` is run from here, as `npx haven` would. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface HavenRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface HavenDataDir {
  dir: string;
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

/**
 * A fresh, empty data directory and an environment for the `haven` processes: embedded database
 * (no DATABASE_URL), free ports, nothing inherited from the caller's HAVEN_* variables.
 * With `template`, the migrated PGlite template is copied in (saves the seconds of first creation).
 */
export async function makeHavenDataDir(options: { template?: string } = {}): Promise<HavenDataDir> {
  const dir = mkdtempSync(join(tmpdir(), 'haven-cli-'));
  if (options.template) cpSync(options.template, join(dir, 'db'), { recursive: true });
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('HAVEN_') || key === 'DATABASE_URL' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  const [https, http] = [await freePort(), await freePort()];
  Object.assign(env, {
    HAVEN_DATA_DIR: dir,
    HAVEN_HTTPS_PORT: String(https),
    HAVEN_HTTP_PORT: String(http),
    HAVEN_HOST: '127.0.0.1',
    HAVEN_LOG_LEVEL: 'warn',
  });
  return { dir, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `node bin/haven.mjs ...args` to completion. `stdin` is written, then standard input is closed. */
export function runHaven(args: string[], options: { env: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number }): Promise<HavenRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['bin/haven.mjs', ...args], { cwd: PROJECT_ROOT, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin!.on('error', () => {}); // the process may exit without reading it
    child.stdin!.end(options.stdin ?? '');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`haven ${args.join(' ')} did not finish within ${options.timeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr });
    });
  });
}

export interface HavenProcess {
  proc: ChildProcess;
  /** Resolves with the output so far once stdout says "Haven is listening"; rejects if the process exits first. */
  ready: Promise<string>;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node bin/haven.mjs start` in the background. */
export function startHavenProcess(env: NodeJS.ProcessEnv, options: { readyTimeoutMs?: number } = {}): HavenProcess {
  const proc = spawn(process.execPath, ['bin/haven.mjs', 'start'], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    proc.once('exit', (code, signal) => resolveExit({ code, signal }));
  });
  const ready = new Promise<string>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`Haven did not start within ${options.readyTimeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`)), options.readyTimeoutMs ?? 60_000);
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('Haven is listening')) {
        clearTimeout(timer);
        resolveReady(stdout);
      }
    });
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`Haven exited (code ${code}, signal ${signal}) before listening\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
  ready.catch(() => {}); // callers that never await it must not see an unhandled rejection
  return {
    proc,
    ready,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    kill(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** The lines of a text, without the empty last one. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line, i, all) => line !== '' || i < all.length - 1);
}
