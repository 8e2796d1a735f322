import type { EndpointSlice, ServiceManifest } from '../../model/service.js';
import { type KubeClient, KubeError } from './kube-client.js';
import {
  type ApiGroup,
  annotationsOf,
  encodeRevision,
  endpointSliceVersion,
  hasAnnotations,
  type KubeNode,
  leaseOfNode,
  NET_CONF,
  networkAvailable,
  networkAvailablePatch,
  podCidrOf,
  type Revisions,
  type ServedSlice,
  sliceOfServed,
  type Watched,
} from './kube-codec.js';
import { type ConfigMap, type Decoders, watchKube } from './kube-watch.js';
import { encodeNetworkConfig, parseNetworkConfig } from './network-config.js';
import {
  type AcquireRequest,
  DEFAULT_LEASE_TTL_SECONDS,
  type EndpointSliceObject,
  type HeldLease,
  type NetworkConfig,
  type Revision,
  type ServiceObject,
  type Snapshot,
  type Store,
  StoreError,
  type SubnetLease,
  type Watch,
  type WatchSink,
} from './store.js';

/** How long one acquire waits for the Node's pod CIDR before saying why it waits (and being retried). */
const POD_CIDR_WAIT_MS = 10_000;

interface List<T> {
  readonly metadata: { readonly resourceVersion: string };
  readonly items: readonly T[];
}

/**
 * The Store on the Kubernetes API (flannel's kube subnet manager plus kube-proxy's watches). A node's subnet is
 * its Node's `spec.podCIDR`, assigned by kube-controller-manager: `acquireSubnet` waits for it and publishes the
 * backend data as annotations; the "lease" is the Node itself (renew re-checks it, revoke removes the
 * annotations). The network config is the `podnet-config` ConfigMap; Services and EndpointSlices are the API's
 * (EndpointSlices in whichever version the server serves). `list` is four lists; `watch` four watches.
 */
export class KubeStore implements Store {
  readonly kind = 'kubernetes' as const;
  private sliceVersion: 'v1' | 'v1beta1' | undefined;

  constructor(
    private readonly api: KubeClient,
    private readonly o: {
      onInvalid?: (what: string, message: string) => void;
      /** Where the `podnet-config` ConfigMap lives. @default kube-system */
      configNamespace?: string;
    } = {},
  ) {}

  private get ns(): string {
    return this.o.configNamespace ?? NET_CONF.namespace;
  }

  /** discovery.k8s.io/v1 on current servers, v1beta1 on v1.17-v1.20: asked once, then remembered. */
  async endpointSliceVersion(): Promise<'v1' | 'v1beta1'> {
    if (this.sliceVersion) return this.sliceVersion;
    const group = await this.api.get<ApiGroup>('/apis/discovery.k8s.io').catch((e: StoreError) => {
      if (e.reason === 'not-found') return undefined;
      throw e;
    });
    const v = endpointSliceVersion(group);
    if (!v)
      throw new StoreError(
        'invalid',
        `${this.api.server} serves no discovery.k8s.io EndpointSlices (v1.17+ does)`,
      );
    this.sliceVersion = v;
    return v;
  }

  private async slicesPath(namespace?: string): Promise<string> {
    const v = await this.endpointSliceVersion();
    return `/apis/discovery.k8s.io/${v}${namespace ? `/namespaces/${namespace}` : ''}/endpointslices`;
  }

  private get cmPath(): string {
    return `/api/v1/namespaces/${this.ns}/configmaps`;
  }

  async getNetworkConfig(): Promise<NetworkConfig> {
    const cm = await this.api.get<ConfigMap>(`${this.cmPath}/${NET_CONF.name}`);
    const text = cm.data?.[NET_CONF.key];
    if (text === undefined)
      throw new StoreError('not-found', `ConfigMap ${this.ns}/${NET_CONF.name} has no '${NET_CONF.key}'`);
    return parseNetworkConfig(text, `ConfigMap ${this.ns}/${NET_CONF.name} ${NET_CONF.key}`);
  }

  async putNetworkConfig(config: NetworkConfig): Promise<void> {
    const body = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: NET_CONF.name, namespace: this.ns },
      data: { [NET_CONF.key]: encodeNetworkConfig(config) },
    };
    await this.createOrReplace(this.cmPath, NET_CONF.name, body);
  }

  private nodePath = (name: string) => `/api/v1/nodes/${encodeURIComponent(name)}`;

  /**
   * Waits on nothing itself: a Node that is missing or has no pod CIDR yet is StoreError 'unavailable' naming
   * why, and the agent's retry loop asks again (and logs). Then publishes the annotations if they differ.
   */
  async acquireSubnet(req: AcquireRequest): Promise<HeldLease> {
    const node = await this.nodeWithPodCidr(req.attrs.node, POD_CIDR_WAIT_MS);
    const subnet = podCidrOf(node)!;
    const rv = hasAnnotations(node, req.attrs)
      ? node.metadata.resourceVersion
      : (
          await this.api.mergePatch<KubeNode>(this.nodePath(req.attrs.node), {
            metadata: { annotations: annotationsOf(req.attrs) },
          })
        ).metadata.resourceVersion;
    const ttl = req.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
    return {
      subnet,
      attrs: req.attrs,
      revision: rv ?? '0',
      leaseId: `node/${req.attrs.node}`,
      ttlSeconds: ttl,
      expiresAt: Date.now() + ttl * 1000,
    };
  }

  /**
   * The Node once it exists with a pod CIDR: one list by name, then a watch from its resourceVersion, so the
   * CIDR is seen the moment the controller sets it (no polling delay on a joining node). Past `ms`, StoreError
   * 'unavailable' saying what is missing; the agent logs it and asks again.
   */
  private async nodeWithPodCidr(name: string, ms: number): Promise<KubeNode> {
    const path = `/api/v1/nodes?fieldSelector=metadata.name%3D${encodeURIComponent(name)}`;
    const got = await this.api.get<List<KubeNode>>(path);
    const first = got.items[0];
    if (first && podCidrOf(first)) return first;
    let seen = first !== undefined;
    return new Promise<KubeNode>((resolve, reject) => {
      const timer = setTimeout(() => {
        h.stop();
        reject(
          new StoreError(
            'unavailable',
            seen
              ? `waiting for spec.podCIDR of Node ${name} (kube-controller-manager --allocate-node-cidrs sets it)`
              : `waiting for Node ${name} to be registered (the kubelet does that)`,
          ),
        );
      }, ms);
      const h = this.api.watch(
        path,
        got.metadata.resourceVersion,
        (e) => {
          if (e.type !== 'ADDED' && e.type !== 'MODIFIED') return;
          seen = true;
          const n = e.object as unknown as KubeNode;
          if (!podCidrOf(n)) return;
          clearTimeout(timer);
          h.stop();
          resolve(n);
        },
        (err) => {
          clearTimeout(timer);
          reject(err ?? new StoreError('unavailable', `watch of Node ${name} ended`));
        },
        Math.ceil(ms / 1000) + 1,
      );
    });
  }

  /** The Node must still exist with the same pod CIDR ('lease-lost' otherwise); lost annotations are put back. */
  async renewSubnet(lease: HeldLease): Promise<HeldLease> {
    let node: KubeNode;
    try {
      node = await this.api.get<KubeNode>(this.nodePath(lease.attrs.node));
    } catch (e) {
      if (e instanceof StoreError && e.reason === 'not-found')
        throw new StoreError('lease-lost', `Node ${lease.attrs.node} was deleted`);
      throw e;
    }
    if (podCidrOf(node) !== lease.subnet)
      throw new StoreError(
        'lease-lost',
        `Node ${lease.attrs.node}'s pod CIDR is now ${podCidrOf(node) ?? 'unset'}`,
      );
    if (!hasAnnotations(node, lease.attrs))
      await this.api.mergePatch(this.nodePath(lease.attrs.node), {
        metadata: { annotations: annotationsOf(lease.attrs) },
      });
    return { ...lease, expiresAt: Date.now() + lease.ttlSeconds * 1000 };
  }

  /** Removes the backend annotations: peers stop routing to this node (its pod CIDR stays the controller's). */
  async revokeSubnet(lease: HeldLease): Promise<void> {
    const none = Object.fromEntries(Object.keys(annotationsOf(lease.attrs)).map((k) => [k, null]));
    await this.api
      .mergePatch(this.nodePath(lease.attrs.node), { metadata: { annotations: none } })
      .catch((e) => {
        if (!(e instanceof StoreError && e.reason === 'not-found')) throw e;
      });
  }

  /** Sets the Node's NetworkUnavailable condition False (once its routes are programmed); no-op when it is. */
  async markNetworkAvailable(name: string): Promise<boolean> {
    const node = await this.api.get<KubeNode>(this.nodePath(name));
    if (networkAvailable(node)) return false;
    await this.api.strategicPatch(`${this.nodePath(name)}/status`, networkAvailablePatch(new Date()));
    return true;
  }

  async putService(service: ServiceManifest): Promise<void> {
    const ns = service.metadata.namespace ?? 'default';
    await this.createOrReplace(`/api/v1/namespaces/${ns}/services`, service.metadata.name, {
      ...service,
      apiVersion: 'v1',
      kind: 'Service',
    });
  }

  async deleteService(namespace: string, name: string): Promise<void> {
    await this.delete(`/api/v1/namespaces/${namespace}/services/${name}`);
  }

  /** Writes a slice (normally the endpointslice controller's job; tests and tools use this). */
  async putEndpointSlice(slice: EndpointSlice): Promise<void> {
    const v = await this.endpointSliceVersion();
    const body =
      v === 'v1'
        ? slice
        : {
            ...slice,
            apiVersion: 'discovery.k8s.io/v1beta1',
            endpoints: slice.endpoints.map(({ nodeName, ...e }) => ({
              ...e,
              topology: { 'kubernetes.io/hostname': nodeName },
            })),
          };
    await this.createOrReplace(await this.slicesPath(slice.metadata.namespace), slice.metadata.name, body);
  }

  async deleteEndpointSlice(namespace: string, name: string): Promise<void> {
    await this.delete(`${await this.slicesPath(namespace)}/${name}`);
  }

  private async delete(path: string): Promise<void> {
    await this.api.request('DELETE', path).catch((e) => {
      if (!(e instanceof StoreError && e.reason === 'not-found')) throw e;
    });
  }

  private async createOrReplace(collection: string, name: string, body: object): Promise<void> {
    try {
      await this.api.request('POST', collection, body);
    } catch (e) {
      if (!(e instanceof StoreError && e.reason === 'conflict')) throw e;
      const cur = await this.api.get<{ metadata: { resourceVersion: string } }>(`${collection}/${name}`);
      const b = body as { metadata: object };
      await this.api.request('PUT', `${collection}/${name}`, {
        ...b,
        metadata: { ...b.metadata, resourceVersion: cur.metadata.resourceVersion },
      });
    }
  }

  private async paths(): Promise<Record<Watched, string>> {
    return {
      config: `${this.cmPath}?fieldSelector=metadata.name%3D${NET_CONF.name}`,
      nodes: '/api/v1/nodes',
      services: '/api/v1/services',
      slices: await this.slicesPath(),
    };
  }

  async list(): Promise<Snapshot> {
    const p = await this.paths();
    const [cms, nodes, services, slices] = await Promise.all([
      this.api.get<List<ConfigMap>>(p.config),
      this.api.get<List<KubeNode>>(p.nodes),
      this.api.get<List<ServiceManifest & { metadata: { namespace?: string } }>>(p.services),
      this.api.get<List<ServedSlice>>(p.slices),
    ]);
    const revs: Revisions = {
      config: cms.metadata.resourceVersion,
      nodes: nodes.metadata.resourceVersion,
      services: services.metadata.resourceVersion,
      slices: slices.metadata.resourceVersion,
    };
    const config = cms.items.map((c) => this.configOf(c)).find((c) => c !== undefined);
    const subnets = nodes.items
      .map((n) => this.leaseOf(n))
      .filter((l): l is SubnetLease => l !== undefined)
      .sort((a, b) => (a.subnet < b.subnet ? -1 : 1));
    const key = (o: { namespace: string; name: string }) => `${o.namespace}/${o.name}`;
    return {
      revision: encodeRevision(revs),
      ...(config ? { config } : {}),
      subnets,
      services: services.items.map((s) => serviceObject(s)).sort((a, b) => (key(a) < key(b) ? -1 : 1)),
      endpointSlices: slices.items
        .map((s) => this.sliceOf(s))
        .filter((s): s is EndpointSliceObject => s !== undefined)
        .sort((a, b) => (key(a) < key(b) ? -1 : 1)),
    };
  }

  private configOf(cm: ConfigMap): NetworkConfig | undefined {
    const text = cm.data?.[NET_CONF.key];
    if (text === undefined) return undefined;
    try {
      return parseNetworkConfig(text, `ConfigMap ${this.ns}/${NET_CONF.name}`);
    } catch (e) {
      this.o.onInvalid?.(`ConfigMap ${NET_CONF.name}`, (e as Error).message);
      return undefined;
    }
  }

  private leaseOf(n: KubeNode): SubnetLease | undefined {
    const { lease, problem } = leaseOfNode(n);
    if (problem) this.o.onInvalid?.(`Node ${n.metadata.name}`, problem);
    return lease;
  }

  private sliceOf(s: ServedSlice): EndpointSliceObject | undefined {
    const slice = sliceOfServed(s);
    return slice ? { namespace: slice.metadata.namespace, name: slice.metadata.name, slice } : undefined;
  }

  /** Four watches from the revision's resourceVersions (kube-watch.ts). */
  watch(from: Revision, sink: WatchSink): Watch {
    return watchKube(this.api, () => this.paths(), this.decoders, from, sink);
  }

  /** How a watched object becomes the store's: the same decoders as list(). */
  private readonly decoders: Decoders = {
    config: (cm) => this.configOf(cm),
    lease: (n) => this.leaseOf(n),
    slice: (s) => this.sliceOf(s),
    service: (s) => serviceObject(s),
  };

  async close(): Promise<void> {
    this.api.close();
  }
}

function serviceObject(s: ServiceManifest): ServiceObject {
  return { namespace: s.metadata.namespace ?? 'default', name: s.metadata.name, manifest: s };
}

export { KubeError };
