import { writeFileSync } from 'node:fs';
import { apply } from '../apply/apply.js';
import { ConfigError, StateError } from '../errors.js';
import { allocationsOf, type Cluster } from '../model/resolve.js';
import { startTimeOf } from '../observe/procs.js';
import { type LabDelta, labDelta, nextNodeIp, planLabChange } from './change-plan.js';
import type { SpecEdit } from './edits.js';
import { loadLab } from './load.js';
import { LabNames } from './names.js';
import { syncLabNodes } from './node-sync.js';
import { IDENTITY_PORTS, planLabUp } from './plan.js';
import { cutDeniedFlows } from './policy.js';
import { requireCrossNodeSupport, requireRoot } from './preflight.js';
import { LabProxyChange } from './proxy-change.js';
import { keepProxyUses, type ProxyUsesRecords, takeProxyUses } from './proxy-uses.js';
import { journalingRunner, labNetlink, listeningPorts } from './runners.js';
import { labPaths, printPlan } from './up.js';

export interface ChangeResult {
  readonly delta: LabDelta;
  readonly cluster: Cluster;
  /** Cross-node entries (routes, FDB, neighbours) changed on nodes that existed before and still exist. */
  readonly opsOnExistingNodes: number;
  /** Every op the node sync ran on nodes that stay (entries and service proxy). */
  readonly syncOps: number;
  readonly ms: number;
}

/**
 * Changes a running lab: adds or removes a node or a pod. The lab's own topology for what was added is built
 * as `lab up` builds it; then every node that stays is observed and synced to its new model (new peers'
 * entries, removed peers' entries gone, service endpoints), the same loop as `lab reconcile`; only then are
 * removed pods' and nodes' namespaces deleted. The edit is recorded so later commands see the lab as it is.
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
  // Taken first: a change that dies half-way leaves the next one nothing to trust (proxy-uses.ts).
  const records = takeProxyUses(state);
  const names = new LabNames(lab);
  const paths = labPaths(state);
  const delta = labDelta(prev, next);
  const plan = planLabChange(prev, next, names, paths);

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
  const netlink = labNetlink(runner);
  const staying = next.nodes.filter((n) => !delta.addedNodes.includes(n.name)).map((n) => n.name);
  // A pod's coming or going changes the Services selecting it: only their proxy elements, where it can.
  const podEdit = edit.op === 'pod.add' || edit.op === 'pod.remove';
  const proxy = new LabProxyChange(
    prev,
    next,
    { pods: [...delta.addedPods, ...delta.removedPods] },
    names,
    records,
  );
  let synced: Awaited<ReturnType<typeof syncLabNodes>>;
  let proxyOps = 0;
  let kept: ProxyUsesRecords = {};
  try {
    await apply(plan.build, runner, {
      batch: true,
      vars: runner.vars,
      concurrency: 16,
      ...(netlink ? { inProcess: netlink } : {}),
    });
    const part = podEdit ? await proxy.sync(runner, staying) : { ops: [], whole: staying };
    proxyOps = part.ops.length;
    const withoutProxy = new Set(staying.filter((n) => !part.whole.includes(n)));
    synced = await syncLabNodes(next, names, runner, { only: staying, withoutProxy });
    await apply(plan.remove, runner, { batch: true, concurrency: 16 });
    // A pod joining or relabelled may be isolated now: its tracked connections a policy denies are cut.
    await cutDeniedFlows(next, state, names, runner, prev);
    kept = proxy.finish(synced);
  } finally {
    proxy.close();
    netlink?.close();
    runner.close();
  }
  const record = state.record!;
  state.writeJson('lab.json', { ...record, edits: [...(record.edits ?? []), edit] });
  // Only once the edit is recorded: the records describe the lab with it.
  keepProxyUses(state, kept);
  writeFileSync(state.path('explain.sh'), await printPlan(planLabUp(next, names, paths)));
  await waitListening(lab, delta.addedPods);

  const ops = synced.flatMap((n) => n.drift.flatMap((d) => d.ops));
  const crossNode = new Set([
    'route.replace',
    'route.del',
    'fdb.replace',
    'fdb.del',
    'neigh.replace',
    'neigh.del',
  ]);
  return {
    delta,
    cluster: next,
    opsOnExistingNodes: ops.filter((o) => crossNode.has(o.kind)).length,
    syncOps: ops.length + proxyOps,
    ms: performance.now() - started,
  };
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

/** Waits until new pods' identity containers listen, as `up` does (sock_diag, no probe traffic). */
async function waitListening(lab: string, pods: readonly string[], timeoutMs = 15000): Promise<void> {
  if (!pods.length) return;
  const l = loadLab(lab);
  const want = l.cluster.pods.filter((p) => pods.includes(p.name) && p.containers.length === 0);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = want.filter((p) => {
      const ports = listeningPorts(l.pausePids.get(p.name) ?? -1, Object.values(IDENTITY_PORTS));
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
