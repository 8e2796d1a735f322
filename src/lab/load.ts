import { StateError } from '../errors.js';
import { type Cluster, resolveCluster } from '../model/resolve.js';
import { startTimeOf } from '../observe/procs.js';
import type { SpecEdit } from './edits.js';
import { overlayPolicies } from './policy.js';
import { overlayServices } from './services.js';
import { loadSpec } from './spec-source.js';
import { LabState } from './state.js';

/** A lab that is up: its cluster as it was built, and its running pause processes. */
export interface LoadedLab {
  readonly state: LabState;
  readonly cluster: Cluster;
  readonly pausePids: Map<string, number>;
  readonly status: string;
}

/**
 * Reads a lab back from its state directory; fails clearly when there is none. `extraEdits` (a change about
 * to be made) are applied after the recorded ones.
 */
export function loadLab(lab: string, extraEdits: readonly SpecEdit[] = []): LoadedLab {
  const state = new LabState(lab);
  const record = state.record;
  if (!record)
    throw new StateError(
      `no lab named '${lab}' (no state in ${state.dir}); start one with 'podnet lab up --name ${lab}'`,
    );
  const spec = overlayPolicies(
    overlayServices(
      loadSpec(record.specText, record.source, record.overrides ?? {}, [
        ...(record.edits ?? []),
        ...extraEdits,
      ]),
      state,
    ),
    state,
  );
  const cluster = resolveCluster(spec, state.allocations);
  const pausePids = new Map<string, number>();
  for (const r of state.pids()) {
    if (r.role === 'pause' && startTimeOf(r.pid) === r.start) pausePids.set(r.pod, r.pid);
  }
  return { state, cluster, pausePids, status: record.status };
}
