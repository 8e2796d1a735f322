import type { Cidr, Ip } from '../net/ip.js';

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
  /** Name of the per-node bridge. @default 'cni0' */
  readonly bridge: string;
  readonly nodes: readonly NodeSpec[];
  readonly pods: readonly PodSpec[];
}

export type SameNodeMode = 'bridge' | 'veth';
export type CrossNodeMode = 'none' | 'host-gw' | 'vxlan' | 'ipip';

export interface NodeSpec {
  readonly name: string;
  /** Address on the underlay. */
  readonly ip: Ip;
  /** Pinned pod CIDR; allocated from the cluster CIDR when absent. */
  readonly podCIDR?: Cidr;
}

export interface PodSpec {
  readonly name: string;
  readonly node: string;
  /** Pinned pod IP; allocated from the node's pod CIDR when absent. */
  readonly ip?: Ip;
  readonly labels: Readonly<Record<string, string>>;
  /** Empty when the pod runs podnet's identity containers. */
  readonly containers: readonly ContainerSpec[];
}

export interface ContainerSpec {
  readonly name: string;
  readonly command: readonly string[];
  /** 'host': the host's filesystem; 'busybox': an overlay over a busybox base layer, chrooted (seed §2.1). */
  readonly rootfs: 'host' | 'busybox';
}
