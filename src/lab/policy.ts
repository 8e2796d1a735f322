import { writeFileSync } from 'node:fs';
import { ConfigError, type ConfigIssue, StateError } from '../errors.js';
import { exec, ProcessRunner } from '../exec/process-runner.js';
import type { ClusterSpec } from '../model/cluster.js';
import { parseNetworkPolicy } from '../model/policy/parse.js';
import { labelKeyProblem, labelValueProblem } from '../model/policy/selector.js';
import { NAMESPACE_NAME_LABEL, type NetworkPolicy, policyKey } from '../model/policy/types.js';
import type { Cluster } from '../model/resolve.js';
import { parseConntrack } from '../observe/conntrack.js';
import type { Op, Phase, Plan } from '../plan/ops.js';
import { planPolicyCuts } from '../plan/policy/cut.js';
import { buildPolicyModel, type PolicyNodeModel } from '../plan/policy/model.js';
import { planPolicySync, stricter } from '../plan/policy/plan.js';
import { worldOf } from '../plan/policy/world.js';
import { conntrackDeletions, render } from '../render/index.js';
import { netIn } from '../render/netns.js';
import type { LabNames } from './names.js';
import { runSyncOps } from './services.js';
import type { LabState } from './state.js';

/**
 * The lab's NetworkPolicy part: the `policy` phase of `lab up`, run-time changes (`policy apply|delete`, pod and
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

/** One sync of every node (pure). `prev`: what each node got last (absent: a first, full sync). */
export function planLabPolicies(
  cluster: Cluster,
  names: LabNames,
  prev: Readonly<Record<string, PolicyNodeModel>> = {},
): Op[] {
  if (!enforcing(cluster) && Object.keys(prev).length === 0) return [];
  const models = policyModels(cluster);
  return cluster.nodes.flatMap((n) =>
    planPolicySync({
      netns: names.node(n.name),
      ...(prev[n.name] ? { prev: prev[n.name] } : {}),
      next: models[n.name]!,
      // The service proxy phase (always planned with bridged pods) already sets br_netfilter's sysctl.
      sysctl: false,
    }),
  );
}

/** `lab up`'s plan with the policy phase after the service proxy (before the containers start). */
export function withPolicies(plan: Plan, cluster: Cluster, names: LabNames): Plan {
  const ops = planLabPolicies(cluster, names);
  if (ops.length === 0) return plan;
  const out: Phase[] = [];
  for (const phase of plan) {
    if (phase.title === 'containers') out.push({ title: 'policy', ops });
    out.push(phase);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// State: the models applied last, and the run-time changes.

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

export function loadPolicyModels(state: LabState): Record<string, PolicyNodeModel> {
  return state.readJson<Record<string, PolicyNodeModel>>('policy-models.json') ?? {};
}

export function savePolicyModels(state: LabState, cluster: Cluster): void {
  if (enforcing(cluster) || Object.keys(loadPolicyModels(state)).length)
    state.writeJson('policy-models.json', policyModels(cluster));
}

/**
 * Brings every node's podnet-policy table to the cluster's policies and labels (only what changed), then cuts
 * the tracked connections the new state denies (conntrack entries read on each node, judged by the evaluator).
 */
export async function syncLabPolicies(
  cluster: Cluster,
  state: LabState,
  names: LabNames,
  opts: { verbose?: boolean; before?: Cluster } = {},
): Promise<{ ops: Op[]; cuts: number; ms: number; appliedMs: number }> {
  const started = performance.now();
  const prev = loadPolicyModels(state);
  // A lab that never had policies: nothing to sync, nothing to cut.
  if (!enforcing(cluster) && Object.keys(prev).length === 0)
    return { ops: [], appliedMs: 0, cuts: 0, ms: performance.now() - started };
  const ops = planLabPolicies(cluster, names, prev);
  const runner = new ProcessRunner({ verbose: opts.verbose ?? false });
  // Nodes are independent: one transaction each, at once.
  const byNode = new Map<string, Op[]>();
  for (const op of ops) {
    const k = 'netns' in op && op.netns.kind === 'named' ? op.netns.name : '';
    byNode.set(k, [...(byNode.get(k) ?? []), op]);
  }
  await Promise.all([...byNode.values()].map((list) => runSyncOps(list, runner)));
  const appliedMs = performance.now() - started;
  savePolicyModels(state, cluster);
  const world = worldOf(cluster);
  const before = opts.before ? worldOf(opts.before) : undefined;
  const next = policyModels(cluster);
  const cuts = (
    await Promise.all(
      // Only a node whose enforcement got stricter can now deny a tracked flow: cutting it there suffices
      // (the other node's entry lets the packet out, this one sees it as new and drops it).
      cluster.nodes
        .filter((n) => !prev[n.name] || stricter(prev[n.name]!, next[n.name]!))
        .map(async (n) => {
          const ns = names.node(n.name);
          const r = await exec(netIn(ns, 'conntrack', '-L') as string[]).catch(() => undefined);
          return r
            ? planPolicyCuts(world, ns, parseConntrack(r.stdout), before, state.path(`cuts-${n.name}.txt`))
            : [];
        }),
    )
  ).flat();
  await Promise.all(
    cuts.map((op) => {
      if (op.kind === 'conntrack.delete-flows') writeFileSync(op.file, conntrackDeletions(op));
      return runner.run(render(op));
    }),
  );
  return {
    ops,
    appliedMs,
    cuts: cuts.reduce((n, op) => n + (op.kind === 'conntrack.delete-flows' ? op.connections : 0), 0),
    ms: performance.now() - started,
  };
}
