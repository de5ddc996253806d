import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';

// While Haven runs on the embedded database, only it may open the database, so `haven`
// commands are carried out by the server itself, asked through this socket. The socket is
// mode 0600 in a 0700 directory: only the data directory's owner can open it.

export interface CommandRequest {
  argv: string[];
  stdin?: string;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function controlSocketPath(dataDir: string): string {
  return join(dataDir, 'control.sock');
}

export function serveControlSocket(path: string, run: (request: CommandRequest) => Promise<CommandResult>): Promise<Server> {
  if (existsSync(path)) unlinkSync(path); // left by a process that is gone: we hold the data dir lock
  const server = createServer((socket) => {
    let buffer = '';
    let handled = false;
    socket.setEncoding('utf8');
    // One command per connection: anything after the first line is ignored.
    socket.on('data', (chunk) => {
      if (handled) return;
      buffer += chunk;
      if (buffer.length > 1_000_000) {
        socket.destroy();
        return;
      }
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      handled = true;
      let request: CommandRequest;
      try {
        request = JSON.parse(buffer.slice(0, newline));
        if (!Array.isArray(request.argv) || !request.argv.every((a) => typeof a === 'string')) throw new Error('bad request');
      } catch {
        socket.end(`${JSON.stringify({ code: 2, stdout: '', stderr: 'haven: malformed control request\n' })}\n`);
        return;
      }
      run(request).then(
        (result) => socket.end(`${JSON.stringify(result)}\n`),
        () => socket.end(`${JSON.stringify({ code: 1, stdout: '', stderr: 'haven: the command failed inside the server; see its log\n' })}\n`),
      );
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    const previous = process.umask(0o177);
    server.once('error', (error) => {
      process.umask(previous);
      reject(error);
    });
    server.listen(path, () => {
      process.umask(previous);
      chmodSync(path, 0o600);
      resolve(server);
    });
  });
}

const COMMAND_TIMEOUT_MS = 10 * 60_000;

/** Asks a running Haven to carry out a command; null when no server is listening. */
export function sendControlCommand(path: string, request: CommandRequest): Promise<CommandResult | null> {
  return new Promise((resolve, reject) => {
    if (!existsSync(path)) return resolve(null);
    const socket = createConnection(path);
    socket.setTimeout(COMMAND_TIMEOUT_MS, () => {
      socket.destroy();
      reject(new Error('The running Haven did not answer within 10 minutes.'));
    });
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk) => (buffer += chunk));
    socket.on('end', () => {
      try {
        resolve(JSON.parse(buffer) as CommandResult);
      } catch {
        reject(new Error('The running Haven sent an unreadable answer.'));
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolve(null);
      else reject(error);
    });
  });
}
