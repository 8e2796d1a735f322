import { HOST_VETH_RE, hostVethName, shortHash } from '../net/ifname.js';
import { Ip } from '../net/ip.js';
import { macFromName } from '../net/mac.js';
import type { NodeModel } from '../plan/node/model.js';
import { emptyNodeState } from '../plan/node/model.js';
import { planNetworkSync } from '../plan/node/network-drift.js';
import { HOST, type Netns, type Op, type Plan } from '../plan/ops.js';
import { planPodAttach } from '../plan/pod.js';
import type { NetConf, PodRange } from './config.js';

/**
 * What CNI ADD/DEL change, composed from the planners the lab uses (the node model, planPodAttach): the plugin
 * only decides names and which parts apply. Pure.
 */

/** The host-side veth of an attachment (net/ifname.ts: the one scheme the lab uses too). */
export const hostIfName = (containerId: string, ifname: string): string =>
  hostVethName(`${containerId}/${ifname}`);

/** Recognises our host-side veth names (GC only touches these). */
export const HOST_IF_RE = HOST_VETH_RE;

/** A deterministic, locally administered MAC for the pod's interface, so the result can report it. */
export const podMacOf = (containerId: string, ifname: string): string =>
  macFromName(`cni/${containerId}/${ifname}`);

/** The nftables table that masquerades one network's pods (ipMasq). */
export const masqTable = (network: string): string => `podnet_cni_${shortHash(network)}`;

/** The bridge's addresses when it is the pods' gateway: each range's gateway with the range's prefix. */
const gatewayCidrs = (conf: NetConf): string[] =>
  conf.isGateway ? conf.ranges.map((r) => `${r.gateway}/${r.subnet.prefix}`) : [];

/**
 * The node part of a CNI network as a node model (plan/node/model.ts): the bridge with the ranges' gateway
 * addresses (when the node is the gateway), forwarding, and the ipMasq table. Pods are not part of it.
 */
export function buildCniNodeModel(conf: NetConf): NodeModel {
  const [first] = conf.ranges;
  const [address = '', ...more] = gatewayCidrs(conf);
  return {
    node: `network ${conf.name}`,
    podCIDR: first ? first.subnet.toString() : '',
    bridge: {
      name: conf.bridge,
      address,
      ...(more.length ? { moreAddresses: more } : {}),
      // Why a fixed MAC: see BridgeModel.mac (plan/node/model.ts).
      mac: macFromName(`bridge/${conf.bridge}/${first?.gateway}`),
      mtu: conf.mtu,
    },
    sysctls: conf.isGateway ? { 'net.ipv4.ip_forward': '1' } : {},
    routes: [],
    fdb: [],
    neighbours: [],
    ...(conf.ipMasq
      ? {
          masquerade: {
            table: masqTable(conf.name),
            subnets: conf.ranges.map((r) => r.subnet.toString()),
            owner: `network ${conf.name}`,
          },
        }
      : {}),
  };
}

/**
 * First ADD on a node (the bridge is not there): the node model synced from an empty node, the same
 * planNodeSync every front door runs. The plugin does not repair a node it finds set up: that is the agent's.
 */
export function planCniNode(conf: NetConf): Plan {
  const desired = buildCniNodeModel(conf);
  return [{ title: 'node', ops: planNetworkSync(emptyNodeState(desired.node), desired, { netns: HOST }) }];
}

export interface AttachParams {
  readonly containerId: string;
  readonly ifname: string;
  readonly netns: string;
  readonly ip: Ip;
  readonly range: PodRange;
  /** Pod name for notes (K8S_POD_NAME, or the container ID). */
  readonly pod: string;
}

/**
 * One attachment: the node side (bridge asserted again, veth created with its pod end moved into CNI_NETNS,
 * plugged into the bridge) as one phase, then the pod side (loopback, address, default route) as a second:
 * with batching that is one `ip -batch` in the node namespace and one in the pod's.
 */
export function planCniAttach(conf: NetConf, a: AttachParams): Plan {
  const podNs: Netns = { kind: 'path', path: a.netns };
  const attach = planPodAttach({
    pod: a.pod,
    nodeNs: HOST,
    podNs,
    bridge: conf.bridge,
    hostIf: hostIfName(a.containerId, a.ifname),
    podIf: a.ifname,
    ip: a.ip,
    prefix: a.range.subnet.prefix,
    gateway: a.range.gateway,
    mtu: conf.mtu,
    hairpin: conf.hairpinMode,
    podMac: podMacOf(a.containerId, a.ifname),
    defaultRoute: conf.isDefaultGateway,
  });
  const onNode = (op: Op) => 'netns' in op && op.netns.kind === 'host';
  return [
    {
      title: 'node side',
      ops: [...bridgeAddresses(conf), ...attach.filter(onNode)],
    },
    { title: 'pod side', ops: attach.filter((op) => !onNode(op)) },
  ];
}

/** The bridge's gateway addresses, asserted again by every ADD (`addr replace`: a no-op when present). */
function bridgeAddresses(conf: NetConf): Op[] {
  return gatewayCidrs(conf).map((cidr) => ({
    kind: 'addr.add',
    netns: HOST,
    dev: conf.bridge,
    cidr,
    note: `network ${conf.name}: give the bridge the pod CIDR's gateway address, pods' next hop off the node`,
  }));
}

/** DEL: removing the host end removes the pair, and with it the pod's interface and its addresses/routes. */
export function planCniDetach(hostIf: string): Op {
  return {
    kind: 'link.del',
    netns: HOST,
    name: hostIf,
    note: `remove veth pair ${hostIf} (and its pod end)`,
  };
}

export { Ip };
