import type { PolicyNodeModel } from '../policy/model.js';
import type { ProxyModel } from '../services/model.js';

/**
 * One node's desired state: plain, JSON-serialisable data that can be stored, printed and compared. Built from
 * a cluster snapshot by `buildNodeModel` (build.ts); observe (src/observe/node.ts) reads a node's kernel into
 * the same shape (`NodeState`); `planNodeSync` (sync.ts) returns the ops from one to the other.
 *
 * How a front door (lab, CNI plugin, node agent) runs a node, level-triggered like kube-proxy or kindnetd:
 *
 *   const desired = buildNodeModel(cluster, 'node-1');          // pure, from the snapshot
 *   const observed = await observeNode(runner, netns, desired); // the kernel, podnet-owned objects only
 *   const ops = planNodeSync(observed, desired, { netns });     // pure; [] when nothing differs
 *   await applyOps(ops, runner);                                // src/apply; print with PrintRunner instead
 *
 * On every event the agent may skip the observe step and pass the model it applied last as `observed`
 * (NodeModel is a NodeState): the same function then plans an incremental change. A resync timer observes.
 *
 * Pods (their veths, addresses, routes inside the pod) are inputs, not part of the node model: the CNI plugin
 * or the lab attaches them. What is podnet's on a node is listed in docs/kernel-objects.md.
 */
export interface NodeModel {
  readonly node: string;
  readonly podCIDR: string;
  /** The pod bridge; absent when pods are not bridged (the lab's sameNode: veth). */
  readonly bridge?: BridgeModel;
  /** Sysctl key (dotted) → value. Only these keys are compared; other sysctls are not podnet's. */
  readonly sysctls: Readonly<Record<string, string>>;
  /** The cross-node backend's tunnel device (vxlan, ipip); absent for host-gw and none. */
  readonly tunnel?: TunnelModel;
  /** Every route podnet puts in the node's main table (marked `proto ROUTE_PROTO`), sorted by dst. */
  readonly routes: readonly RouteModel[];
  /** Permanent FDB entries on the tunnel device (unicast vxlan), one per peer. */
  readonly fdb: readonly FdbModel[];
  /** Permanent neighbour entries on the tunnel device (unicast vxlan), one per peer. */
  readonly neighbours: readonly NeighModel[];
  /**
   * The service proxy's desired data (what the nftables or iptables renderers take), including egress
   * masquerade; absent when the node runs no proxy. In a NodeState observed from the kernel it is a ProxyState.
   */
  readonly proxy?: ProxyModel;
  /** Egress masquerade outside the service proxy (the CNI plugin's ipMasq): one owned nftables table. */
  readonly masquerade?: MasqueradeModel;
  /**
   * NetworkPolicy: the node's podnet-policy table as data (absent: the cluster has no policies). Observe reads
   * the table back into the same shape (observe/policy.ts), so diffNode compares element by element.
   */
  readonly policy?: PolicyModel;
}

export interface MasqueradeModel {
  /** The table, `ip <table>`, owned end to end (podnet_cni_<hash of the network name>). */
  readonly table: string;
  /** Pod subnets whose traffic leaving the subnet is masqueraded. */
  readonly subnets: readonly string[];
  /** For explanations: whose masquerade it is (`network NAME`). */
  readonly owner: string;
}

export interface BridgeModel {
  readonly name: string;
  /** The pod CIDR's gateway address, `a.b.c.d/prefix`, on the bridge; '' when the node is not the gateway. */
  readonly address: string;
  /** Further gateway addresses (the CNI plugin's other ranges). */
  readonly moreAddresses?: readonly string[];
  /**
   * Fixed, derived from the bridge name and gateway: a bridge without its own address takes the lowest MAC of
   * its ports and changes it when that port leaves, and every pod's ARP entry for the gateway then points
   * nowhere until it expires.
   */
  readonly mac: string;
  readonly mtu: number;
  /**
   * br_netfilter for this bridge only (`nf_call_iptables`): its bridged IPv4 frames pass the IP hooks. Set when
   * the node runs the service proxy (a same-node endpoint's reply is un-DNATed) or NetworkPolicy (pod-to-pod
   * frames reach the forward hook); otherwise bridged frames skip the hooks (docs/backends/README.md).
   */
  readonly nfCallIptables?: boolean;
}

export type TunnelModel =
  | {
      readonly kind: 'vxlan';
      readonly name: string;
      readonly vni: number;
      /** Underlay address of this node (outer source). */
      readonly local: string;
      /** The uplink the tunnel's packets leave by. */
      readonly dev: string;
      readonly port: number;
      /** Multicast group (flood-and-learn); absent: unicast with static FDB. */
      readonly group?: string;
      readonly learning: boolean;
      readonly mac?: string;
      readonly mtu: number;
      /** The VTEP address `ip/32` (unicast). */
      readonly address?: string;
      /** The bridge the device is a port of (multicast). */
      readonly master?: string;
    }
  | {
      readonly kind: 'ipip';
      readonly name: string;
      readonly local: string;
      readonly mtu: number;
      readonly address: string;
    };

export interface RouteModel {
  readonly dst: string;
  readonly via?: string;
  readonly dev: string;
  readonly onlink?: boolean;
  /** The peer node this route is for, if any (a removed peer takes exactly its entries along). */
  readonly peer?: string;
  /** One line: why the route exists (the explanation printed with its command). */
  readonly why: string;
}

export interface FdbModel {
  readonly dev: string;
  readonly mac: string;
  readonly dst: string;
  readonly peer?: string;
  readonly why: string;
}

export interface NeighModel {
  readonly dev: string;
  readonly ip: string;
  readonly mac: string;
  readonly peer?: string;
  readonly why: string;
}

/** NetworkPolicy's part (src/plan/policy/model.ts): the node's podnet-policy table as data. */
export type PolicyModel = PolicyNodeModel;

/**
 * The service proxy's objects as observed in the kernel, at element level: what planNodeSync compares a
 * ProxyModel against. nftables: the table's chains (rule count and rule comments) and every map's elements in
 * a canonical text form. iptables: the PODNET- chains' rule counts and the jumps into them.
 */
export type ProxyState =
  | {
      readonly kind: 'nftables';
      /** Chain name → the comment of each rule ('' for a rule without one), in order. */
      readonly chains: Readonly<Record<string, readonly string[]>>;
      /** Map or set name → element key → value ('' for a set) in canonical text (proxy-objects.ts). */
      readonly maps: Readonly<Record<string, Readonly<Record<string, string>>>>;
    }
  | {
      readonly kind: 'iptables';
      /** `table/chain` → the rules of a PODNET- chain, or the podnet rules of a built-in chain, as saved. */
      readonly chains: Readonly<Record<string, readonly string[]>>;
      /** UDP portals' DNAT targets found in the rules, so a repair can flush flows to endpoints that go. */
      readonly udp?: readonly { readonly clusterIP: string; readonly endpoint: string }[];
    };

/**
 * A node's state as observe reads it: the NodeModel shape, with the proxy seen as kernel objects (or, for an
 * incremental sync, the ProxyModel applied last). Entries observed carry `why: ''`.
 */
export type NodeState = Omit<NodeModel, 'proxy'> & {
  readonly proxy?: ProxyModel | ProxyState;
  /** podnet's links (bridge, tunnel) observed administratively down. */
  readonly linksDown?: readonly string[];
  /** The podnet-policy table is there but not in podnet's layout (a rule, set or map gone): why. */
  readonly policyDamaged?: string;
};

/** Routes podnet adds carry this routing-protocol number: observe reads only these as podnet's. */
export const ROUTE_PROTO = 112;

/** A node with nothing of podnet's on it: what a sync from scratch starts from (lab up, a new node). */
export function emptyNodeState(node: string, podCIDR = ''): NodeState {
  return { node, podCIDR, sysctls: {}, routes: [], fdb: [], neighbours: [] };
}
