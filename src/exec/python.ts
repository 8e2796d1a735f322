import { accessSync, constants } from 'node:fs';

let cached: string | undefined;

/**
 * The Python interpreter for podnet's helpers (spawner, probe): Debian's /usr/bin/python3 when present.
 * Version managers' shims found first on PATH (pyenv's is a shell script) add hundreds of milliseconds a start.
 */
export function python3(): string {
  if (cached) return cached;
  for (const p of ['/usr/bin/python3', '/usr/local/bin/python3']) {
    try {
      accessSync(p, constants.X_OK);
      cached = p;
      return p;
    } catch {}
  }
  cached = 'python3';
  return cached;
}
