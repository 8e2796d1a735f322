import { writeFileSync } from 'node:fs';
import { runOp } from '../apply/apply.js';
import { ConfigError, type ConfigIssue, StateError } from '../errors.js';
import type { Runner } from '../exec/runner.js';
import type { ClusterSpec } from '../model/cluster.js';
import { parseNetworkPolicy } from '../model/policy/parse.js';
import { labelKeyProblem, labelValueProblem } from '../model/policy/selector.js';
import { NAMESPACE_NAME_LABEL, type NetworkPolicy, policyKey } from '../model/policy/types.js';
import type { Cluster } from '../model/resolve.js';
import { parseConntrack } from '../observe/conntrack.js';
import { observeCounters } from '../observe/policy-counters.js';
import type { Op } from '../plan/ops.js';
import { planPolicyCuts } from '../plan/policy/cut.js';
import { buildPolicyModel, type PolicyNodeModel } from '../plan/policy/model.js';
import { stricter } from '../plan/policy/plan.js';
import { worldOf } from '../plan/policy/world.js';
import { conntrackDeletions, render } from '../render/index.js';
import { listConntrack, readPolicyCounters as readPolicyCountersCmd } from '../render/observe.js';
import { isCluster } from './cluster/services.js';
import type { LabNames } from './names.js';
import { repairOps, syncLabNodes } from './node-sync.js';
import { hostRunner } from './runners.js';
import type { LabState } from './state.js';

/**
 * The lab's NetworkPolicy part (the enforcement itself is the node model's policy part): run-time changes (`policy apply|delete`, pod and
 * namespace labels) kept as an overlay in the lab's state, and live syncs that change only what differs on each
 * node and cut the connections a change denies.
 */

/** Whether the cluster needs podnet-policy tables at all (no policy: no table, nothing on the packet path). */
const enforcing = (cluster: Cluster) =>
  cluster.spec.sameNode === 'bridge' && (cluster.spec.networkPolicies?.length ?? 0) > 0;

export function policyModels(cluster: Cluster): Record<string, PolicyNodeModel> {
  const world = worldOf(cluster);
  return Object.fromEntries(cluster.nodes.map((n) => [n.name, buildPolicyModel(world, n.name)]));
}

// ---------------------------------------------------------------------------------------------------------
// State: the run-time changes (nothing remembers what was applied: every sync observes).

export interface PolicyOverlay {
  /** NetworkPolicy manifests applied at run time, by `namespace/name`. */
  readonly added: Readonly<Record<string, unknown>>;
  readonly removed: readonly string[];
  /** Pod (lab name) -> labels set at run time (merged over the spec's; '' value: removed). */
  readonly podLabels: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly nsLabels: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

const EMPTY: PolicyOverlay = { added: {}, removed: [], podLabels: {}, nsLabels: {} };

export function loadPolicyOverlay(state: LabState): PolicyOverlay {
  return { ...EMPTY, ...(state.readJson<PolicyOverlay>('policy.json') ?? {}) };
}

const merge = (base: Readonly<Record<string, string>>, over: Readonly<Record<string, string>>) => {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return out;
};

/** The spec with run-time policy and label changes applied. */
export function overlayPolicies(spec: ClusterSpec, state: LabState): ClusterSpec {
  const o = loadPolicyOverlay(state);
  if (
    Object.keys(o.added).length === 0 &&
    o.removed.length === 0 &&
    Object.keys(o.podLabels).length === 0 &&
    Object.keys(o.nsLabels).length === 0
  )
    return spec;
  const issues: ConfigIssue[] = [];
  const added = Object.entries(o.added).flatMap(([k, doc]) => {
    const p = parseNetworkPolicy(doc as Record<string, unknown>, `policy '${k}': `, issues);
    return p ? [p] : [];
  });
  if (issues.length) throw new ConfigError(issues, `${state.dir}/policy.json`);
  const gone = new Set([...o.removed, ...added.map(policyKey)]);
  const namespaces = [...(spec.namespaces ?? [])];
  for (const [ns, labels] of Object.entries(o.nsLabels)) {
    const i = namespaces.findIndex((n) => n.name === ns);
    const base = i >= 0 ? namespaces[i]!.labels : {};
    const next = { name: ns, labels: { ...merge(base, labels), [NAMESPACE_NAME_LABEL]: ns } };
    if (i >= 0) namespaces[i] = next;
    else namespaces.push(next);
  }
  return {
    ...spec,
    namespaces,
    networkPolicies: [...(spec.networkPolicies ?? []).filter((p) => !gone.has(policyKey(p))), ...added],
    pods: spec.pods.map((p) =>
      o.podLabels[p.name] ? { ...p, labels: merge(p.labels, o.podLabels[p.name]!) } : p,
    ),
  };
}

/** Records applied policies (already parsed, so their problems were reported with the file's positions). */
export function recordPolicies(
  state: LabState,
  docs: readonly { doc: unknown; policy: NetworkPolicy }[],
): void {
  const o = loadPolicyOverlay(state);
  const added: Record<string, unknown> = { ...o.added };
  for (const d of docs) added[policyKey(d.policy)] = d.doc;
  const keys = new Set(docs.map((d) => policyKey(d.policy)));
  state.writeJson('policy.json', { ...o, added, removed: o.removed.filter((k) => !keys.has(k)) });
}

export function recordPolicyDeleted(state: LabState, cluster: Cluster, keys: readonly string[]): void {
  const known = new Set((cluster.spec.networkPolicies ?? []).map(policyKey));
  const missing = keys.filter((k) => !known.has(k));
  if (missing.length)
    throw new StateError(
      `no NetworkPolicy ${missing.map((k) => `'${k}'`).join(', ')} in this lab; it has: ${[...known].join(', ') || 'none'}`,
    );
  const o = loadPolicyOverlay(state);
  const added = Object.fromEntries(Object.entries(o.added).filter(([k]) => !keys.includes(k)));
  state.writeJson('policy.json', { ...o, added, removed: [...new Set([...o.removed, ...keys])] });
}

/** `k=v` (set) and `k-` (remove) arguments, checked as Kubernetes label keys and values. */
export function parseLabelArgs(args: readonly string[]): Record<string, string> {
  const issues: ConfigIssue[] = [];
  const out: Record<string, string> = {};
  for (const a of args) {
    const m = /^([^=]+)(?:=(.*)|-)$/.exec(a);
    if (!m) {
      issues.push({
        path: a,
        message: 'is not KEY=VALUE or KEY-',
        hint: 'e.g. team=blue, or team- to remove',
      });
      continue;
    }
    const [, k, v] = m;
    const kp = labelKeyProblem(k!);
    if (kp) issues.push({ path: a, message: `key '${k}' ${kp}` });
    const vp = v === undefined ? undefined : labelValueProblem(v);
    if (vp) issues.push({ path: a, message: `value '${v}' ${vp}` });
    if (v === '') issues.push({ path: a, message: 'empty value', hint: `use '${k}-' to remove the label` });
    out[k!] = v ?? '';
  }
  if (args.length === 0) issues.push({ path: 'command line', message: 'give at least one KEY=VALUE' });
  if (issues.length) throw new ConfigError(issues, 'command line');
  return out;
}

export function recordLabels(
  state: LabState,
  what: 'pod' | 'namespace',
  name: string,
  labels: Record<string, string>,
) {
  const o = loadPolicyOverlay(state);
  const field = what === 'pod' ? 'podLabels' : 'nsLabels';
  const now = { ...(o[field][name] ?? {}), ...labels };
  state.writeJson('policy.json', { ...o, [field]: { ...o[field], [name]: now } });
}

/**
 * Brings every node to the cluster's policies and labels through the node loop (observe, planNodeSync, apply:
 * only the elements, sets and chains that differ change), then cuts the tracked connections the new state
 * denies. `before`: the lab as it was, so only newly denied flows are cut.
 */
export async function syncLabPolicies(
  cluster: Cluster,
  state: LabState,
  names: LabNames,
  opts: { verbose?: boolean; before?: Cluster } = {},
): Promise<{ ops: Op[]; cuts: number; ms: number; appliedMs: number }> {
  // An agent lab: the agents enforce what the lab publishes (cluster/policies.ts).
  if (isCluster(state))
    return state.readJson('kube.json')
      ? (await import('./cluster/kube-policies.js')).syncKubePolicies(cluster, state)
      : (await import('./cluster/policies.js')).syncClusterPolicies(cluster, state);
  const started = performance.now();
  // A lab that has no policies and had none: nothing to sync, nothing to cut.
  if (!enforcing(cluster) && !(opts.before && enforcing(opts.before)))
    return { ops: [], appliedMs: 0, cuts: 0, ms: performance.now() - started };
  const runner = hostRunner(opts.verbose ?? false);
  const report = await syncLabNodes(cluster, names, runner);
  const appliedMs = performance.now() - started;
  const cuts = await cutDeniedFlows(cluster, state, names, runner, opts.before);
  return { ops: repairOps(report), appliedMs, cuts, ms: performance.now() - started };
}

/**
 * Deletes the conntrack entries of connections `cluster`'s policies deny and `before`'s allowed (all denied
 * ones without `before`), on the nodes whose enforcement got stricter: cutting there suffices (the other
 * node's entry lets the packet out, this one sees it as new and drops it). Returns how many were cut.
 */
export async function cutDeniedFlows(
  cluster: Cluster,
  state: LabState,
  names: LabNames,
  runner: Runner,
  before?: Cluster,
): Promise<number> {
  if (!enforcing(cluster)) return 0;
  const world = worldOf(cluster);
  const prevWorld = before ? worldOf(before) : undefined;
  const prev = before && enforcing(before) ? policyModels(before) : {};
  const next = policyModels(cluster);
  const cuts = (
    await Promise.all(
      cluster.nodes
        .filter((n) => !prev[n.name] || stricter(prev[n.name]!, next[n.name]!))
        .map(async (n) => {
          const ns = names.node(n.name);
          const r = await runner.run(listConntrack(ns)).catch(() => undefined);
          return r
            ? planPolicyCuts(world, ns, parseConntrack(r.stdout), prevWorld, state.path(`cuts-${n.name}.txt`))
            : [];
        }),
    )
  ).flat();
  await Promise.all(
    cuts.map((op) => {
      if (op.kind === 'conntrack.delete-flows') writeFileSync(op.file, conntrackDeletions(op));
      return runOp(op, render(op), runner);
    }),
  );
  return cuts.reduce((n, op) => n + (op.kind === 'conntrack.delete-flows' ? op.connections : 0), 0);
}

/** Every podnet-policy counter of `nodes`, as `<node> <counter>` -> packets (`lab policy why`). */
export async function readPolicyCounters(
  names: LabNames,
  nodes: readonly string[],
): Promise<Record<string, number>> {
  const runner = hostRunner();
  const all: Record<string, number> = {};
  for (const n of nodes) {
    const r = await runner.run(readPolicyCountersCmd(names.node(n)));
    for (const [k, v] of Object.entries(observeCounters(r.stdout))) all[`${n} ${k}`] = v;
  }
  return all;
}
