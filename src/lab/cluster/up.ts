import { existsSync, mkdirSync } from 'node:fs';
import { storeKeys } from '../../agent/store/keys.js';
import { encodeNetworkConfig } from '../../agent/store/network-config.js';
import { apply } from '../../apply/apply.js';
import { ConfigError, StateError } from '../../errors.js';
import type { ProcessRunner } from '../../exec/process-runner.js';
import type { ClusterSpec } from '../../model/cluster.js';
import { allocationsOf, type Cluster } from '../../model/resolve.js';
import { Ip } from '../../net/ip.js';
import { listNamedNetns } from '../../observe/procs.js';
import { BR_NETFILTER_ALL, sysctlOp } from '../../plan/node/devices.js';
import type { Op } from '../../plan/ops.js';
import { planSwitch, planUplink } from '../../plan/underlay.js';
import { labDown } from '../down.js';
import { LabNames } from '../names.js';
import { requireRoot, requireTools } from '../preflight.js';
import { journalingRunner } from '../runners.js';
import { LabState } from '../state.js';
import { buildBusyboxLayer, labPaths } from '../up.js';
import { createPods } from './pods.js';
import { publishIfPolicies } from './policies.js';
import {
  agentCommand,
  agentDirs,
  agentHealth,
  type ClusterRecord,
  CP_NODE,
  etcdCommand,
  etcdPut,
  livePid,
} from './record.js';
import { publishServices } from './services.js';

export interface ClusterUpOptions {
  readonly lab: string;
  readonly spec: ClusterSpec;
  readonly specText?: string;
  readonly source: string;
  readonly overrides?: Readonly<Record<string, string>>;
  readonly verbose?: boolean;
  /** @default 10 (short, so a lab shows expiry quickly; real nodes use 60) */
  readonly leaseTTLSeconds?: number;
  /** @default 30 */
  readonly resyncSeconds?: number;
}

/** Why a spec cannot run in cluster mode (agents program bridged nodes joined by a backend). */
export function clusterModeProblems(spec: ClusterSpec): string[] {
  const p: string[] = [];
  if (spec.crossNode === 'none')
    p.push("crossNode 'none': agents need a backend (host-gw, vxlan or ipip) to reach each other's pods");
  if (spec.sameNode !== 'bridge') p.push(`sameNode '${spec.sameNode}': agents program bridged nodes only`);
  if (spec.vxlan.learning === 'multicast')
    p.push("vxlan.learning 'multicast': agents program unicast VXLAN only");
  if (spec.outside) p.push('outside: not built in cluster mode yet');
  if (spec.nodes.some((n) => n.name === CP_NODE))
    p.push(`a node named '${CP_NODE}': the control plane's namespace`);
  if (spec.nodes.some((n) => n.podCIDR)) p.push('pinned node podCIDRs: agents lease their subnets from etcd');
  return p;
}

/**
 * `lab up --agents`: the lab computes no node state. It builds the LAN (namespaces, switch, uplinks), starts
 * etcd on a control-plane namespace, writes the network config, starts one `podnet agent` per node, waits for
 * each agent's conflist, then creates the pods by calling the CNI plugin with that conflist, as a runtime
 * would. Services and their EndpointSlices go to etcd; the agents program the proxies.
 */
export async function labUpAgents(o: ClusterUpOptions): Promise<Cluster> {
  requireRoot('podnet lab up --agents');
  await requireTools(['ip', 'nsenter', 'unshare', 'busybox', 'etcd', 'etcdctl', 'env']);
  const problems = clusterModeProblems(o.spec);
  if (problems.length)
    throw new ConfigError(
      problems.map((message) => ({ path: 'spec', message })),
      'cluster spec (lab up --agents)',
    );
  const names = new LabNames(o.lab);
  const state = new LabState(o.lab);
  if (state.exists || listNamedNetns().some((n) => names.owns(n)))
    throw new StateError(`lab '${o.lab}' already exists; run 'podnet lab down --name ${o.lab}' first`);
  const spec = o.spec;
  const sub = spec.underlay.subnet;
  const cpIP = controlPlaneIp(spec);
  const rec: ClusterRecord = {
    cpIP: cpIP.toString(),
    underlayPrefix: sub.prefix,
    prefix: '/podnet',
    leaseTTLSeconds: o.leaseTTLSeconds ?? 10,
    resyncSeconds: o.resyncSeconds ?? 30,
    proxy: spec.proxy ?? 'nftables',
    nodes: Object.fromEntries(spec.nodes.map((n) => [n.name, n.ip.toString()])),
  };
  state.create();
  state.writeJson('lab.json', {
    name: o.lab,
    status: 'creating',
    createdAt: new Date().toISOString(),
    specText: o.specText,
    source: o.source,
    overrides: o.overrides ?? {},
  });
  state.writeJson('cluster.json', rec);
  const runner = journalingRunner(state, o.verbose ?? false);
  try {
    await buildLan(runner, names, spec, [
      ...spec.nodes.map((n) => ({ name: n.name, ip: n.ip })),
      { name: CP_NODE, ip: cpIP },
    ]);
    mkdirSync(state.path('etcd'), { recursive: true });
    await startDaemon(runner, etcdCommand(state, names, rec));
    await waitFor('etcd to answer', 15000, async () => {
      await etcdPut(
        runner,
        names,
        rec,
        storeKeys(rec.prefix).config,
        encodeNetworkConfig(networkConfigOf(spec)),
      );
      return true;
    });
    for (const n of spec.nodes) await startDaemon(runner, agentCommand(state, names, rec, n.name));
    // Every agent starts at once: on a small machine, N Node.js start-ups compete for the CPU.
    const startMs = 20_000 + 3000 * spec.nodes.length;
    const subnets = await waitForAgents(
      state,
      spec.nodes.map((n) => n.name),
      0,
      startMs,
    );
    // The cluster as the agents made it: their leased subnets, then the CNI plugin's addresses for the pods.
    const paths = labPaths(state);
    if (spec.pods.some((p) => p.containers.some((c) => c.rootfs === 'busybox')))
      buildBusyboxLayer(paths.lowerDir);
    const cluster = await createPods(runner, state, names, spec, subnets);
    state.writeJson('allocations.json', allocationsOf(cluster));
    const revision = Math.max(
      await publishServices(runner, names, rec, cluster),
      await publishIfPolicies(runner, names, rec, cluster),
    );
    await waitForAgents(
      state,
      spec.nodes.map((n) => n.name),
      revision,
      startMs,
    );
    state.writeJson('lab.json', { ...state.record, status: 'up' });
    return cluster;
  } catch (err) {
    await labDown(o.lab).catch(() => {});
    throw err;
  } finally {
    runner.close();
  }
}

/** The control plane's address: the highest usable one of the underlay no node uses. */
export function controlPlaneIp(spec: ClusterSpec): Ip {
  const sub = spec.underlay.subnet;
  for (let v = sub.broadcast.value - 1; v > sub.network.value; v--)
    if (!spec.nodes.some((n) => n.ip.value === v)) return Ip.fromNumber(v);
  throw new StateError(`no free address left on the underlay ${sub} for the control plane`);
}

/** The cluster's network config as the agents read it from `<prefix>/config` (flannel's shape). */
export function networkConfigOf(spec: ClusterSpec) {
  return {
    network: spec.clusterCIDR.toString(),
    subnetLen: spec.nodeCIDRMaskSize,
    serviceNetwork: spec.serviceCIDR.toString(),
    mtu: spec.underlay.mtu,
    backend: {
      type: spec.crossNode as 'host-gw' | 'vxlan' | 'ipip',
      ...(spec.crossNode === 'vxlan' ? { vni: spec.vxlan.vni, port: spec.vxlan.port } : {}),
    },
  };
}

/** Namespaces, the switch and each machine's cable and address: the LAN, nothing of podnet's. */
export async function buildLan(
  runner: ProcessRunner,
  names: LabNames,
  spec: ClusterSpec,
  machines: readonly { name: string; ip: Ip }[],
  withSwitch = true,
): Promise<void> {
  const cables = planSwitch({
    switchNs: { kind: 'named', name: names.switchNs },
    switchBridge: 'sw0',
    subnet: spec.underlay.subnet,
    mtu: spec.underlay.mtu,
    nodes: machines.map((m) => ({
      name: m.name,
      ns: names.node(m.name),
      ip: m.ip,
      port: names.switchPort(m.name),
    })),
  });
  const nsOps: Op[] = machines.map((m) => ({ kind: 'netns.add', name: names.nodeNs(m.name) }));
  if (withSwitch) nsOps.unshift({ kind: 'netns.add', name: names.switchNs });
  await apply(
    [
      { title: 'namespaces', ops: nsOps },
      { title: 'underlay', ops: withSwitch ? cables : cables.slice(2) },
      {
        title: 'uplinks',
        ops: machines.flatMap((m) => [
          ...planUplink({ name: m.name, ns: names.node(m.name), ip: m.ip }, spec.underlay.subnet),
          // The lab owns its machines: br_netfilter off namespace-wide, as the lab's own nodes do (the agent turns
          // it on for its pod bridge alone when its proxy or NetworkPolicy needs it).
          ...(m.name === CP_NODE ? [] : [sysctlOp(names.node(m.name), m.name, BR_NETFILTER_ALL, '0')]),
        ]),
      },
    ],
    runner,
    { batch: true, concurrency: 8 },
  );
}

export async function startDaemon(
  runner: ProcessRunner,
  cmd: Parameters<ProcessRunner['run']>[0],
): Promise<number> {
  const r = await runner.run(cmd);
  if (r.exitCode !== 0 || r.pid === undefined)
    throw new StateError(`could not start ${cmd.argv.slice(4).join(' ')}: ${r.stderr.trim()}`);
  return r.pid;
}

export async function waitFor(what: string, ms: number, f: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  for (;;) {
    try {
      if (await f()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline)
      throw new StateError(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until every listed agent holds a lease, has synced a snapshot at `revision` or later with at least the
 * other listed nodes as peers, and is healthy. Resolves with each node's subnet. Fails naming the agent and its log.
 */
export async function waitForAgents(
  state: LabState,
  nodes: readonly string[],
  revision = 0,
  ms = 20000,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const node of nodes) {
    await waitFor(`the agent of ${node} (see ${agentDirs(state, node).log})`, ms, async () => {
      const pid = livePid(state, node, 'agent');
      if (pid === undefined) throw new Error('the agent is not running');
      const h = agentHealth(state, node);
      if (h?.pid !== pid) return false; // the status file of an earlier run
      if (!h?.lease || !h.lastSync || !h.healthy || !existsSync(agentDirs(state, node).conflist))
        return false;
      if (Number(h.lastSync.revision) < revision || h.peers < nodes.length - 1) return false;
      out.set(node, h.lease.subnet);
      return true;
    });
  }
  return out;
}
