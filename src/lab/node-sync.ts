import { apply } from '../apply/apply.js';
import type { Command, CommandResult, Runner } from '../exec/runner.js';
import type { Cluster } from '../model/resolve.js';
import { observeNode, scopeOf } from '../observe/node.js';
import { buildNodeModel } from '../plan/node/build.js';
import { diffNode, type NodeDrift } from '../plan/node/sync.js';
import type { Op } from '../plan/ops.js';
import type { ProxyModel } from '../plan/services/model.js';
import type { LabNames } from './names.js';
import { LAB_NODE } from './plan.js';

/**
 * The lab's node part, the same loop a node agent runs: build each node's model from the lab's cluster,
 * observe the node's namespace, diff, apply the repair. `lab node|pod|service` changes, `lab verify` (drift
 * only) and `lab reconcile` all go through here; nothing remembers what was applied last.
 */

/** One node's differences between its kernel and its model, each with the ops that remove it. */
export interface NodeDriftReport {
  readonly node: string;
  readonly drift: readonly NodeDrift[];
  /** The node's desired service proxy (absent when none, or when the proxy was left out). */
  readonly proxy?: ProxyModel;
}

/** Which nodes a sync looks at, and which of them without their service proxy (synced apart: proxy-change.ts). */
export interface SyncScope {
  readonly only?: readonly string[] | undefined;
  readonly withoutProxy?: ReadonlySet<string>;
}

/** Observes every node (or `only` those) and diffs it against its model: read-only. */
export async function labDrift(
  cluster: Cluster,
  names: LabNames,
  runner: Runner,
  scope: SyncScope = {},
): Promise<NodeDriftReport[]> {
  const nodes = cluster.nodes.filter((n) => !scope.only || scope.only.includes(n.name));
  return Promise.all(
    nodes.map(async (n) => {
      const skip = scope.withoutProxy?.has(n.name) ?? false;
      const desired = buildNodeModel(cluster, n.name, { ...LAB_NODE, proxy: !skip });
      const netns = names.node(n.name);
      const observed = await observeNode(runner, netns, { ...scopeOf(desired), skipProxy: skip });
      return {
        node: n.name,
        drift: diffNode(observed, desired, { netns }),
        ...(desired.proxy ? { proxy: desired.proxy } : {}),
      };
    }),
  );
}

/** The repair of a drift report, in sync order per node. */
export const repairOps = (r: readonly NodeDriftReport[]): Op[] =>
  r.flatMap((n) => n.drift.flatMap((d) => d.ops));

/**
 * Brings every node (or `only` those) to its model: observe, diff, apply. Nodes are independent and synced
 * concurrently; within a node the ops keep their order (add before delete). Returns what was repaired.
 */
export async function syncLabNodes(
  cluster: Cluster,
  names: LabNames,
  runner: Runner,
  scope: SyncScope = {},
): Promise<NodeDriftReport[]> {
  const report = await labDrift(cluster, names, runner, scope);
  const ops = repairOps(report);
  if (ops.length) await apply([{ title: 'node sync', ops }], runner, { batch: true });
  return report;
}

/** Counts the commands that change the kernel (everything but observe's reads), as `lab reconcile` reports. */
export class CountingRunner implements Runner {
  changes = 0;
  constructor(private readonly inner: Runner) {}
  run(cmd: Command): Promise<CommandResult> {
    if (!cmd.note?.startsWith('observe:')) this.changes++;
    return this.inner.run(cmd);
  }
}

/** A drift line as users read it: "node-1: route 10.200.2.0/24 via … missing". */
export const driftLines = (r: readonly NodeDriftReport[]): string[] =>
  r.flatMap((n) => n.drift.map((d) => `${n.node}: ${d.what}`));
