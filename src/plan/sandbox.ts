import type { ContainerLaunch, Op, PidVar } from './ops.js';

/**
 * The pod sandbox (seed §2.1): a pause process created with unshare that owns the pod's network, UTS, IPC,
 * PID, mount and cgroup namespaces; its hostname set to the pod name; its network namespace given a name so
 * the node's tools can address it.
 */
export function planPause(pod: string, pid: PidVar, log: string): Op[] {
  return [
    {
      kind: 'pod.pause',
      pod,
      pid,
      log,
      note: `${pod}: start the pause process; unshare gives it new net, uts, ipc, pid, mount and cgroup namespaces, the pod's`,
    },
  ];
}

export function planSandboxNames(pod: string, pid: PidVar, netnsName: string): Op[] {
  return [
    {
      kind: 'netns.attach',
      name: netnsName,
      pid,
      note: `${pod}: name the pause process's network namespace ${netnsName}, so ip -n can reach it`,
    },
    {
      kind: 'pod.hostname',
      pid,
      hostname: pod,
      note: `${pod}: set the pod's hostname in its own UTS namespace`,
    },
  ];
}

/** An overlay root filesystem for one container, mounted inside the pod's mount namespace (seed §2.1). */
export interface OverlayLayout {
  readonly lower: string;
  readonly upper: string;
  readonly work: string;
  readonly merged: string;
}

export function planOverlay(pod: string, container: string, pid: PidVar, layout: OverlayLayout): Op[] {
  return [
    {
      kind: 'pod.mount-overlay',
      pid,
      ...layout,
      note: `${pod}/${container}: mount an overlay root filesystem: the shared busybox base layer below, a private writable layer above`,
    },
  ];
}

/** Containers join the pause process's namespaces with nsenter (seed §2.2), optionally chrooted. */
export function planContainers(pod: string, pid: PidVar, containers: readonly ContainerLaunch[]): Op[] {
  return containers.map((container) => ({
    kind: 'pod.container' as const,
    pid,
    pod,
    container,
    note: `${pod}/${container.name}: start the container inside the pod's namespaces${container.chroot ? ', chrooted into its overlay' : ''}`,
  }));
}
