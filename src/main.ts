import { resolve } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { controlSocketPath, sendControlCommand, type CommandResult } from './control/socket.ts';

// Only what every command needs is imported up front; the server, the database and argon2
// load on demand, so a command sent to a running Haven starts quickly.

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

const say = (line: string) => process.stdout.write(`${line}\n`);

async function start(config: Config): Promise<number> {
  // Signals are handled from the first moment, so that a stop during migration still closes cleanly.
  let stopRequested: (signal: string) => void = () => {};
  const stopSignal = new Promise<string>((resolve) => (stopRequested = resolve));
  process.once('SIGINT', () => stopRequested('SIGINT'));
  process.once('SIGTERM', () => stopRequested('SIGTERM'));
  const { startHaven } = await import('./start.ts');
  const haven = await startHaven(config);
  say(`Haven is listening on https://${config.host}:${haven.httpsPort} (HTTP ${haven.httpPort} redirects to HTTPS).`);
  say(`Open ${config.baseUrl}/ in a browser.`);
  say(`TLS certificate SHA-256 fingerprint: ${haven.fingerprint}`);
  if (haven.masterKey.created) {
    say(`Created the encryption master key file ${haven.masterKey.path}. Without it sealed data cannot be read: keep a copy apart from the backups (docs/OPERATIONS.md).`);
  }
  if (haven.inboundPort !== null) say(`Incoming case mail: SMTP with STARTTLS on ${config.host}:${haven.inboundPort}, for case-<number>@${config.inboundDomain}.`);
  say(config.databaseUrl ? 'Database: PostgreSQL server.' : `Database: embedded (PGlite) in ${config.dataDir}. For production, use a PostgreSQL server (DATABASE_URL).`);
  if (haven.setupUrl) {
    say('');
    say('No users yet. Create the first Site Administrator at this one-time URL (valid for one hour):');
    say(`  ${haven.setupUrl}`);
  }
  const signal = await stopSignal;
  say(`Received ${signal}; closing the database and stopping.`);
  await haven.stop();
  return 0;
}

const LOCK_WAIT_MS = 30_000;

/**
 * A command that needs the database: through the running server's control socket, or by
 * opening the database ourselves. While another process holds the data directory without a
 * socket (a server still starting, another command), wait for it a little.
 */
async function databaseCommand(config: Config, argv: string[], stdin: string | undefined): Promise<CommandResult> {
  const { DataDirLockedError, lockDataDir } = await import('./db/lock.ts');
  let unlock = () => {};
  if (!config.databaseUrl) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      const viaServer = await sendControlCommand(controlSocketPath(config.dataDir), { argv, stdin });
      if (viaServer) return viaServer;
      try {
        unlock = await lockDataDir(config.dataDir);
        break;
      } catch (error) {
        if (!(error instanceof DataDirLockedError) || Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
  try {
    const [{ openApp }, { runCommand }, { default: pino }] = await Promise.all([import('./app.ts'), import('./cli/commands.ts'), import('pino')]);
    const app = await openApp(config, { log: pino({ level: 'warn' }, pino.destination(2)) });
    try {
      return await runCommand(app, { argv, stdin }, (line) => process.stdout.write(`${line}\n`));
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
    if (command === 'help' || command === '--help' || command === '-h') {
      const { USAGE } = await import('./cli/usage.ts');
      say(USAGE);
      return 0;
    }
    const config = loadConfig();
    if (command === 'start') return await start(config);
    if (command === 'failover') {
      const { runFailoverCommand } = await import('./failover/cli.ts');
      return await runFailoverCommand(config, argv.slice(1), say, (line) => process.stderr.write(`${line}\n`));
    }
    const stdin = argv.includes('--password-stdin') || argv.includes('--client-secret-stdin') ? readStdin() : undefined;
    // A directory named on the command line is the caller's: made absolute here, since a
    // running server carries the command out from its own working directory.
    const args = argv.map((arg, i) => (argv[i - 1] === '--to' && !/^postgres(ql)?:\/\//.test(arg) ? resolve(arg) : arg));
    const result = await databaseCommand(config, args, stdin);
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    return result.code;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      process.stderr.write(`haven: a port is already in use; set HAVEN_HTTPS_PORT / HAVEN_HTTP_PORT (${(error as Error).message.split('\n')[0]}).\n`);
    } else if (error instanceof ConfigError) {
      process.stderr.write(`haven: ${error.message}\n`);
    } else {
      process.stderr.write(`haven: ${(error as Error).message.split('\n')[0]}\n`);
    }
    return 1;
  }
}
