import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UnsupportedError } from '../errors.js';

/** Labs create namespaces and processes: root only. */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0)
    throw new UnsupportedError(
      `${what} needs root (it creates network namespaces); run it as root, or use --dry-run to print the commands`,
    );
}

/** The directory of an executable on PATH, or undefined. */
export function which(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return join(dir, tool);
    } catch {}
  }
  return undefined;
}

/** Fails with every missing tool named at once, and how to get them. */
export async function requireTools(tools: readonly string[]): Promise<void> {
  const missing = tools.filter((t) => !which(t));
  if (missing.length)
    throw new UnsupportedError(
      `missing tools: ${missing.join(', ')}; run scripts/bootstrap.sh (Debian packages iproute2, util-linux, procps, busybox-static, hostname)`,
    );
}
