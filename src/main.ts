import { mkdirSync, readFileSync } from 'node:fs';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openApp } from './app.ts';
import { DataDirLockedError, lockDataDir } from './db/lock.ts';
import { runCommand, USAGE } from './cli/commands.ts';
import { controlSocketPath, sendControlCommand, type CommandResult } from './control/socket.ts';
import { startHaven } from './start.ts';
import pino from 'pino';

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

async function start(config: Config): Promise<number> {
  const haven = await startHaven(config);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`Haven is listening on https://${config.host}:${haven.httpsPort} (HTTP ${haven.httpPort} redirects to HTTPS).`);
  say(`Open ${config.baseUrl}/ in a browser.`);
  say(`TLS certificate SHA-256 fingerprint: ${haven.fingerprint}`);
  say(config.databaseUrl ? 'Database: PostgreSQL server.' : `Database: embedded (PGlite) in ${config.dataDir}. For production, use a PostgreSQL server (DATABASE_URL).`);
  if (haven.setupUrl) {
    say('');
    say('No users yet. Create the first Site Administrator at this one-time URL (valid for one hour):');
    say(`  ${haven.setupUrl}`);
  }
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      say(`Received ${signal}; closing the database and stopping.`);
      resolve();
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
  await haven.stop();
  return 0;
}

/** A command that needs the database: through the running server, or by opening it ourselves. */
async function databaseCommand(config: Config, argv: string[], stdin: string | undefined): Promise<CommandResult> {
  if (!config.databaseUrl) {
    const viaServer = await sendControlCommand(controlSocketPath(config.dataDir), { argv, stdin });
    if (viaServer) return viaServer;
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  }
  const unlock = config.databaseUrl ? () => {} : lockDataDir(config.dataDir);
  try {
    const app = await openApp(config, { log: pino({ level: 'warn' }, pino.destination(2)) });
    try {
      return await runCommand(app, { argv, stdin });
    } finally {
      await app.database.close();
    }
  } finally {
    unlock();
  }
}

/** The `haven` command line. Returns the exit code; errors are one line on standard error. */
export async function main(argv: string[]): Promise<number> {
  const [command = 'help'] = argv;
  try {
    const config = loadConfig();
    if (command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (command === 'start') return await start(config);
    const stdin = argv.includes('--password-stdin') ? readStdin() : undefined;
    const result = await databaseCommand(config, argv, stdin);
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    return result.code;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DataDirLockedError) {
      process.stderr.write(`haven: ${error.message}\n`);
      return 1;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      process.stderr.write(`haven: a port is already in use (${(error as Error).message.split('\n')[0]}); set HAVEN_HTTPS_PORT / HAVEN_HTTP_PORT.\n`);
      return 1;
    }
    process.stderr.write(`haven: ${(error as Error).message.split('\n')[0]}\n`);
    return 1;
  }
}
