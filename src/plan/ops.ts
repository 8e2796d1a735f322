import type { NftCmd } from './nft.js';
import type { PolicyNodeModel } from './policy/model.js';

/**
 * The Op union: podnet's central vocabulary. Planners produce Ops (pure data), renderers turn each Op into the
 * exact command that realizes it, runners execute or print those commands.
 */

/** Where a command runs. The lab uses named namespaces; CNI hands us a path (CNI_NETNS). */
export type Netns =
  | { readonly kind: 'host' }
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'path'; readonly path: string };

export const HOST: Netns = { kind: 'host' };
export const named = (name: string): Netns => ({ kind: 'named', name });

/**
 * A process id known only at run time (the pause process of a pod). Rendered as a shell variable in dry runs
 * (`$A0_PID`, as the seed writes it) and substituted by the process runner.
 */
export type PidVar = string;

/** A container started inside a pod's namespaces. */
export interface ContainerLaunch {
  readonly name: string;
  readonly command: readonly string[];
  /** Chroot into this directory (an overlay mounted inside the pod's mount namespace). */
  readonly chroot?: string;
  /** Where its stdout/stderr go. */
  readonly log: string;
}

export type Op = { readonly note?: string } & (
  | { readonly kind: 'netns.add'; readonly name: string }
  | { readonly kind: 'netns.attach'; readonly name: string; readonly pid: PidVar }
  | { readonly kind: 'netns.del'; readonly name: string }
  | {
      readonly kind: 'link.add-bridge';
      readonly netns: Netns;
      readonly name: string;
      readonly mtu?: number;
      /** A fixed MAC: otherwise the bridge takes its lowest port's, and changes when that port leaves. */
      readonly mac?: string;
      /** This bridge's own br_netfilter switch: its bridged IPv4 frames pass the IP hooks (nf_call_iptables). */
      readonly nfCallIptables?: boolean;
    }
  | {
      /** A bridge's per-bridge br_netfilter switch, changed in place (`ip link set NAME type bridge …`). */
      readonly kind: 'link.set-bridge';
      readonly netns: Netns;
      readonly name: string;
      readonly nfCallIptables: boolean;
    }
  | {
      readonly kind: 'link.add-veth';
      readonly netns: Netns;
      readonly name: string;
      readonly peer: string;
      readonly peerNetns: Netns;
      readonly mtu?: number;
      /** MAC of the peer end (the pod's interface), so a CNI result can report it without reading it back. */
      readonly peerMac?: string;
    }
  | {
      readonly kind: 'link.add-vxlan';
      readonly netns: Netns;
      readonly name: string;
      readonly vni: number;
      readonly local: string;
      readonly dev?: string;
      readonly port: number;
      /** Multicast group for flood-and-learn; absent for unicast (static FDB). */
      readonly group?: string;
      readonly learning: boolean;
      readonly mac?: string;
      readonly mtu?: number;
    }
  | {
      readonly kind: 'link.add-ipip';
      readonly netns: Netns;
      readonly name: string;
      readonly local: string;
      readonly mtu?: number;
    }
  | {
      readonly kind: 'link.set';
      readonly netns: Netns;
      readonly name: string;
      readonly up?: boolean;
      readonly master?: string;
      readonly mtu?: number;
      /** A new MAC address (the bridge's fixed one, restored after drift). */
      readonly mac?: string;
    }
  | { readonly kind: 'link.del'; readonly netns: Netns; readonly name: string }
  | { readonly kind: 'bridge.port'; readonly netns: Netns; readonly dev: string; readonly hairpin: boolean }
  | { readonly kind: 'addr.add'; readonly netns: Netns; readonly dev: string; readonly cidr: string }
  | {
      readonly kind: 'route.replace';
      readonly netns: Netns;
      readonly dst: string;
      readonly via?: string;
      readonly dev?: string;
      readonly onlink?: boolean;
      readonly src?: string;
      readonly mtu?: number;
      /** Routing protocol number marking the route as podnet's (plan/node/model.ts ROUTE_PROTO). */
      readonly proto?: number;
    }
  | {
      readonly kind: 'route.del';
      readonly netns: Netns;
      readonly dst: string;
      readonly dev?: string;
      /** Delete only a route with this protocol number: a foreign route to the same prefix stays. */
      readonly proto?: number;
    }
  | {
      readonly kind: 'neigh.replace';
      readonly netns: Netns;
      readonly dev: string;
      readonly ip: string;
      readonly mac: string;
    }
  | { readonly kind: 'neigh.del'; readonly netns: Netns; readonly dev: string; readonly ip: string }
  | {
      readonly kind: 'fdb.append';
      readonly netns: Netns;
      readonly dev: string;
      readonly mac: string;
      readonly dst: string;
    }
  | {
      /** A permanent unicast FDB entry on a VXLAN device: frames to `mac` are tunnelled to `dst` (flannel). */
      readonly kind: 'fdb.replace';
      readonly netns: Netns;
      readonly dev: string;
      readonly mac: string;
      readonly dst: string;
    }
  | {
      readonly kind: 'fdb.del';
      readonly netns: Netns;
      readonly dev: string;
      readonly mac: string;
      readonly dst?: string;
    }
  | {
      readonly kind: 'sysctl.set';
      readonly netns: Netns;
      readonly key: string;
      readonly value: string;
      /** A key that exists only while its module is loaded (br_netfilter's): skipped where the kernel lacks it. */
      readonly ifPresent?: boolean;
    }
  | { readonly kind: 'nft.apply'; readonly netns: Netns; readonly script: string }
  /** An nftables transaction as structured data (plan/nft.ts), rendered by src/render/nft.ts. */
  | { readonly kind: 'nft.tx'; readonly netns: Netns; readonly tx: readonly NftCmd[] }
  | { readonly kind: 'iptables.restore'; readonly netns: Netns; readonly script: string }
  | {
      /** Delete conntrack entries of a UDP service portal that lead to a removed endpoint (kube-proxy does too). */
      readonly kind: 'conntrack.delete';
      readonly netns: Netns;
      readonly protocol: 'udp';
      /** The portal's original destination (ClusterIP, or omitted for a node port). */
      readonly origDst?: string;
      readonly origDstPort?: number;
      /** The removed endpoint (the reply source after DNAT). */
      readonly replySrc: string;
    }
  | {
      /** NetworkPolicy: bring a node's `podnet-policy` table from `prev` (absent: full) to `next` (absent: remove). */
      readonly kind: 'nft.policy';
      readonly netns: Netns;
      readonly prev?: PolicyNodeModel;
      readonly next?: PolicyNodeModel;
    }
  | {
      /** NetworkPolicy: cut connections a change denies (their conntrack entries; later packets meet the policy). */
      readonly kind: 'conntrack.delete-flows';
      readonly netns: Netns;
      /** Where the runner finds the deletions (render/index.ts conntrackDeletions writes its content). */
      readonly file: string;
      readonly flows: readonly {
        readonly protocol: 'tcp' | 'udp' | 'sctp';
        /** Original source (the client); absent: every client of this server. */
        readonly src?: string;
        /** The reply's source address and port: the server pod, after any DNAT. */
        readonly replySrc: string;
        readonly replyPort: number;
        /** Why it is cut. */
        readonly why: string;
      }[];
      /** How many tracked connections these deletions cut. */
      readonly connections: number;
    }
  | { readonly kind: 'file.write'; readonly path: string; readonly content: string }
  | {
      readonly kind: 'pod.pause';
      /** Pod name, for messages. */
      readonly pod: string;
      readonly pid: PidVar;
      readonly log: string;
    }
  | { readonly kind: 'pod.hostname'; readonly pid: PidVar; readonly hostname: string }
  | {
      readonly kind: 'pod.mount-overlay';
      readonly pid: PidVar;
      readonly lower: string;
      readonly upper: string;
      readonly work: string;
      readonly merged: string;
    }
  | {
      readonly kind: 'pod.container';
      readonly pid: PidVar;
      readonly pod: string;
      readonly container: ContainerLaunch;
    }
);

export type OpKind = Op['kind'];

/**
 * A plan is a list of phases. Phases run in order; inside a phase, ops that act on different namespaces are
 * independent (they may run concurrently and be batched per namespace), while ops on the same namespace keep
 * their order.
 */
export interface Phase {
  readonly title: string;
  readonly ops: readonly Op[];
  /**
   * The earlier phases (by title) whose work this one needs; absent: every earlier phase. A concurrent applier
   * starts the phase as soon as those are done, so independent phases overlap; printing keeps the plan's order.
   */
  readonly after?: readonly string[];
}

export type Plan = readonly Phase[];

/** All ops of a plan in order. */
export const flatten = (plan: Plan): Op[] => plan.flatMap((p) => p.ops);
