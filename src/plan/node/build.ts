import { PlanError } from '../../errors.js';
import type { Cluster, NodeView } from '../../model/resolve.js';
import { macFromName } from '../../net/mac.js';
import { segmentsOf } from '../cross-node/host-gw.js';
import { IPIP_DEVICE } from '../cross-node/ipip.js';
import { vtepIp, vtepMac, vxlanDevice } from '../cross-node/vxlan.js';
import { planMtu } from '../mtu.js';
import { buildPolicyModel } from '../policy/model.js';
import { worldOf } from '../policy/world.js';
import { buildProxyModel } from '../services/model.js';
import { BR_NETFILTER_ALL } from './devices.js';
import type { FdbModel, NeighModel, NodeModel, RouteModel, TunnelModel } from './model.js';

export interface NodeModelOptions {
  /** The node's uplink, which tunnels and host-gw routes use (the lab's nodes: eth0). */
  readonly uplink?: string;
  /**
   * The node's network namespace is podnet's alone (the lab's nodes): namespace-wide settings may be set, so
   * br_netfilter is turned off for the namespace and on only for the bridge that needs it. Elsewhere (a host's
   * own namespace, other bridges) the namespace-wide switch is left as it is. @default false
   */
  readonly ownsNamespace?: boolean;
  /** Build the service proxy's model (false: the caller syncs the proxy apart). @default true */
  readonly proxy?: boolean;
}

/**
 * The desired state of one node of a cluster (pure): bridge, sysctls, the cross-node backend's device and
 * per-peer entries, the service proxy. Throws PlanError for a node the cluster does not have.
 */
export function buildNodeModel(cluster: Cluster, nodeName: string, opts: NodeModelOptions = {}): NodeModel {
  const node = cluster.nodes.find((n) => n.name === nodeName);
  if (!node)
    throw new PlanError(
      `no node '${nodeName}' in cluster '${cluster.spec.name}'; it has: ${cluster.nodes.map((n) => n.name).join(', ')}`,
    );
  const { spec } = cluster;
  const uplink = opts.uplink ?? 'eth0';
  const bridged = spec.sameNode === 'bridge';
  const mtu = planMtu(spec).pod;
  const sysctls: Record<string, string> = { 'net.ipv4.ip_forward': '1' };
  const routes: RouteModel[] = [];
  const fdb: FdbModel[] = [];
  const neighbours: NeighModel[] = [];
  let tunnel: TunnelModel | undefined;
  const peers = cluster.nodes.filter((p) => p.name !== node.name);
  const ctx = { node, peers, uplink, mtu, routes, fdb, neighbours, sysctls };
  if (bridged) {
    if (spec.crossNode === 'host-gw') hostGw(cluster, ctx);
    else if (spec.crossNode === 'vxlan') tunnel = vxlan(cluster, ctx);
    else if (spec.crossNode === 'ipip') tunnel = ipip(ctx);
  }
  const proxied = bridged && spec.proxy !== 'none';
  // NetworkPolicy: bridged frames must pass the forward hook (the bridge's own switch), and a cut TCP
  // connection must stay cut.
  const policed = bridged && (spec.networkPolicies?.length ?? 0) > 0;
  if (policed) sysctls['net.netfilter.nf_conntrack_tcp_loose'] = '0';
  // br_netfilter costs every bridged frame a trip through the IP hooks: only the bridge that needs it asks.
  if (bridged && opts.ownsNamespace) sysctls[BR_NETFILTER_ALL] = '0';
  if (proxied) {
    routes.push({
      dst: spec.serviceCIDR.toString(),
      dev: spec.bridge,
      why: `a route for the service CIDR, so the node's own connections to ClusterIPs reach the OUTPUT hook (source: the bridge address)`,
    });
  }
  return {
    node: node.name,
    podCIDR: node.podCIDR.toString(),
    ...(bridged
      ? {
          bridge: {
            name: spec.bridge,
            address: `${node.gateway}/${node.podCIDR.prefix}`,
            // Why a fixed MAC: see BridgeModel.mac.
            mac: macFromName(`bridge/${spec.bridge}/${node.gateway}`),
            mtu,
            ...(proxied || policed ? { nfCallIptables: true } : {}),
          },
        }
      : {}),
    sysctls,
    ...(tunnel ? { tunnel } : {}),
    routes,
    fdb,
    neighbours,
    ...(proxied && opts.proxy !== false ? { proxy: buildProxyModel(cluster, node.name) } : {}),
    ...(policed ? { policy: buildPolicyModel(worldOf(cluster), node.name) } : {}),
  };
}

interface Ctx {
  readonly node: NodeView;
  readonly peers: readonly NodeView[];
  readonly uplink: string;
  readonly mtu: number;
  readonly routes: RouteModel[];
  readonly fdb: FdbModel[];
  readonly neighbours: NeighModel[];
  readonly sysctls: Record<string, string>;
}

/** host-gw: each peer's pod CIDR via that peer's underlay address (one L2 segment required). */
function hostGw(c: Cluster, x: Ctx): void {
  const segments = segmentsOf(c);
  if (segments.size > 1)
    throw new PlanError(
      `host-gw needs every node on one L2 segment, but the nodes are on ${segments.size}: ${[...segments].map(([k, v]) => `${k} (${v.join(', ')})`).join('; ')}; use vxlan or ipip across segments`,
    );
  for (const p of x.peers)
    x.routes.push({
      dst: p.podCIDR.toString(),
      via: p.ip.toString(),
      dev: x.uplink,
      peer: p.name,
      why: `pods of ${p.name} (${p.podCIDR}) are reached through ${p.name} itself (${p.ip}), a plain routed hop`,
    });
}

/** VXLAN: unicast (static neighbour + FDB + onlink route per peer) or multicast (bridge port, one route). */
function vxlan(c: Cluster, x: Ctx): TunnelModel {
  const dev = vxlanDevice(c);
  const v = c.spec.vxlan;
  const base = {
    kind: 'vxlan' as const,
    name: dev,
    vni: v.vni,
    local: x.node.ip.toString(),
    dev: x.uplink,
    port: v.port,
    mtu: x.mtu,
  };
  if (v.learning === 'multicast') {
    x.routes.push({
      dst: c.spec.clusterCIDR.toString(),
      dev: c.spec.bridge,
      why: 'the whole cluster CIDR is on the bridge: one route, whatever the number of nodes',
    });
    // Pods would accept the node's ICMP redirects (the packet enters and leaves by the bridge) and ARP for
    // remote pods themselves: keep the node their only next hop. The kernel ORs `all` and the device.
    x.sysctls['net.ipv4.conf.all.send_redirects'] = '0';
    x.sysctls[`net.ipv4.conf.${c.spec.bridge}.send_redirects`] = '0';
    return { ...base, group: v.group.toString(), learning: true, master: c.spec.bridge };
  }
  for (const p of x.peers) {
    const ip = vtepIp(p);
    const mac = vtepMac(p.name);
    x.neighbours.push({
      dev,
      ip,
      mac,
      peer: p.name,
      why: `${p.name}'s VTEP ${ip} has MAC ${mac} (permanent, no ARP)`,
    });
    x.fdb.push({
      dev,
      mac,
      dst: p.ip.toString(),
      peer: p.name,
      why: `frames for ${p.name}'s VTEP MAC are tunnelled to ${p.ip}`,
    });
    x.routes.push({
      dst: p.podCIDR.toString(),
      via: ip,
      dev,
      onlink: true,
      peer: p.name,
      why: `${p.name}'s pods (${p.podCIDR}) via its VTEP, on the VXLAN device`,
    });
  }
  return { ...base, learning: false, mac: vtepMac(x.node.name), address: `${vtepIp(x.node)}/32` };
}

/** IP-in-IP: one NBMA device, an onlink route per peer via its underlay address (the outer destination). */
function ipip(x: Ctx): TunnelModel {
  for (const p of x.peers)
    x.routes.push({
      dst: p.podCIDR.toString(),
      via: p.ip.toString(),
      dev: IPIP_DEVICE,
      onlink: true,
      peer: p.name,
      why: `${p.name}'s pods (${p.podCIDR}) inside an outer IP header to ${p.ip}`,
    });
  return {
    kind: 'ipip',
    name: IPIP_DEVICE,
    local: x.node.ip.toString(),
    mtu: x.mtu,
    address: `${x.node.podCIDR.network}/32`,
  };
}
