import { spawn } from 'node:child_process';

/**
 * Takes an exclusive flock(2) on an already open file for the calling process. Node has no flock, so util-linux
 * `flock` runs on an inherited copy of the descriptor: flock locks belong to the open file description, which the
 * child shares with us, so the lock stays held after the child exits, until `fd` is closed or this process dies
 * (the kernel drops it even on SIGKILL: no stale lock files, no PID checks).
 * Resolves true when the lock is held, false when `timeoutSeconds` passed first.
 */
export function flockFd(fd: number, timeoutSeconds: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'flock',
      ['--exclusive', '--wait', String(timeoutSeconds), '--conflict-exit-code', '75', '3'],
      {
        stdio: ['ignore', 'ignore', 'pipe', fd],
      },
    );
    const err: Buffer[] = [];
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => reject(new Error(`could not run flock: ${e.message}`, { cause: e })));
    child.on('close', (code) => {
      if (code === 0) resolve(true);
      else if (code === 75) resolve(false);
      else reject(new Error(`flock failed (exit ${code}): ${Buffer.concat(err).toString().trim()}`));
    });
  });
}
