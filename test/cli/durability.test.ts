import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { controlSocketPath, sendControlCommand } from '../../src/control/socket.ts';
import { lines, makeHavenDataDir, runHaven, startHavenProcess, type HavenDataDir, type HavenProcess } from '../helpers/cli.ts';

// DESIGN §3.1: the embedded database "must lose no committed write when the process is killed
// (kill -9)", and a lock left by a killed server is taken over at the next start.
// Writes go through the control socket of a real `haven start` process (in-process client, so
// that many writes fit in a short time); every acknowledged one must survive kill -9.

const WRITE_MS = 1_500;
/** Under load the first writes are slow: keep writing past WRITE_MS until this many are acknowledged. */
const MIN_ACKS_PER_CYCLE = 8;
const MAX_WRITE_MS = 20_000;
const WRITERS = 4;
const KILL_CYCLES = 2;

describe('kill -9 of a server on the embedded database', () => {
  let data: HavenDataDir;
  let socket: string;
  let server: HavenProcess | undefined;
  const acknowledged = new Set<string>();
  let next = 0;

  beforeAll(async () => {
    data = await makeHavenDataDir({ template: inject('pgliteTemplateDir') });
    socket = controlSocketPath(data.dir);
  });
  afterAll(async () => {
    await server?.kill('SIGKILL');
    data?.cleanup();
  });

  async function startServer(): Promise<HavenProcess> {
    const started = startHavenProcess(data.env);
    await started.ready;
    expect(readFileSync(join(data.dir, 'haven.lock'), 'utf8').trim()).toBe(String(started.proc.pid));
    return started;
  }

  async function listedLogins(): Promise<Set<string>> {
    const result = await sendControlCommand(socket, { argv: ['users', 'list'] });
    expect(result, 'the server answers on its control socket').not.toBeNull();
    expect(result!.code, result!.stderr).toBe(0);
    const rows = lines(result!.stdout).map((line) => line.split('\t'));
    for (const row of rows) expect(row).toHaveLength(4);
    return new Set(rows.map((row) => row[0]!));
  }

  function expectAllAcknowledged(listed: Set<string>): void {
    const lost = [...acknowledged].filter((login) => !listed.has(login));
    expect(lost, `acknowledged users lost after kill -9 (of ${acknowledged.size})`).toEqual([]);
  }

  /** Writes users through the socket (several at a time) until kill -9 hits the server mid-write. */
  async function writeThenKill(target: HavenProcess): Promise<{ acked: number; inFlightAtKill: number }> {
    let stopping = false;
    let inFlight = 0;
    let acked = 0;
    const refusals: string[] = [];
    const writer = async () => {
      while (!stopping) {
        const n = next++;
        const login = `u${n}`;
        inFlight++;
        try {
          const result = await sendControlCommand(socket, {
            argv: ['users', 'create', '--login', login, '--email', `${login}@example.org`, '--role', 'Paralegal', '--password-stdin'],
            stdin: `tulip7orbit-${n}\n`,
          });
          if (result?.code === 0) {
            acknowledged.add(login);
            acked++;
          } else if (result && !stopping) {
            refusals.push(`${login}: ${result.code} ${result.stderr}`);
          }
        } catch {
          // The server died under this request: not acknowledged, so no promise was made.
        } finally {
          inFlight--;
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, writer);
    const began = Date.now();
    while (Date.now() - began < WRITE_MS || (acked < MIN_ACKS_PER_CYCLE && Date.now() - began < MAX_WRITE_MS)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    stopping = true;
    const inFlightAtKill = inFlight;
    const exit = await target.kill('SIGKILL');
    await Promise.all(writers);
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(refusals, 'writes refused while the server was healthy').toEqual([]);
    // The killed server could not clean up: its lock and socket are left behind.
    expect(readFileSync(join(data.dir, 'haven.lock'), 'utf8').trim()).toBe(String(target.proc.pid));
    expect(existsSync(socket)).toBe(true);
    return { acked, inFlightAtKill };
  }

  test(`every acknowledged write survives ${KILL_CYCLES} kill -9 cycles`, async () => {
    const cycles: { acked: number; inFlightAtKill: number }[] = [];
    for (let cycle = 0; cycle < KILL_CYCLES; cycle++) {
      // Starting again takes over the stale lock of the killed server and opens the database.
      server = await startServer();
      expectAllAcknowledged(await listedLogins());
      cycles.push(await writeThenKill(server));
      server = undefined;
    }
    for (const { acked, inFlightAtKill } of cycles) {
      expect(acked, 'writes acknowledged in a cycle').toBeGreaterThan(0);
      expect(inFlightAtKill, 'writes in flight at kill -9').toBeGreaterThan(0);
    }

    // After the last kill: the database opens, holds every acknowledged user, and its audit
    // chain (one entry per created user, written in the same transaction) is intact.
    server = await startServer();
    expectAllAcknowledged(await listedLogins());
    const audit = await sendControlCommand(socket, { argv: ['audit', 'verify'] });
    expect(audit?.code, audit?.stderr).toBe(0);
    const entries = Number(/audit log intact: (\d+) entries/.exec(audit!.stdout)?.[1]);
    expect(entries).toBeGreaterThanOrEqual(acknowledged.size);

    // A clean stop, then the real CLI on its own (no server) sees the same users.
    expect(await server.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    server = undefined;
    expect(existsSync(join(data.dir, 'haven.lock'))).toBe(false);
    const listed = await runHaven(['users', 'list'], { env: data.env, timeoutMs: 60_000 });
    expect(listed.code, listed.stderr).toBe(0);
    expectAllAcknowledged(new Set(lines(listed.stdout).map((line) => line.split('\t')[0]!)));
    console.log(`durability: ${acknowledged.size} acknowledged writes checked after ${KILL_CYCLES} kill -9 cycles (${cycles.map((c) => `${c.acked} acked, ${c.inFlightAtKill} in flight at kill`).join('; ')})`);
  }, 150_000);
});
