import { apply } from '../apply/apply.js';
import { listNamedNetns, netnsIdOf, nsOf, processesInNetns, startTimeOf } from '../observe/procs.js';
import type { Op } from '../plan/ops.js';
import { LabNames } from './names.js';
import { hostRunner } from './runners.js';
import { LabState } from './state.js';

export interface DownReport {
  readonly killed: number;
  readonly namespaces: string[];
  readonly stateRemoved: boolean;
}

/**
 * Removes everything a lab made: its processes (only those it journaled and whose start time still matches,
 * plus any process inside its own namespaces), its namespaces (which takes every veth, bridge and route in
 * them along), and its state. Idempotent; works after a crashed or killed `up`.
 */
export async function labDown(lab: string): Promise<DownReport> {
  const names = new LabNames(lab);
  const state = new LabState(lab);
  let killed = 0;
  const kill = (pid: number) => {
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {}
  };
  for (const r of state.pids()) {
    if (startTimeOf(r.pid) === r.start) kill(r.pid);
  }
  const namespaces = listNamedNetns().filter((n) => names.owns(n));
  // Anything still running inside the lab's namespaces (an exec session, a probe) belongs to the lab too
  // (what `ip netns pids` reports, read for all namespaces in one pass over /proc).
  // Never our own namespace: a name bound to it (which a broken build could leave) must not turn `down` into
  // "kill everything on the host".
  const ours = nsOf('self', 'net');
  const ids = new Set(namespaces.map(netnsIdOf).filter((x): x is string => x !== undefined && x !== ours));
  for (const pid of processesInNetns(ids)) if (pid !== process.pid) kill(pid);
  if (namespaces.length) {
    const ops: Op[] = namespaces.map((name) => ({ kind: 'netns.del', name }));
    await apply([{ title: 'namespaces', ops }], hostRunner(), { batch: true });
  }
  const stateRemoved = state.exists;
  state.remove();
  return { killed, namespaces, stateRemoved };
}
