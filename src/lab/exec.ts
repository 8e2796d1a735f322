import { StateError } from '../errors.js';
import { execInteractive } from '../exec/interactive.js';
import { inPod } from '../render/observe.js';
import type { LoadedLab } from './load.js';
import { labPaths } from './up.js';

/**
 * Runs a command inside a pod the way a container runs: joined to the pause process's namespaces with
 * nsenter (seed §2.2), chrooted when the container has its own root filesystem. Returns its exit code.
 */
export async function labExec(
  l: LoadedLab,
  pod: string,
  container: string | undefined,
  argv: readonly string[],
): Promise<number> {
  const p = l.cluster.pods.find((x) => x.name === pod);
  if (!p)
    throw new StateError(
      `no pod '${pod}' in lab '${l.state.lab}'; pods: ${l.cluster.pods.map((x) => x.name).join(', ')}`,
    );
  const pid = l.pausePids.get(pod);
  if (!pid)
    throw new StateError(`pod '${pod}' is not running (its pause process is gone); run 'podnet lab status'`);
  const names = p.containers.length ? p.containers.map((c) => c.name) : ['web', 'sidecar'];
  if (container !== undefined && !names.includes(container))
    throw new StateError(`pod '${pod}' has no container '${container}'; containers: ${names.join(', ')}`);
  const spec = p.containers.find((c) => c.name === container);
  const chroot = spec?.rootfs === 'busybox' ? labPaths(l.state).overlay(pod, spec.name).merged : undefined;
  if (argv.length === 0) throw new StateError('give a command after --, e.g. podnet lab exec a0 -- ip addr');
  return execInteractive(inPod(pid, chroot, argv));
}
