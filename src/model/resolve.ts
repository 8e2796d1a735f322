import { ConfigError, type ConfigIssue } from '../errors.js';
import { Cidr, Ip } from '../net/ip.js';
import type { ClusterSpec, ContainerSpec, PodSpec } from './cluster.js';
import { allocateNodeCidrs, allocatePodIps, gatewayOf, isAssignable, podCapacity } from './ipam.js';
import { allocateClusterIPs, type ServiceView, serviceKey } from './service.js';

/** A node with its addresses decided. */
export interface NodeView {
  readonly name: string;
  readonly ip: Ip;
  readonly podCIDR: Cidr;
  /** The bridge address pods use as their default gateway (.1 of the pod CIDR). */
  readonly gateway: Ip;
}

/** A pod with its address decided. */
export interface PodView {
  readonly name: string;
  readonly node: string;
  readonly ip: Ip;
  /** Prefix length of the pod's address (its node's pod CIDR). */
  readonly prefix: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly containers: readonly ContainerSpec[];
  /** Kubernetes namespace and container ports (NetworkPolicy); see PodSpec. */
  readonly namespace?: string;
  readonly ports?: PodSpec['ports'];
}

/** A cluster with every address decided: what planners work from. */
export interface Cluster {
  readonly spec: ClusterSpec;
  readonly nodes: readonly NodeView[];
  readonly pods: readonly PodView[];
  /** Services with their ClusterIPs decided (endpoints: model/service-endpoints.ts endpointSliceOf). */
  readonly services: readonly ServiceView[];
}

/** Addresses handed out before (from a lab's state), so they stay stable across runs and changes. */
export interface Allocations {
  readonly nodes: Readonly<Record<string, string>>;
  readonly pods: Readonly<Record<string, string>>;
  /** ClusterIPs by `namespace/name`. */
  readonly services?: Readonly<Record<string, string>>;
}

/**
 * Decides every node's pod CIDR and every pod's IP. Pinned addresses are honoured and checked for conflicts;
 * earlier allocations are kept. Throws ConfigError listing every conflict and every exhausted range.
 */
export function resolveCluster(spec: ClusterSpec, previous?: Allocations): Cluster {
  const issues: ConfigIssue[] = [];
  // Pinned node CIDRs must not overlap each other.
  const pinned = spec.nodes.filter((n) => n.podCIDR);
  pinned.forEach((a, i) => {
    for (const b of pinned.slice(i + 1)) {
      if (a.podCIDR!.overlaps(b.podCIDR!))
        issues.push({
          path: `spec.nodes[${spec.nodes.indexOf(b)}].podCIDR`,
          message: `'${b.podCIDR}' overlaps node '${a.name}' pod CIDR '${a.podCIDR}'`,
        });
    }
  });
  const prevNodes = new Map(
    Object.entries(previous?.nodes ?? {}).flatMap(([k, v]) => {
      const c = Cidr.tryParse(v);
      return c ? [[k, c] as const] : [];
    }),
  );
  const { assigned: cidrs, exhausted } = allocateNodeCidrs(
    spec.clusterCIDR,
    spec.nodeCIDRMaskSize,
    spec.nodes.map((n) => ({ name: n.name, ...(n.podCIDR ? { pinned: n.podCIDR } : {}) })),
    prevNodes,
  );
  for (const name of exhausted) {
    issues.push({
      path: `spec.nodes[${spec.nodes.findIndex((n) => n.name === name)}]`,
      message: `node '${name}' gets no pod CIDR: '${spec.clusterCIDR}' holds only ${2 ** (spec.nodeCIDRMaskSize - spec.clusterCIDR.prefix)} /${spec.nodeCIDRMaskSize} subnets`,
      hint: 'use a larger clusterCIDR or a longer nodeCIDRMaskSize',
    });
  }

  const nodes: NodeView[] = [];
  const pods: PodView[] = [];
  const prevPods = new Map(
    Object.entries(previous?.pods ?? {}).flatMap(([k, v]) => {
      const ip = Ip.tryParse(v);
      return ip ? [[k, ip] as const] : [];
    }),
  );
  for (const n of spec.nodes) {
    const podCIDR = cidrs.get(n.name);
    if (!podCIDR) continue;
    nodes.push({ name: n.name, ip: n.ip, podCIDR, gateway: gatewayOf(podCIDR) });
    const onNode = spec.pods.filter((p) => p.node === n.name);
    const seen = new Map<number, string>();
    for (const p of onNode) {
      if (!p.ip) continue;
      const path = `spec.pods[${spec.pods.indexOf(p)}].ip`;
      if (!isAssignable(podCIDR, p.ip)) {
        issues.push({
          path,
          message: `'${p.ip}' is not a usable address of node '${n.name}' pod CIDR '${podCIDR}'`,
          hint: `use ${podCIDR.network.add(2)} to ${podCIDR.broadcast.add(-1)} (.1 is the gateway)`,
        });
      } else if (seen.has(p.ip.value)) {
        issues.push({ path, message: `'${p.ip}' is already the address of pod '${seen.get(p.ip.value)}'` });
      }
      seen.set(p.ip.value, p.name);
    }
    if (onNode.length > podCapacity(podCIDR)) {
      issues.push({
        path: `spec.nodes[${spec.nodes.indexOf(n)}]`,
        message: `node '${n.name}' has ${onNode.length} pods but its pod CIDR '${podCIDR}' holds only ${podCapacity(podCIDR)}`,
        hint: 'use a shorter nodeCIDRMaskSize',
      });
      continue;
    }
    const { assigned } = allocatePodIps(
      podCIDR,
      onNode.map((p) => ({ name: p.name, ...(p.ip && isAssignable(podCIDR, p.ip) ? { pinned: p.ip } : {}) })),
      prevPods,
    );
    for (const p of onNode) {
      const ip = assigned.get(p.name);
      if (ip)
        pods.push({
          name: p.name,
          node: p.node,
          ip,
          prefix: podCIDR.prefix,
          labels: p.labels,
          containers: p.containers,
          ...(p.namespace ? { namespace: p.namespace } : {}),
          ...(p.ports?.length ? { ports: p.ports } : {}),
        });
    }
  }
  const services = allocateClusterIPs(spec.services ?? [], spec.serviceCIDR, previous?.services, issues);
  if (issues.length) throw new ConfigError(issues);
  return { spec, nodes, pods, services };
}

/** The allocations of a resolved cluster, to persist. */
export function allocationsOf(c: Cluster): Allocations {
  return {
    nodes: Object.fromEntries(c.nodes.map((n) => [n.name, n.podCIDR.toString()])),
    pods: Object.fromEntries(c.pods.map((p) => [p.name, p.ip.toString()])),
    services: Object.fromEntries(c.services.map((s) => [serviceKey(s), s.clusterIP.toString()])),
  };
}

export const nodeOf = (c: Cluster, name: string): NodeView => {
  const n = c.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`internal: unknown node ${name}`);
  return n;
};
