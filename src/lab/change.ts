import { writeFileSync } from 'node:fs';
import { apply } from '../apply/apply.js';
import { ConfigError, StateError } from '../errors.js';
import { allocationsOf, type Cluster } from '../model/resolve.js';
import { listeningTcpPorts, startTimeOf } from '../observe/procs.js';
import { type LabDelta, labDelta, nextNodeIp, planLabChange } from './change-plan.js';
import type { SpecEdit } from './edits.js';
import { loadLab } from './load.js';
import { LabNames } from './names.js';
import { IDENTITY_PORTS, planLabUp } from './plan.js';
import { syncLabPolicies } from './policy.js';
import { requireCrossNodeSupport, requireRoot } from './preflight.js';
import { syncLabServices } from './services.js';
import { journalingRunner, labPaths, printPlan } from './up.js';

export interface ChangeResult {
  readonly delta: LabDelta;
  readonly cluster: Cluster;
  /** Cross-node entries (routes, FDB, neighbours) changed on nodes that existed before and still exist. */
  readonly opsOnExistingNodes: number;
  readonly ms: number;
}

/**
 * Changes a running lab: adds or removes a node or a pod. The planner diffs the lab before and after; this
 * front door only stops the removed pods' processes, runs the plan, and records the edit so later commands
 * (verify, inspect, down) see the lab as it is now.
 */
export async function labChange(
  lab: string,
  edit: SpecEdit,
  opts: { verbose?: boolean } = {},
): Promise<ChangeResult> {
  requireRoot(`podnet lab ${edit.op.replace('.', ' ')}`);
  const started = performance.now();
  const before = loadLab(lab);
  if (before.status !== 'up') throw new StateError(`lab '${lab}' is not up (status '${before.status}')`);
  const prev = before.cluster;
  if (edit.op === 'node.add' && !edit.node.ip)
    edit = { ...edit, node: { ...edit.node, ip: nextNodeIp(prev).toString() } };
  checkTarget(prev, edit);
  const after = loadLab(lab, [edit]);
  const next = after.cluster;
  requireCrossNodeSupport(next.spec);

  const { state } = before;
  const names = new LabNames(lab);
  const paths = labPaths(state);
  const delta = labDelta(prev, next);
  // The service proxy is brought in line by its own sync afterwards (a diff of proxy models).
  const plan = planLabChange(prev, next, names, paths).filter(
    (p) => p.title !== 'services' && p.title !== 'policy',
  );

  const leaving = new Set([...delta.removedPods]);
  for (const r of state.pids()) {
    if (leaving.has(r.pod) && startTimeOf(r.pid) === r.start) {
      try {
        process.kill(r.pid, 'SIGKILL');
      } catch {}
    }
  }
  state.writeJson('allocations.json', allocationsOf(next));
  const runner = journalingRunner(state, opts.verbose ?? false);
  try {
    await apply(plan, runner, { batch: true, vars: runner.vars, concurrency: 16 });
  } finally {
    runner.close();
  }
  const record = state.record!;
  state.writeJson('lab.json', { ...record, edits: [...(record.edits ?? []), edit] });
  writeFileSync(state.path('explain.sh'), await printPlan(planLabUp(next, names, paths)));
  if (next.spec.sameNode === 'bridge') await syncLabServices(next, state, names, opts);
  if (next.spec.sameNode === 'bridge') await syncLabPolicies(next, state, names, opts);
  await waitListening(lab, delta.addedPods);

  const opsOnExistingNodes = plan
    .filter((p) => p.title === 'forget removed nodes' || p.title === 'reach new nodes')
    .reduce((n, p) => n + p.ops.length, 0);
  return { delta, cluster: next, opsOnExistingNodes, ms: performance.now() - started };
}

/** Removing something that is not there, or adding a name that is taken, is a usage error. */
function checkTarget(c: Cluster, e: SpecEdit): void {
  const has = (xs: readonly { name: string }[], n: string) => xs.some((x) => x.name === n);
  const fail = (message: string, hint?: string) => {
    throw new ConfigError([{ path: 'command line', message, ...(hint ? { hint } : {}) }], 'command line');
  };
  const nodes = c.nodes.map((n) => n.name).join(', ');
  const pods = c.pods.map((p) => p.name).join(', ');
  if (e.op === 'node.remove' && !has(c.nodes, e.name))
    fail(`no node '${e.name}' in this lab`, `nodes: ${nodes}`);
  if (e.op === 'node.remove' && c.nodes.length === 1)
    fail(`'${e.name}' is the lab's last node`, 'use podnet lab down');
  if (e.op === 'pod.remove' && !has(c.pods, e.name)) fail(`no pod '${e.name}' in this lab`, `pods: ${pods}`);
  if (e.op === 'node.add' && has(c.nodes, e.node.name)) fail(`node '${e.node.name}' already exists`);
  if (e.op === 'pod.add' && has(c.pods, e.pod.name)) fail(`pod '${e.pod.name}' already exists`);
}

/** Waits until new pods' identity containers listen, as `up` does (read from /proc, no probe traffic). */
async function waitListening(lab: string, pods: readonly string[], timeoutMs = 15000): Promise<void> {
  if (!pods.length) return;
  const l = loadLab(lab);
  const want = l.cluster.pods.filter((p) => pods.includes(p.name) && p.containers.length === 0);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = want.filter((p) => {
      const ports = listeningTcpPorts(l.pausePids.get(p.name) ?? -1);
      return !Object.values(IDENTITY_PORTS).every((port) => ports.has(port));
    });
    if (!missing.length) return;
    if (Date.now() > deadline)
      throw new StateError(
        `pod(s) ${missing.map((p) => p.name).join(', ')} are not listening after ${timeoutMs} ms; see ${l.state.path('logs')}`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
}
