import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UnsupportedError } from '../errors.js';
import type { ClusterSpec } from '../model/cluster.js';
import { HOST_KERNEL, type KernelPaths, kernelHasModule } from '../observe/kernel.js';

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

/** Kernel modules each cross-node backend needs (host-gw needs nothing beyond routing). */
const BACKEND_MODULES: Readonly<Record<string, { module: string; what: string }>> = {
  vxlan: { module: 'vxlan', what: 'VXLAN devices' },
  ipip: { module: 'ipip', what: 'IP-in-IP tunnels' },
};

/**
 * Fails, before anything is created, when the kernel lacks the cross-node backend's device type, naming the
 * alternatives. `--dry-run` skips this: the plan is the same on any kernel.
 */
export function requireCrossNodeSupport(
  spec: Pick<ClusterSpec, 'crossNode'>,
  k: KernelPaths = HOST_KERNEL,
): void {
  const need = BACKEND_MODULES[spec.crossNode];
  if (!need || kernelHasModule(need.module, k)) return;
  const usable = (m: string) => {
    const b = BACKEND_MODULES[m];
    return !b || kernelHasModule(b.module, k);
  };
  const others = ['host-gw', 'vxlan', 'ipip'].filter((m) => m !== spec.crossNode && usable(m));
  throw new UnsupportedError(
    `crossNode '${spec.crossNode}' needs the kernel's '${need.module}' module (${need.what}), which kernel ${k.release} does not have (not in ${join(k.sysModule, need.module)}, nor in ${join(k.modules, k.release)}); alternatives on this kernel: ${others.map((o) => `--cross-node ${o}`).join(', ') || 'none'}; or run the lab on a kernel that has it (the VM lane); 'podnet lab up --dry-run' still prints the full plan`,
  );
}
