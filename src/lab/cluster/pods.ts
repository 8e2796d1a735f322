import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { apply } from '../../apply/apply.js';
import { StateError } from '../../errors.js';
import type { ProcessRunner } from '../../exec/process-runner.js';
import type { ClusterSpec, NodeSpec, PodSpec } from '../../model/cluster.js';
import { type Cluster, resolveCluster } from '../../model/resolve.js';
import { Cidr, Ip } from '../../net/ip.js';
import type { Op } from '../../plan/ops.js';
import { planContainers, planOverlay, planPause, planSandboxNames } from '../../plan/sandbox.js';
import type { LabNames } from '../names.js';
import { containersOf, IDENTITY_PORTS, identityLine } from '../plan.js';
import type { LabState } from '../state.js';
import { labPaths, waitReady } from '../up.js';
import { agentDirs } from './record.js';

const CLI = fileURLToPath(new URL('../../../../bin/podnet.js', import.meta.url));

/**
 * Creates pods the way a container runtime does on a node run by the agent: a sandbox (pause process and its
 * namespaces), then the CNI plugin's ADD inside the node with the conflist the agent wrote (the plugin picks
 * the address), then the containers. Returns the cluster with every subnet and address as they now are.
 */
export async function createPods(
  runner: ProcessRunner,
  state: LabState,
  names: LabNames,
  spec: ClusterSpec,
  subnets: ReadonlyMap<string, string>,
  pods: readonly PodSpec[] = spec.pods,
): Promise<Cluster> {
  const paths = labPaths(state);
  const sandboxes: Op[] = [];
  for (const p of pods) {
    for (const c of p.containers.filter((x) => x.rootfs === 'busybox')) {
      const o = paths.overlay(p.name, c.name);
      for (const d of [o.upper, o.work, o.merged]) mkdirSync(d, { recursive: true });
      sandboxes.push(...planOverlay(p.name, c.name, names.pidVar(p.name), { lower: paths.lowerDir, ...o }));
    }
  }
  await apply(
    [
      {
        title: 'pause',
        ops: pods.flatMap((p) => planPause(p.name, names.pidVar(p.name), paths.log(p.name, 'pause'))),
      },
      {
        title: 'sandboxes',
        ops: [
          ...pods.flatMap((p) => planSandboxNames(p.name, names.pidVar(p.name), names.podNs(p.name))),
          ...sandboxes,
        ],
      },
    ],
    runner,
    { batch: true, vars: runner.vars, concurrency: 8 },
  );
  // CNI ADD, one node's pods after another's in parallel (the plugin serializes its IPAM per node anyway).
  const ips = new Map<string, string>();
  const byNode = new Map<string, PodSpec[]>();
  for (const p of pods) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p]);
  await Promise.all(
    [...byNode].map(async ([node, list]) => {
      for (const p of list) ips.set(p.name, await cniAdd(runner, state, names, node, p.name));
    }),
  );
  const cluster = pinnedCluster(spec, subnets, ips);
  const fresh = cluster.pods.filter((p) => pods.some((x) => x.name === p.name));
  const files: Op[] = fresh
    .filter((p) => p.containers.length === 0)
    .flatMap((p) =>
      Object.keys(IDENTITY_PORTS).map(
        (c): Op => ({
          kind: 'file.write',
          path: `${paths.www(p.name, c)}/index.html`,
          content: identityLine(p, c),
        }),
      ),
    );
  await apply(
    [
      { title: 'identity pages', ops: files },
      {
        title: 'containers',
        ops: fresh.flatMap((p) => planContainers(p.name, names.pidVar(p.name), containersOf(p, paths))),
      },
    ],
    runner,
    { batch: true, vars: runner.vars, concurrency: 8 },
  );
  await waitReady({ ...cluster, pods: fresh }, state);
  return cluster;
}

/** The spec with each node's leased subnet and each pod's CNI address pinned: resolves to the lab as it is. */
export function pinnedCluster(
  spec: ClusterSpec,
  subnets: ReadonlyMap<string, string>,
  ips: ReadonlyMap<string, string>,
): Cluster {
  const nodes: NodeSpec[] = spec.nodes.map((n) => {
    const s = subnets.get(n.name);
    return s ? { ...n, podCIDR: Cidr.parse(s) } : n;
  });
  const pods: PodSpec[] = spec.pods.map((p) => {
    const ip = ips.get(p.name);
    return ip ? { ...p, ip: Ip.parse(ip) } : p;
  });
  return resolveCluster({ ...spec, nodes, pods });
}

/** The runtime's ADD: the conflist's first plugin with the list's name and version, on the node. */
async function cniAdd(
  runner: ProcessRunner,
  state: LabState,
  names: LabNames,
  node: string,
  pod: string,
): Promise<string> {
  const r = await cniCall(runner, state, names, node, pod, 'ADD');
  let result: { ips?: { address: string }[]; code?: number; msg?: string };
  try {
    result = JSON.parse(r.stdout);
  } catch {
    throw new StateError(
      `CNI ADD of pod '${pod}' on ${node} printed no JSON (exit ${r.exitCode}): ${r.stderr.trim()}`,
    );
  }
  const address = result.ips?.[0]?.address;
  if (!address) throw new StateError(`CNI ADD of pod '${pod}' on ${node} failed: ${result.msg ?? r.stdout}`);
  return address.split('/')[0]!;
}

/** The runtime's DEL: releases the address and removes the pod's veth. */
export async function cniDel(
  runner: ProcessRunner,
  state: LabState,
  names: LabNames,
  node: string,
  pod: string,
): Promise<void> {
  await cniCall(runner, state, names, node, pod, 'DEL');
}

/** Runs the plugin inside the node's namespace, as a runtime on that node would (env + conf on stdin). */
function cniCall(
  runner: ProcessRunner,
  state: LabState,
  names: LabNames,
  node: string,
  pod: string,
  command: 'ADD' | 'DEL',
) {
  const list = JSON.parse(readFileSync(agentDirs(state, node).conflist, 'utf8')) as {
    cniVersion: string;
    name: string;
    plugins: Record<string, unknown>[];
  };
  const conf = { cniVersion: list.cniVersion, name: list.name, ...list.plugins[0] };
  return runner.run({
    argv: [
      'ip',
      'netns',
      'exec',
      names.nodeNs(node),
      'env',
      `CNI_COMMAND=${command}`,
      `CNI_CONTAINERID=${names.lab}-${pod}`,
      `CNI_NETNS=/run/netns/${names.podNs(pod)}`,
      'CNI_IFNAME=eth0',
      'CNI_PATH=/opt/cni/bin',
      `CNI_ARGS=K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod}`,
      process.execPath,
      CLI,
    ],
    stdin: JSON.stringify(conf),
    note: `${pod}: CNI ${command} on ${node} with the conflist its agent wrote`,
  });
}
