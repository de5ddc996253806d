import { createHash } from 'node:crypto';
import { realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export class DataDirLockedError extends Error {}

/**
 * One process at a time may open the embedded database: PGlite corrupts a data directory
 * that two processes write. The lock is a Linux abstract-namespace socket named after the
 * directory: binding it is atomic, and the kernel releases it when the process dies, even
 * by kill -9, so there is no stale lock to take over and no race in taking one over.
 * `haven.lock` beside the data only tells people which process holds it.
 */
export async function lockDataDir(dataDir: string): Promise<() => void> {
  const real = realpathSync(dataDir);
  const name = `\0haven-data-dir-${createHash('sha256').update(real).digest('hex').slice(0, 32)}`;
  const holder = createServer();
  await new Promise<void>((resolve, reject) => {
    holder.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new DataDirLockedError(`Haven is already running on ${real}; stop it first or use another HAVEN_DATA_DIR.`));
      else reject(error);
    });
    holder.listen(name, () => resolve());
  });
  holder.unref();
  const infoFile = join(real, 'haven.lock');
  writeFileSync(infoFile, `${process.pid}\n`, { mode: 0o600 });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    rmSync(infoFile, { force: true });
    holder.close();
  };
}
