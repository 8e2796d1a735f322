import type { ConfigIssue } from '../errors.js';
import type { ClusterSpec } from '../model/cluster.js';
import { gatewayOf } from '../model/ipam.js';
import type { Cluster, NodeView } from '../model/resolve.js';
import { parseServiceManifest, type ServiceView } from '../model/service.js';
import { Cidr, Ip } from '../net/ip.js';
import { planMtu } from '../plan/mtu.js';
import { buildNodeModel } from '../plan/node/build.js';
import type { NodeModel } from '../plan/node/model.js';
import {
  MAX_ENDPOINTS,
  type ProxyEndpoint,
  type ProxyModel,
  type ProxyServicePort,
} from '../plan/services/model.js';
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

/** Services the store holds that the agent cannot use, each with why (logged, never fatal). */
export interface Skipped {
  readonly key: string;
  readonly why: string;
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
  const cluster = clusterOfSnapshot(config, snap.subnets, self);
  const base = buildNodeModel(cluster, self.node, { uplink: self.iface });
  const { proxy: _computed, ...rest } = base;
  if (self.proxy === 'none') return { model: rest, cluster, skipped: [] };
  const { proxy, skipped } = proxyOfStore(snap, cluster, self.node, self.proxy);
  return { model: { ...rest, proxy }, cluster, skipped };
}

/** The pod MTU this node's conflist must carry (bridge and veths: the underlay less the backend's overhead). */
export function podMtu(config: NetworkConfig, self: Pick<SelfView, 'underlayMtu'>): number {
  return planMtu({
    underlay: { subnet: Cidr.parse('0.0.0.0/0'), mtu: config.mtu ?? self.underlayMtu },
    crossNode: config.backend.type,
  }).pod;
}

/**
 * The proxy model from stored Services (with their ClusterIPs) and EndpointSlices (pure): the same shape
 * `buildProxyModel` derives from a lab's pods, so both render identically. A slice belongs to the Service
 * named by its `kubernetes.io/service-name` label; only ready endpoints count; target ports come from the
 * slice's port of the same name.
 */
export function proxyOfStore(
  snap: Snapshot,
  cluster: Cluster,
  node: string,
  mode: 'nftables' | 'iptables',
): { proxy: ProxyModel; skipped: Skipped[] } {
  const skipped: Skipped[] = [];
  const views: ServiceView[] = [];
  for (const s of snap.services) {
    const key = `${s.namespace}/${s.name}`;
    const issues: ConfigIssue[] = [];
    const spec = parseServiceManifest(s.manifest, '', issues);
    if (!spec || issues.length) {
      skipped.push({ key, why: issues.map((i) => `${i.path}: ${i.message}`).join('; ') });
      continue;
    }
    if (!spec.clusterIP || !cluster.spec.serviceCIDR.contains(spec.clusterIP)) {
      skipped.push({
        key,
        why: `no spec.clusterIP inside ${cluster.spec.serviceCIDR} (the store holds allocated services)`,
      });
      continue;
    }
    views.push({ ...spec, clusterIP: spec.clusterIP });
  }
  const slicesOf = (v: ServiceView): EndpointSliceObject[] =>
    snap.endpointSlices.filter(
      (e) =>
        e.namespace === v.namespace && e.slice.metadata.labels?.['kubernetes.io/service-name'] === v.name,
    );
  const services: ProxyServicePort[] = [];
  for (const svc of views) {
    const slices = slicesOf(svc);
    for (const port of svc.ports) {
      const all: ProxyEndpoint[] = [];
      for (const { slice } of slices) {
        const sp = slice.ports?.find((p) => p.name === port.name && p.protocol === port.protocol);
        const target = sp?.port ?? port.targetPort;
        for (const e of slice.endpoints ?? []) {
          if (!e.conditions?.ready || !e.addresses?.[0]) continue;
          all.push({
            ip: e.addresses[0],
            port: target,
            pod: e.targetRef?.name ?? e.addresses[0],
            local: e.nodeName === node,
          });
        }
      }
      all.sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
      const local = all.filter((e) => e.local);
      const cap = (eps: ProxyEndpoint[]) => eps.slice(0, MAX_ENDPOINTS);
      services.push({
        id: `${svc.namespace}/${svc.name}:${port.name || `${port.port}/${port.protocol.toLowerCase()}`}`,
        clusterIP: svc.clusterIP.toString(),
        protocol: port.protocol === 'UDP' ? 'udp' : 'tcp',
        port: port.port,
        endpoints: cap(svc.internalTrafficPolicy === 'Local' ? local : all),
        ...(svc.type === 'NodePort' && port.nodePort !== undefined
          ? {
              nodePort: port.nodePort,
              nodePortEndpoints: cap(svc.externalTrafficPolicy === 'Local' ? local : all),
              nodePortLocal: svc.externalTrafficPolicy === 'Local',
            }
          : {}),
        ...(svc.sessionAffinity === 'ClientIP' ? { affinitySeconds: svc.affinityTimeoutSeconds } : {}),
      });
    }
  }
  services.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    proxy: {
      node,
      mode,
      clusterCIDR: cluster.spec.clusterCIDR.toString(),
      serviceCIDR: cluster.spec.serviceCIDR.toString(),
      egressMasquerade: true,
      services,
    },
    skipped,
  };
}
