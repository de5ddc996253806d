import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Clock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { startHaven, type RunningHaven } from '../../src/start.ts';
import { freePort } from './ports.ts';

export interface RealHavenOptions {
  /** A PostgreSQL database (e.g. `createDatabase(inject('pgClusterUrl'))`); unset = embedded PGlite in the data dir. */
  databaseUrl?: string;
  /** More HAVEN_* environment variables for loadConfig. */
  env?: Record<string, string>;
  clock?: Clock;
  /**
   * A migrated PGlite directory to start from (`inject('pgliteTemplateDir')`), copied to
   * `<data dir>/db`: skips creating the embedded database, which costs seconds. Unset = a
   * first start from nothing, exactly as `npm start` does.
   */
  pgliteTemplateDir?: string;
}

export interface RealHaven {
  haven: RunningHaven;
  /** `https://localhost:<port>`: the app's own config.baseUrl. */
  baseUrl: string;
  /** The one-time first-administrator URL Haven printed, or null if it already has users. */
  setupUrl: string | null;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Starts the real Haven (startHaven: TLS with a generated self-signed certificate, the
 * redirect-only HTTP port, the control socket) in a fresh data directory, as `npm start` would.
 * The base URL uses the host name `localhost`, not an IP address, as a browser user would.
 */
export async function startRealHaven(options: RealHavenOptions = {}): Promise<RealHaven> {
  const dataDir = await mkdtemp(join(tmpdir(), 'haven-e2e-'));
  try {
    if (options.pgliteTemplateDir && !options.databaseUrl) {
      await cp(options.pgliteTemplateDir, join(dataDir, 'db'), { recursive: true });
    }
    // The HTTPS port must be known before start: it is part of HAVEN_BASE_URL. Another process
    // could take it between probe and listen; retry a few times if so.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const baseUrl = `https://localhost:${port}`;
      const config = loadConfig({
        HAVEN_DATA_DIR: dataDir,
        HAVEN_HTTPS_PORT: String(port),
        HAVEN_HTTP_PORT: '0',
        HAVEN_HOST: '127.0.0.1',
        HAVEN_BASE_URL: baseUrl,
        ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
        ...options.env,
      });
      let haven: RunningHaven;
      try {
        haven = await startHaven(config, { log: pino({ level: 'silent' }), ...(options.clock ? { clock: options.clock } : {}) });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 5) continue;
        throw error;
      }
      let stopped: Promise<void> | undefined;
      return {
        haven,
        baseUrl,
        setupUrl: haven.setupUrl,
        stop: () => (stopped ??= haven.stop().finally(() => rm(dataDir, { recursive: true, force: true }))),
      };
    }
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}
