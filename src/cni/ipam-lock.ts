import { closeSync } from 'node:fs';
import { resolve } from 'node:path';
import { shortHash } from '../net/ifname.js';
import { CNI_ERR, CniError } from './errors.js';

/** The IPAM store's lock (ipam-store.ts): the kernel-held abstract socket, and the in-process queue before it. */

/** The last holder-or-waiter of each store's lock in this process (see IpamStore.withLock). */
export const inProcess = new Map<string, Promise<void>>();

export const lockBusy = (dir: string, timeoutMs: number) =>
  new CniError(
    CNI_ERR.TRY_AGAIN,
    `IPAM store '${dir}' is still locked after ${timeoutMs / 1000}s by another invocation; try again`,
  );

/** A pause between lock attempts (node:timers/promises would load streams and AbortController for this). */
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/**
 * The IPAM lock: an abstract unix socket (`\0podnet-ipam:<hash of the store path>`). bind() of a name that is
 * bound fails with EADDRINUSE, and the kernel unbinds it the moment the holder's socket closes, which includes
 * the holder dying by SIGKILL: no lock files, no stale-lock detection, no spawned `flock` (~10 ms per ADD saved).
 * Abstract names are scoped to the network namespace, which is exactly the scope of a store: every invocation
 * for a node runs in the node's namespace, where the bridge that the store's addresses belong to lives.
 * Waiters retry with a growing, jittered back-off.
 */
export async function acquireLock(
  dir: string,
  timeoutMs: number,
  tryLock?: (name: string) => number,
): Promise<() => Promise<void>> {
  const name = `podnet-ipam:${shortHash(resolve(dir), 24)}`;
  const deadline = Date.now() + timeoutMs;
  let wait = 1;
  for (;;) {
    let err: NodeJS.ErrnoException | undefined;
    if (tryLock) {
      try {
        const fd = tryLock(name);
        if (fd >= 0) return async () => closeSync(fd);
        err = Object.assign(new Error('lock is taken'), { code: 'EADDRINUSE' });
      } catch (e) {
        err = e as NodeJS.ErrnoException;
      }
    } else {
      // Loaded only here: the plugin with the native addon never pays for the net module.
      const { createServer } = process.getBuiltinModule('node:net');
      const server = createServer();
      err = await new Promise<NodeJS.ErrnoException | undefined>((done) => {
        server.once('error', (e) => done(e as NodeJS.ErrnoException));
        server.listen({ path: `\0${name}`, exclusive: true }, () => done(undefined));
      });
      if (!err) {
        server.unref();
        return () => new Promise<void>((done) => server.close(() => done()));
      }
    }
    if (err.code !== 'EADDRINUSE')
      throw new CniError(CNI_ERR.IO_FAILURE, `cannot take the IPAM lock for '${dir}': ${err.message}`, '', {
        cause: err,
      });
    if (Date.now() > deadline) throw lockBusy(dir, timeoutMs);
    await sleep(wait * (0.5 + Math.random()));
    wait = Math.min(wait * 1.6, 10);
  }
}
