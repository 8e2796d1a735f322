import { apply } from '../../apply/apply.js';
import { ConfigError, StateError } from '../../errors.js';
import type { Allocations } from '../../model/resolve.js';
import { Ip } from '../../net/ip.js';
import { netnsIdOf, processesInNetns, startTimeOf } from '../../observe/procs.js';
import { nextNodeIp } from '../change-plan.js';
import type { SpecEdit } from '../edits.js';
import { loadLab } from '../load.js';
import { reservedNodeName } from '../names.js';
import { journalingRunner } from '../runners.js';
import type { LabState } from '../state.js';
import { createPods } from './pods.js';
import { publishIfPolicies } from './policies.js';
import {
  agentCommand,
  type ClusterRecord,
  CP_NODE,
  etcdRevision,
  livePid,
  requireCluster,
  revokeNodeLease,
} from './record.js';
import { publishServices } from './services.js';
import { buildLan, startDaemon, waitForAgents } from './up.js';

/** Whether a lab runs in cluster mode (its node and pod changes go through the agents). */
export function isClusterLab(lab: string): boolean {
  try {
    requireCluster(lab);
    return true;
  } catch {
    return false;
  }
}

/**
 * `lab node|pod add|remove` in cluster mode. The lab computes no node state: a new node is a namespace on the
 * LAN plus an agent (the others learn it from etcd), a leaving node's agent stops and its lease is revoked (its
 * entries vanish everywhere), and pods come and go through the CNI plugin, their endpoints through etcd.
 */
export async function clusterChange(lab: string, edit: SpecEdit, verbose = false): Promise<number> {
  const started = performance.now();
  const { state, names, rec } = requireCluster(lab);
  if (state.readJson('kube.json'))
    return (await import('./kube-change.js')).kubeClusterChange(lab, edit, verbose);
  const before = loadLab(lab);
  const runner = journalingRunner(state, verbose);
  const alloc = (): Allocations => state.allocations ?? { nodes: {}, pods: {} };
  const record = (e: SpecEdit) => {
    const r = state.record!;
    state.writeJson('lab.json', { ...r, edits: [...(r.edits ?? []), e] });
  };
  const saveRec = (nodes: Record<string, string>) =>
    state.writeJson('cluster.json', { ...rec, nodes } satisfies ClusterRecord);
  let line = '';
  try {
    if (edit.op === 'node.add') {
      const name = edit.node.name;
      if (before.cluster.nodes.some((n) => n.name === name) || name === CP_NODE || reservedNodeName(name))
        throw new ConfigError(
          [{ path: 'command line', message: `node name '${name}' is taken` }],
          'command line',
        );
      const ip = edit.node.ip || nextNodeIp(before.cluster).toString();
      if (ip === rec.cpIP)
        throw new ConfigError(
          [{ path: '--ip', message: `'${ip}' is the control plane's address` }],
          'command line',
        );
      const e: SpecEdit = { op: 'node.add', node: { name, ip } };
      const spec = loadLab(lab, [e]).cluster.spec;
      await buildLan(runner, names, spec, [{ name, ip: Ip.parse(ip) }], false);
      const nodes = { ...rec.nodes, [name]: ip };
      saveRec(nodes);
      record(e);
      await startDaemon(runner, agentCommand(state, names, { ...rec, nodes }, name));
      // Long: the store may be down while a node joins (the agent waits for it, as on a real machine).
      const subnets = await waitForAgents(state, [name], 0, 180_000);
      // Then every running agent has synced a snapshot that holds the new lease.
      await waitForAgents(
        state,
        running(state, Object.keys(nodes)),
        await etcdRevision(runner, names, rec),
        60_000,
      );
      state.writeJson('allocations.json', {
        ...alloc(),
        nodes: { ...alloc().nodes, [name]: subnets.get(name)! },
      });
      line = `node ${name} ${ip} joined: subnet ${subnets.get(name)} (leased by its agent), every agent programmed it`;
    } else if (edit.op === 'node.remove') {
      const name = edit.name;
      if (!(name in rec.nodes)) throw new StateError(`lab '${lab}' has no node '${name}'`);
      const pods = before.cluster.pods.filter((p) => p.node === name).map((p) => p.name);
      for (const p of pods) await removePod(lab, p, runner);
      const pid = livePid(state, name, 'agent');
      if (pid !== undefined) process.kill(pid, 'SIGTERM');
      const key = await revokeNodeLease(runner, names, rec, name);
      const { [name]: _gone, ...nodes } = rec.nodes;
      saveRec(nodes);
      if (pid !== undefined) for (let i = 0; i < 100 && startTimeOf(pid) !== undefined; i++) await sleep(50);
      killInNetns(names.nodeNs(name));
      await apply([{ title: 'node', ops: [{ kind: 'netns.del', name: names.nodeNs(name) }] }], runner);
      record(edit);
      const { [name]: _n, ...rest } = alloc().nodes;
      state.writeJson('allocations.json', { ...alloc(), nodes: rest });
      await waitForAgents(state, running(state, Object.keys(nodes)), await etcdRevision(runner, names, rec));
      line = `node ${name} left: lease ${key ?? '(none)'} revoked, every agent removed its entries`;
    } else if (edit.op === 'pod.add') {
      const e = edit;
      const spec = loadLab(lab, [e]).cluster.spec;
      const pod = spec.pods.find((p) => p.name === e.pod.name)!;
      const subnets = new Map(Object.entries(alloc().nodes));
      const cluster = await createPods(runner, state, names, spec, subnets, [pod]);
      const ip = cluster.pods.find((p) => p.name === pod.name)!.ip.toString();
      record({ op: 'pod.add', pod: { ...e.pod, ip } });
      state.writeJson('allocations.json', { ...alloc(), pods: { ...alloc().pods, [pod.name]: ip } });
      const revision = Math.max(
        await publishServices(runner, names, rec, cluster),
        await publishIfPolicies(runner, names, rec, loadLab(lab).cluster),
      );
      await waitForAgents(state, running(state, Object.keys(rec.nodes)), revision);
      line = `pod ${pod.name} ${ip} on ${pod.node} (address from the CNI plugin); endpoints written to etcd`;
    } else {
      await removePod(lab, edit.name, runner);
      line = `pod ${edit.name} removed (CNI DEL); endpoints written to etcd`;
    }
  } finally {
    runner.close();
  }
  console.log(`lab ${lab}: ${line} in ${Math.round(performance.now() - started)} ms`);
  return 0;
}

/** CNI DEL, the pod's processes and namespace, its endpoints out of etcd. */
async function removePod(
  lab: string,
  pod: string,
  runner: ReturnType<typeof journalingRunner>,
): Promise<void> {
  const { state, names, rec } = requireCluster(lab);
  const l = loadLab(lab);
  const p = l.cluster.pods.find((x) => x.name === pod);
  if (!p) throw new StateError(`lab '${lab}' has no pod '${pod}'`);
  const { cniDel } = await import('./pods.js');
  await cniDel(runner, state, names, p.node, pod);
  for (const r of state.pids())
    if (r.pod === pod && startTimeOf(r.pid) === r.start) {
      try {
        process.kill(r.pid, 'SIGKILL');
      } catch {}
    }
  killInNetns(names.podNs(pod));
  await apply([{ title: 'pod', ops: [{ kind: 'netns.del', name: names.podNs(pod) }] }], runner);
  const r = state.record!;
  state.writeJson('lab.json', { ...r, edits: [...(r.edits ?? []), { op: 'pod.remove', name: pod }] });
  const { [pod]: _gone, ...pods } = state.allocations?.pods ?? {};
  state.writeJson('allocations.json', { ...state.allocations, pods });
  const after = loadLab(lab).cluster;
  const revision = Math.max(
    await publishServices(runner, names, rec, after),
    await publishIfPolicies(runner, names, rec, after),
  );
  await waitForAgents(state, running(state, Object.keys(requireCluster(lab).rec.nodes)), revision);
}

/** The nodes whose agent runs now: a change waits for those (a stopped agent catches up when started). */
function running(state: LabState, nodes: readonly string[]): string[] {
  return nodes.filter((n) => livePid(state, n, 'agent') !== undefined);
}

function killInNetns(ns: string): void {
  const id = netnsIdOf(ns);
  if (!id) return;
  for (const pid of processesInNetns(new Set([id])))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
