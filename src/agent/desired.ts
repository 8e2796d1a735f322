import type { ClusterSpec } from '../model/cluster.js';
import { gatewayOf } from '../model/ipam.js';
import type { Cluster, NodeView } from '../model/resolve.js';
import { Cidr, Ip } from '../net/ip.js';
import { planMtu } from '../plan/mtu.js';
import { buildNodeModel } from '../plan/node/build.js';
import type { NodeModel } from '../plan/node/model.js';
import type { ProxyModel, ProxyServicePort } from '../plan/services/model.js';
import { byId, portsOfService, type Skipped, serviceOfSlice } from './proxy-ports.js';

export type { Skipped } from './proxy-ports.js';

import type { EndpointSliceObject, NetworkConfig, Snapshot, SubnetLease } from './store/store.js';

/** What the agent knows of its own node besides the store: the lease it holds and its uplink. */
export interface SelfView {
  readonly node: string;
  /** The subnet this agent holds (its lease may be missing from a snapshot taken while it is re-acquired). */
  readonly subnet: string;
  readonly publicIP: string;
  /** The uplink's network (`192.168.64.0/24`), the underlay as this node sees it. */
  readonly underlay: string;
  readonly iface: string;
  readonly underlayMtu: number;
  readonly proxy: 'nftables' | 'iptables' | 'none';
  /** The pod bridge. */
  readonly bridge: string;
}

/** The agent's bridge; the CNI plugin's default too, so a conflist and the agent agree on it. */
export const AGENT_BRIDGE = 'podnet0';

/**
 * The cluster as this node must see it (pure): every live lease is a node, services carry their stored
 * ClusterIPs. Pods are not in the store (the CNI plugin attaches them); endpoints come from EndpointSlices.
 * Leases that clash with ours (same node name or public IP, another subnet) are left out.
 */
export function clusterOfSnapshot(
  config: NetworkConfig,
  leases: readonly SubnetLease[],
  self: SelfView,
): Cluster {
  const own = Cidr.parse(self.subnet);
  const seen = new Set<string>([self.node]);
  const nodes: NodeView[] = [
    { name: self.node, ip: Ip.parse(self.publicIP), podCIDR: own, gateway: gatewayOf(own) },
  ];
  for (const l of leases) {
    const cidr = Cidr.tryParse(l.subnet);
    const ip = Ip.tryParse(l.attrs.publicIP);
    if (!cidr || !ip || seen.has(l.attrs.node) || l.attrs.publicIP === self.publicIP || cidr.overlaps(own))
      continue;
    seen.add(l.attrs.node);
    nodes.push({ name: l.attrs.node, ip, podCIDR: cidr, gateway: gatewayOf(cidr) });
  }
  nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const spec: ClusterSpec = {
    name: 'podnet',
    clusterCIDR: Cidr.parse(config.network),
    serviceCIDR: Cidr.parse(config.serviceNetwork),
    nodeCIDRMaskSize: config.subnetLen,
    underlay: { subnet: Cidr.parse(self.underlay, false), mtu: config.mtu ?? self.underlayMtu },
    sameNode: 'bridge',
    crossNode: config.backend.type,
    vxlan: {
      vni: config.backend.vni ?? 1,
      port: config.backend.port ?? 4789,
      learning: 'unicast',
      group: Ip.parse('239.1.1.1'),
    },
    bridge: self.bridge,
    nodes: nodes.map((n) => ({ name: n.name, ip: n.ip, podCIDR: n.podCIDR })),
    pods: [],
    services: [],
    ...(self.proxy !== 'none' ? { proxy: self.proxy } : {}),
  };
  return { spec, nodes, pods: [], services: [] };
}

/**
 * This node's desired state from one snapshot (pure): bridge, sysctls, the backend's per-peer entries, and
 * the service proxy built from the stored Services and EndpointSlices.
 */
export function desiredModel(
  snap: Snapshot,
  config: NetworkConfig,
  self: SelfView,
): { model: NodeModel; cluster: Cluster; skipped: Skipped[] } {
  const { model, cluster } = desiredBase(snap.subnets, config, self);
  if (self.proxy === 'none') return { model, cluster, skipped: [] };
  const { proxy, skipped } = proxyOfStore(snap, cluster, self.node, self.proxy);
  return { model: { ...model, proxy }, cluster, skipped };
}

/** The node's desired state without the service proxy (pure): what the leases alone decide. */
export function desiredBase(
  subnets: readonly SubnetLease[],
  config: NetworkConfig,
  self: SelfView,
): { model: NodeModel; cluster: Cluster } {
  const cluster = clusterOfSnapshot(config, subnets, self);
  const { proxy: _computed, ...model } = buildNodeModel(cluster, self.node, { uplink: self.iface });
  return { model, cluster };
}

/** The pod MTU this node's conflist must carry (bridge and veths: the underlay less the backend's overhead). */
export function podMtu(config: NetworkConfig, self: Pick<SelfView, 'underlayMtu'>): number {
  return planMtu({
    underlay: { subnet: Cidr.parse('0.0.0.0/0'), mtu: config.mtu ?? self.underlayMtu },
    crossNode: config.backend.type,
  }).pod;
}

/**
 * The proxy model from stored Services (with their ClusterIPs) and EndpointSlices (pure), built whole: the
 * same shape `buildProxyModel` derives from a lab's pods, so both render identically. A slice belongs to the
 * Service named by its `kubernetes.io/service-name` label (proxy-ports.ts). The agent's loop builds the same
 * model change by change (proxy-builder.ts); this is its definition.
 */
export function proxyOfStore(
  snap: Snapshot,
  cluster: Cluster,
  node: string,
  mode: 'nftables' | 'iptables',
): { proxy: ProxyModel; skipped: Skipped[] } {
  const skipped: Skipped[] = [];
  const bySvc = new Map<string, EndpointSliceObject[]>();
  for (const o of snap.endpointSlices) {
    const k = serviceOfSlice(o);
    if (k === undefined) continue;
    const list = bySvc.get(k);
    if (list) list.push(o);
    else bySvc.set(k, [o]);
  }
  const services: ProxyServicePort[] = [];
  for (const s of snap.services) {
    const r = portsOfService(s, (k) => bySvc.get(k) ?? [], cluster.spec.serviceCIDR, node);
    if ('skipped' in r) skipped.push(r.skipped);
    else services.push(...r.ports);
  }
  services.sort(byId);
  return { proxy: proxyModelOf(cluster, node, mode, services), skipped };
}

/** The proxy model around its service ports (sorted by id). */
export const proxyModelOf = (
  cluster: Cluster,
  node: string,
  mode: 'nftables' | 'iptables',
  services: readonly ProxyServicePort[],
): ProxyModel => ({
  node,
  mode,
  clusterCIDR: cluster.spec.clusterCIDR.toString(),
  serviceCIDR: cluster.spec.serviceCIDR.toString(),
  egressMasquerade: true,
  services,
});
