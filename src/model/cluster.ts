import type { Cidr, Ip } from '../net/ip.js';
import type { ContainerPort, NamespaceSpec, NetworkPolicy } from './policy/types.js';
import type { ServiceSpec } from './service.js';

/**
 * The desired state of a cluster: what podnet builds. Produced by parseClusterSpec from YAML/JSON, always valid
 * once it exists (every address parsed, every reference resolved).
 */
export interface ClusterSpec {
  /** Cluster name (informational). */
  readonly name: string;
  /** The pod network; node pod CIDRs are carved out of it. @example 10.200.0.0/16 */
  readonly clusterCIDR: Cidr;
  /** ClusterIPs come from here. @default 10.96.0.0/12 */
  readonly serviceCIDR: Cidr;
  /** Prefix length of each node's pod CIDR (kube-controller-manager's --node-cidr-mask-size). @default 24 */
  readonly nodeCIDRMaskSize: number;
  /** The network the nodes share (the lab's emulated LAN). */
  readonly underlay: { readonly subnet: Cidr; readonly mtu: number };
  /** How pods on one node are joined. @default 'bridge' */
  readonly sameNode: SameNodeMode;
  /** How pods on different nodes reach each other. @default 'none' */
  readonly crossNode: CrossNodeMode;
  /** VXLAN settings, used when crossNode is 'vxlan'. */
  readonly vxlan: VxlanSettings;
  /** Name of the per-node bridge. @default 'cni0' */
  readonly bridge: string;
  readonly nodes: readonly NodeSpec[];
  readonly pods: readonly PodSpec[];
  /** Kubernetes Services (see model/service.ts). @default [] */
  readonly services?: readonly ServiceSpec[];
  /** Which service proxy programs each node. @default 'nftables' */
  readonly proxy?: ProxyMode;
  /** SNAT pod traffic that leaves the cluster CIDR to the node's address. @default true */
  readonly egressMasquerade?: boolean;
  /** Lab only: a router and an "outside" host (203.0.113.10) beyond the underlay. @default false */
  readonly outside?: boolean;
  /** `kind: Namespace` documents (labels include `kubernetes.io/metadata.name`). @default [] */
  readonly namespaces?: readonly NamespaceSpec[];
  /** `kind: NetworkPolicy` documents (docs/network-policy.md). @default [] */
  readonly networkPolicies?: readonly NetworkPolicy[];
}

/**
 * The service proxy's data plane: podnet's flat nftables layout, kube-proxy's iptables layout, or none (another
 * component serves ClusterIPs; podnet programs no proxy and no egress masquerade).
 */
export type ProxyMode = 'nftables' | 'iptables' | 'none';

export type SameNodeMode = 'bridge' | 'veth';
export type CrossNodeMode = 'none' | 'host-gw' | 'vxlan' | 'ipip';

/** How VXLAN is set up (seed §4.3 for multicast; flannel's recipe for unicast). */
export interface VxlanSettings {
  /** VXLAN network identifier. @default 1 (flannel's) */
  readonly vni: number;
  /** UDP destination port. @default 4789 (IANA; the kernel's own default is 8472) */
  readonly port: number;
  /**
   * 'unicast': no learning, a static neighbour + FDB entry + route per remote node (flannel, Calico).
   * 'multicast': flood-and-learn over a multicast group, the device enslaved to the bridge (seed §4.3).
   * @default 'unicast'
   */
  readonly learning: 'unicast' | 'multicast';
  /** Multicast group for 'multicast'. @default 239.1.1.1 */
  readonly group: Ip;
}

export interface NodeSpec {
  readonly name: string;
  /** Address on the underlay. */
  readonly ip: Ip;
  /** Pinned pod CIDR; allocated from the cluster CIDR when absent. */
  readonly podCIDR?: Cidr;
  /**
   * The L2 segment (broadcast domain) of the node's uplink. Nodes without one share the underlay's single
   * segment. host-gw refuses nodes on different segments (its next hop must be directly reachable).
   */
  readonly segment?: string;
}

export interface PodSpec {
  readonly name: string;
  readonly node: string;
  /** Pinned pod IP; allocated from the node's pod CIDR when absent. */
  readonly ip?: Ip;
  readonly labels: Readonly<Record<string, string>>;
  /** Empty when the pod runs podnet's identity containers. */
  readonly containers: readonly ContainerSpec[];
  /**
   * The Kubernetes namespace (`metadata.namespace` of a Pod document). @default 'default'. A pod outside
   * 'default' is named `<namespace>-<name>` in the lab (its namespaces, veths), `<namespace>/<name>` to policies.
   */
  readonly namespace?: string;
  /** `spec.containers[].ports[]`: what named NetworkPolicy ports resolve against. @default [] */
  readonly ports?: readonly ContainerPort[];
}

export interface ContainerSpec {
  readonly name: string;
  readonly command: readonly string[];
  /** 'host': the host's filesystem; 'busybox': an overlay over a busybox base layer, chrooted (seed §2.1). */
  readonly rootfs: 'host' | 'busybox';
}
