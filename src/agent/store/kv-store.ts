import type { EndpointSlice, ServiceManifest } from '../../model/service.js';
import * as z from '../../model/zod.js';
import type { KeyValue, Kv, KvEvent } from './kv.js';
import { encodeNetworkConfig, parseNetworkConfig } from './network-config.js';
import {
  type AcquireRequest,
  DEFAULT_LEASE_TTL_SECONDS,
  type EndpointSliceObject,
  type HeldLease,
  type LeaseAttrs,
  type NetworkConfig,
  type ObjectRef,
  type Revision,
  type ServiceObject,
  type Snapshot,
  type Store,
  StoreError,
  type StoreObject,
  type SubnetLease,
  type Watch,
  type WatchEvent,
  type WatchSink,
} from './store.js';
import { subnetCandidates, subnetKey, subnetOfKey } from './subnets.js';

/**
 * The agent's Store on an etcd-like key space (see kv.ts). Key layout under the prefix (default `/podnet`):
 *
 *   <prefix>/config                                  network config (flannel's JSON shape)
 *   <prefix>/subnets/10.200.3.0-24                   a node's lease: {"PublicIP","BackendType","BackendData","NodeName"}
 *   <prefix>/services/specs/<namespace>/<name>       a v1 Service
 *   <prefix>/services/endpointslices/<namespace>/<name>   a discovery.k8s.io/v1 EndpointSlice
 *
 * Subnet keys are bound to an etcd lease with a TTL: when the holder stops renewing, etcd deletes the key and
 * every watcher sees the delete.
 */
export class KvStore implements Store {
  readonly kind: 'memory' | 'etcd';
  private readonly prefix: string;
  /** A grant started by prepareLease, taken by the next acquireSubnet of the same TTL. */
  private prepared: { ttl: number; grant: Promise<{ id: string; ttl: number }> } | undefined;

  constructor(
    private readonly kv: Kv,
    opts: { kind: 'memory' | 'etcd'; prefix?: string; onInvalid?: (key: string, message: string) => void },
  ) {
    this.kind = opts.kind;
    this.prefix = (opts.prefix ?? '/podnet').replace(/\/+$/, '');
    this.onInvalid = opts.onInvalid ?? (() => {});
  }
  private readonly onInvalid: (key: string, message: string) => void;

  async getNetworkConfig(): Promise<NetworkConfig> {
    const kv = await this.call(() => this.kv.get(`${this.prefix}/config`));
    if (!kv) throw new StoreError('not-found', `no network config at ${this.prefix}/config`);
    return parseNetworkConfig(kv.value, `${this.prefix}/config`);
  }

  async putNetworkConfig(config: NetworkConfig): Promise<void> {
    await this.call(() => this.kv.put(`${this.prefix}/config`, encodeNetworkConfig(config)));
  }

  async acquireSubnet(req: AcquireRequest): Promise<HeldLease> {
    const ttl = req.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
    const value = encodeAttrs(req.attrs);
    // The caller's fresh list serves the first attempt: then taking a free subnet is one lease grant and one
    // transaction (flannel's create), the fewest round trips on a joining node's path.
    let known = req.known;
    let config: NetworkConfig | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const snap = known ?? (await this.list());
      known = undefined;
      config = snap.config;
      if (!config) throw new StoreError('not-found', `no network config at ${this.prefix}/config`);
      const { own, free } = subnetCandidates(config, snap.subnets, req.attrs, req.previous);
      const grant = await this.call(() => this.grant(ttl));
      const held = (subnet: string, revision: number): HeldLease => ({
        subnet,
        attrs: req.attrs,
        revision: String(revision),
        leaseId: grant.id,
        ttlSeconds: grant.ttl,
        expiresAt: Date.now() + grant.ttl * 1000,
      });
      if (own) {
        // Take over the node's existing key (restart): compare-and-swap on its mod revision, then drop the old lease.
        const key = this.subnetPath(own.subnet);
        const rev = await this.call(() => this.kv.replaceIf(key, Number(own.revision), value, grant.id));
        if (rev !== undefined) {
          const oldLease = this.leaseOf.get(own.subnet) ?? '0';
          if (oldLease !== '0' && oldLease !== grant.id) await this.call(() => this.kv.revoke(oldLease));
          return held(own.subnet, rev);
        }
        await this.call(() => this.kv.revoke(grant.id));
        continue; // changed under us: look again
      }
      for (const subnet of free) {
        const rev = await this.call(() => this.kv.createIfAbsent(this.subnetPath(subnet), value, grant.id));
        if (rev !== undefined) return held(subnet, rev);
      }
      await this.call(() => this.kv.revoke(grant.id));
      if (free.length === 0) break;
    }
    throw new StoreError(
      'no-free-subnet',
      `no free /${config!.subnetLen} left in ${config!.network} for node '${req.attrs.node}' (every subnet is leased)`,
    );
  }

  prepareLease(ttlSeconds: number): void {
    const grant = this.kv.grant(ttlSeconds);
    grant.catch(() => {}); // awaited by acquireSubnet, which reports a failure; unawaited, it does not matter
    this.prepared = { ttl: ttlSeconds, grant };
  }

  /** The prepared grant if there is one of this TTL (once), else a new one. */
  private grant(ttl: number): Promise<{ id: string; ttl: number }> {
    const p = this.prepared;
    this.prepared = undefined;
    // A prepared grant that failed (the store was down then) is not this attempt's failure: grant anew.
    if (p?.ttl === ttl) return p.grant.catch(() => this.kv.grant(ttl));
    if (p) void p.grant.then((g) => this.kv.revoke(g.id)).catch(() => {});
    return this.kv.grant(ttl);
  }

  async renewSubnet(lease: HeldLease): Promise<HeldLease> {
    const ttl = await this.call(() => this.kv.keepAlive(lease.leaseId));
    const kv = ttl > 0 ? await this.call(() => this.kv.get(this.subnetPath(lease.subnet))) : undefined;
    if (ttl <= 0 || !kv || kv.lease !== lease.leaseId)
      throw new StoreError(
        'lease-lost',
        `lease of ${lease.subnet} (etcd lease ${lease.leaseId}) has expired`,
      );
    return { ...lease, expiresAt: Date.now() + ttl * 1000 };
  }

  async revokeSubnet(lease: HeldLease): Promise<void> {
    await this.call(() => this.kv.revoke(lease.leaseId));
  }

  async putService(service: ServiceManifest): Promise<void> {
    const m = service.metadata;
    await this.call(() =>
      this.kv.put(
        `${this.prefix}/services/specs/${m.namespace ?? 'default'}/${m.name}`,
        JSON.stringify(service),
      ),
    );
  }

  async deleteService(namespace: string, name: string): Promise<void> {
    await this.call(() => this.kv.delete(`${this.prefix}/services/specs/${namespace}/${name}`));
  }

  async putEndpointSlice(slice: EndpointSlice): Promise<void> {
    const m = slice.metadata;
    await this.call(() =>
      this.kv.put(`${this.prefix}/services/endpointslices/${m.namespace}/${m.name}`, JSON.stringify(slice)),
    );
  }

  async deleteEndpointSlice(namespace: string, name: string): Promise<void> {
    await this.call(() => this.kv.delete(`${this.prefix}/services/endpointslices/${namespace}/${name}`));
  }

  async list(): Promise<Snapshot> {
    const { revision, kvs } = await this.call(() => this.kv.range(`${this.prefix}/`));
    let config: NetworkConfig | undefined;
    const subnets: SubnetLease[] = [];
    const services: ServiceObject[] = [];
    const endpointSlices: EndpointSliceObject[] = [];
    for (const kv of kvs) {
      const o = this.decode(kv);
      if (!o) continue;
      if (o.kind === 'config') config = o.config;
      else if (o.kind === 'subnet') subnets.push(o.lease);
      else if (o.kind === 'service') services.push(o.service);
      else endpointSlices.push(o.slice);
    }
    const byId = (a: { namespace: string; name: string }, b: { namespace: string; name: string }) =>
      `${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1;
    subnets.sort((a, b) => (a.subnet < b.subnet ? -1 : 1));
    return {
      revision: String(revision),
      ...(config ? { config } : {}),
      subnets,
      services: services.sort(byId),
      endpointSlices: endpointSlices.sort(byId),
    };
  }

  watch(from: Revision, sink: WatchSink): Watch {
    return this.kv.watch(`${this.prefix}/`, Number(from), {
      onReady: () => sink.onReady?.(),
      onEvents: (events, revision) => {
        const out = events.map((e) => this.event(e)).filter((e): e is WatchEvent => e !== undefined);
        sink.onEvents(out, String(revision));
      },
      onCompacted: (rev) => sink.onRelist(`revision ${from} was compacted (oldest kept: ${rev})`),
      onError: (err) => sink.onError(unavailable(err)),
    });
  }

  async close(): Promise<void> {
    await this.kv.close();
  }

  private subnetPath(cidr: string) {
    return `${this.prefix}/subnets/${subnetKey(cidr)}`;
  }

  /** etcd lease IDs of subnet keys, as last listed (for revoking a replaced lease). */
  private readonly leaseOf = new Map<string, string>();

  private event(e: KvEvent): WatchEvent | undefined {
    const revision = String(e.kv.modRevision);
    if (e.type === 'put') {
      const object = this.decode(e.kv);
      return object ? { type: 'put', revision, object } : undefined;
    }
    const ref = this.refOf(e.kv.key);
    return ref ? { type: 'delete', revision, ref } : undefined;
  }

  private refOf(key: string): ObjectRef | undefined {
    const rest = key.slice(this.prefix.length + 1);
    if (rest === 'config') return { kind: 'config', id: '' };
    const parts = rest.split('/');
    if (parts[0] === 'subnets' && parts.length === 2) return { kind: 'subnet', id: subnetOfKey(parts[1]!) };
    if (parts[0] === 'services' && parts.length === 4) {
      const id = `${parts[2]}/${parts[3]}`;
      if (parts[1] === 'specs') return { kind: 'service', id };
      if (parts[1] === 'endpointslices') return { kind: 'endpointslice', id };
    }
    return undefined;
  }

  /** A stored value as a typed object; undefined (reported through onInvalid) when it does not parse. */
  private decode(kv: KeyValue): StoreObject | undefined {
    const ref = this.refOf(kv.key);
    if (!ref) return undefined;
    try {
      switch (ref.kind) {
        case 'config':
          return { kind: 'config', config: parseNetworkConfig(kv.value, kv.key) };
        case 'subnet': {
          this.leaseOf.set(ref.id, kv.lease);
          return {
            kind: 'subnet',
            lease: { subnet: ref.id, attrs: decodeAttrs(kv.value), revision: String(kv.modRevision) },
          };
        }
        case 'service': {
          const [namespace, name] = ref.id.split('/') as [string, string];
          return { kind: 'service', service: { namespace, name, manifest: JSON.parse(kv.value) } };
        }
        case 'endpointslice': {
          const [namespace, name] = ref.id.split('/') as [string, string];
          return { kind: 'endpointslice', slice: { namespace, name, slice: JSON.parse(kv.value) } };
        }
      }
    } catch (e) {
      this.onInvalid(kv.key, (e as Error).message);
      return undefined;
    }
  }

  /** Runs one key-space call; transport failures become StoreError 'unavailable'. */
  private async call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw e instanceof StoreError ? e : unavailable(e as Error);
    }
  }
}

const unavailable = (e: Error) =>
  new StoreError('unavailable', `datastore unreachable: ${e.message}`, { cause: e });

const attrsSchema = z.object({
  PublicIP: z.string(),
  BackendType: z.enum(['host-gw', 'vxlan', 'ipip']),
  BackendData: z.nullish(z.object({ VtepMAC: z.optional(z.string()) })),
  NodeName: z.string(),
});

function encodeAttrs(a: LeaseAttrs): string {
  return JSON.stringify({
    PublicIP: a.publicIP,
    BackendType: a.backendType,
    BackendData: a.backendData.vtepMAC ? { VtepMAC: a.backendData.vtepMAC } : {},
    NodeName: a.node,
  });
}

function decodeAttrs(text: string): LeaseAttrs {
  const a = z.parse(attrsSchema, JSON.parse(text));
  return {
    node: a.NodeName,
    publicIP: a.PublicIP,
    backendType: a.BackendType,
    backendData: a.BackendData?.VtepMAC ? { vtepMAC: a.BackendData.VtepMAC } : {},
  };
}
