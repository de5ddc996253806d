import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that nobody listens on right now: listen on port 0, read the port the
 * kernel chose, close. Another process can take it before the caller binds it, so callers that
 * can retry on EADDRINUSE should, and should probe as late as possible.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      if (address === null || typeof address === 'string') {
        probe.close();
        reject(new Error('could not read the port of a probe socket'));
        return;
      }
      probe.close(() => resolve(address.port));
    });
  });
}
