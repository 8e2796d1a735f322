import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';

/** Where the kernel tells what it can do; injectable for tests. */
export interface KernelPaths {
  readonly sysModule: string;
  readonly modules: string;
  readonly release: string;
}

export const HOST_KERNEL: KernelPaths = {
  sysModule: '/sys/module',
  modules: '/lib/modules',
  release: release(),
};

/**
 * Whether the running kernel has a module, loaded, built in, or loadable on demand (the kernel autoloads
 * `rtnl-link-<kind>` when `ip link add … type <kind>` asks for it). Reads files only; never loads anything.
 */
export function kernelHasModule(name: string, k: KernelPaths = HOST_KERNEL): boolean {
  if (existsSync(join(k.sysModule, name))) return true;
  const want = new RegExp(`(^|/)${name}\\.ko(\\.[a-z]+)?:?$`, 'm');
  for (const f of ['modules.builtin', 'modules.dep']) {
    try {
      const text = readFileSync(join(k.modules, k.release, f), 'utf8');
      if (text.split('\n').some((l) => want.test(l.split(':')[0] ?? ''))) return true;
    } catch {}
  }
  return false;
}
