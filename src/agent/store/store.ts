import { PodnetError } from '../../errors.js';
import type { EndpointSlice, ServiceManifest } from '../../model/service.js';

/**
 * The agent's shared state, behind one interface that etcd (store/etcd.ts), memory (store/memory.ts) and the
 * Kubernetes API (store/kube.ts) implement. Modelled on flannel's `subnet.Manager` plus a list/watch of services:
 *
 * - **network config**: the cluster's pod network, subnet size and backend (flannel's `<prefix>/config`);
 * - **subnet leases**: one per node, holding its underlay IP and backend data, taken only by a transaction that
 *   fails when the subnet is already held (two racing agents never share a CIDR), bound to a TTL that the holder
 *   renews; an expired lease vanishes and its subnet becomes free;
 * - **services and endpoint slices**: Kubernetes-shaped JSON (`v1 Service`, `discovery.k8s.io/v1 EndpointSlice`);
 * - **list + watch**: `list()` returns everything at one revision; `watch(revision)` delivers every change after
 *   it, in order, none lost. When the store can no longer serve that revision (etcd compaction, Kubernetes
 *   410 Gone) the watch ends with `onRelist`: the caller lists again and watches from the new revision.
 *
 * Every method may throw `StoreError`; `code` says which failure (see StoreErrorCode). Revisions are opaque
 * strings, comparable only by the store that issued them (etcd: the mod revision; Kubernetes: resourceVersion).
 */
export interface Store {
  readonly kind: 'memory' | 'etcd' | 'kubernetes';

  /** The network config; StoreError 'not-found' when none is written. */
  getNetworkConfig(): Promise<NetworkConfig>;
  /** Writes the network config (the lab and `deploy/` docs do this once, before any agent starts). */
  putNetworkConfig(config: NetworkConfig): Promise<void>;

  /**
   * Takes a subnet for `req.node`, in this order: the subnet a live lease of the same node (or same public IP)
   * holds; `req.previous` (the agent's persisted subnet) if free; the lowest free subnet of the network.
   * Each attempt is one transaction that fails if the key was taken meanwhile; then the next candidate is tried.
   * StoreError 'no-free-subnet' when the network is full.
   */
  acquireSubnet(req: AcquireRequest): Promise<HeldLease>;
  /**
   * Optional: starts what the next acquireSubnet of `ttlSeconds` needs whatever the list says (etcd: the lease
   * grant), so that a joining agent's grant overlaps its list instead of following it. Unused, it lapses alone.
   */
  prepareLease?(ttlSeconds: number): void;
  /** Extends the lease's TTL. StoreError 'lease-lost' when it has expired or was revoked (acquire again). */
  renewSubnet(lease: HeldLease): Promise<HeldLease>;
  /** Gives the subnet up now (node leaving); a lease already gone is not an error. */
  revokeSubnet(lease: HeldLease): Promise<void>;

  /** Writes a Service (key `namespace/name`). */
  putService(service: ServiceManifest): Promise<void>;
  deleteService(namespace: string, name: string): Promise<void>;
  /** Writes an EndpointSlice (key `namespace/name` of the slice). */
  putEndpointSlice(slice: EndpointSlice): Promise<void>;
  deleteEndpointSlice(namespace: string, name: string): Promise<void>;

  /** Everything at one revision. */
  list(): Promise<Snapshot>;
  /** Every change after `from`, in order; see WatchSink. Stop it with `stop()`. */
  watch(from: Revision, sink: WatchSink): Watch;

  /** Closes connections; pending watches end without a callback. */
  close(): Promise<void>;
}

/** Opaque; issued by the store (etcd: `header.revision`; Kubernetes: `resourceVersion`). */
export type Revision = string;

export type BackendType = 'host-gw' | 'vxlan' | 'ipip';

/** The cluster's network config (flannel's `Network`, `SubnetLen`, `Backend`, plus the service CIDR). */
export interface NetworkConfig {
  /** The pod network. @example 10.200.0.0/16 */
  readonly network: string;
  /** Prefix length of each node's subnet. @default 24 */
  readonly subnetLen: number;
  /** ClusterIPs come from here. @default 10.96.0.0/12 */
  readonly serviceNetwork: string;
  readonly backend: {
    readonly type: BackendType;
    /** VXLAN network identifier. @default 1 */
    readonly vni?: number;
    /** VXLAN UDP port. @default 4789 */
    readonly port?: number;
  };
  /** Underlay MTU; pod MTU is this minus the backend's overhead. @default 1500 */
  readonly mtu?: number;
}

/** What a lease says about its holder (flannel's LeaseAttrs): enough for a peer to reach its pods. */
export interface LeaseAttrs {
  /** Kubernetes node name. */
  readonly node: string;
  /** The node's underlay address: host-gw next hop, tunnel endpoint. */
  readonly publicIP: string;
  readonly backendType: BackendType;
  /** VXLAN: the node's VTEP MAC (flannel's `VtepMAC`). */
  readonly backendData: { readonly vtepMAC?: string };
}

/** A subnet as the store holds it. */
export interface SubnetLease {
  /** The node's pod CIDR. @example 10.200.3.0/24 */
  readonly subnet: string;
  readonly attrs: LeaseAttrs;
  /** Revision of the last write to this lease. */
  readonly revision: Revision;
}

/** A lease this agent holds: what renew and revoke need. */
export interface HeldLease extends SubnetLease {
  /** The store's handle for the TTL (etcd: lease ID, decimal). */
  readonly leaseId: string;
  readonly ttlSeconds: number;
  /** When the store will drop it unless renewed (ms since epoch, the agent's clock). */
  readonly expiresAt: number;
}

export interface AcquireRequest {
  readonly attrs: LeaseAttrs;
  /** @default 60 */
  readonly ttlSeconds?: number;
  /** The subnet this node held before (persisted by the agent); preferred when free. */
  readonly previous?: string;
  /** A list the caller has just made: a store may decide from it instead of listing again (a race still fails safe). */
  readonly known?: Snapshot;
}

export interface ServiceObject {
  readonly namespace: string;
  readonly name: string;
  readonly manifest: ServiceManifest;
}

export interface EndpointSliceObject {
  readonly namespace: string;
  readonly name: string;
  readonly slice: EndpointSlice;
}

/** The whole shared state at one revision. */
export interface Snapshot {
  readonly revision: Revision;
  /** Absent until written. */
  readonly config?: NetworkConfig;
  /** Sorted by subnet. */
  readonly subnets: readonly SubnetLease[];
  /** Sorted by namespace/name. */
  readonly services: readonly ServiceObject[];
  readonly endpointSlices: readonly EndpointSliceObject[];
}

/** One change. `put` carries the new object; `delete` names it (a lease that expired is a delete). */
export type WatchEvent =
  | { readonly type: 'put'; readonly revision: Revision; readonly object: StoreObject }
  | { readonly type: 'delete'; readonly revision: Revision; readonly ref: ObjectRef };

export type StoreObject =
  | { readonly kind: 'config'; readonly config: NetworkConfig }
  | { readonly kind: 'subnet'; readonly lease: SubnetLease }
  | { readonly kind: 'service'; readonly service: ServiceObject }
  | { readonly kind: 'endpointslice'; readonly slice: EndpointSliceObject };

/** `subnet`: the CIDR; `service`/`endpointslice`: `namespace/name`; `config`: empty. */
export interface ObjectRef {
  readonly kind: StoreObject['kind'];
  readonly id: string;
}

/** Receives a watch's output. Exactly one of onRelist / onError ends a watch; events come before it, in order. */
export interface WatchSink {
  /** The watch is established: the store answered. */
  onReady?(): void;
  /** Changes in revision order; `revision` is the newest the batch reaches (resume from it). */
  onEvents(events: readonly WatchEvent[], revision: Revision): void;
  /** The store cannot continue from the requested revision (compacted): list again, then watch again. */
  onRelist(reason: string): void;
  /** The connection failed (store unreachable): retry `watch` from the last revision, with backoff. */
  onError(err: StoreError): void;
}

export interface Watch {
  stop(): void;
}

export type StoreErrorCode =
  | 'unavailable'
  | 'not-found'
  | 'no-free-subnet'
  | 'lease-lost'
  | 'conflict'
  | 'invalid'
  | 'compacted';

/** A datastore operation failed; `reason` says which way (callers branch on it). */
export class StoreError extends PodnetError {
  readonly code = 'STORE_FAILED';
  constructor(
    readonly reason: StoreErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const DEFAULT_LEASE_TTL_SECONDS = 60;
