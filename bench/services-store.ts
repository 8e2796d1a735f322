import { StoreCache } from '../src/agent/cache.js';
import { clusterOfSnapshot, proxyOfStore, type SelfView } from '../src/agent/desired.js';
import { ProxyBuilder } from '../src/agent/proxy-builder.js';
import type { EndpointSliceObject, NetworkConfig, ServiceObject } from '../src/agent/store/store.js';
import type { Cluster } from '../src/model/resolve.js';
import { named, type Op } from '../src/plan/ops.js';
import type { ProxyModel } from '../src/plan/services/model.js';
import { planProxyChange } from '../src/plan/services/plan.js';
import { render } from '../src/render/index.js';

/**
 * The services bench's store side: N Services × 5 endpoints as the node agent holds them (Service objects
 * and one EndpointSlice each, in its StoreCache), and one endpoint change taken from the store event to the
 * nft text the kernel receives, two ways: the agent's change-by-change model (ProxyBuilder) and the model
 * rebuilt whole from the store (proxyOfStore), each planned against the model applied before it.
 */

const ip = (n: number) => `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const CONFIG: NetworkConfig = {
  network: '10.200.0.0/16',
  subnetLen: 24,
  serviceNetwork: '10.96.0.0/12',
  backend: { type: 'host-gw' },
};
const SELF: SelfView = {
  node: 'bench',
  subnet: '10.200.0.0/24',
  publicIP: '192.168.64.4',
  underlay: '192.168.64.0/24',
  iface: 'eth0',
  underlayMtu: 1500,
  proxy: 'nftables',
  bridge: 'br0',
};

const name = (i: number) => `s${String(i).padStart(6, '0')}`;

function service(i: number): ServiceObject {
  return {
    namespace: 'default',
    name: name(i),
    manifest: {
      metadata: { name: name(i), namespace: 'default' },
      spec: { clusterIP: ip(0x0a600000 + 2 + i), ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    },
  } as ServiceObject;
}

/** Service i's slice; `moved` puts its third endpoint elsewhere (a pod restarted on another address). */
function slice(i: number, moved?: number): EndpointSliceObject {
  const endpoints = Array.from({ length: 5 }, (_, j) => {
    const k = i * 5 + j;
    const addr = j === 2 && moved !== undefined ? ip(0x0aca0000 + moved) : ip(0x0ac90000 + (k % 65000) + 1);
    return {
      addresses: [addr] as [string],
      conditions: { ready: true },
      nodeName: 'other',
      targetRef: { kind: 'Pod', name: `p${k}` },
    };
  });
  const sliceName = `${name(i)}-0`;
  return {
    namespace: 'default',
    name: sliceName,
    slice: {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: sliceName, namespace: 'default', labels: { 'kubernetes.io/service-name': name(i) } },
      addressType: 'IPv4',
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
      endpoints,
    },
  } as EndpointSliceObject;
}

export interface ChangeTimes {
  /** The watch event into the agent's cache. */
  event: number;
  /** Cache to model. */
  build: number;
  /** planProxyChange. */
  plan: number;
  /** The op to its nft text. */
  render: number;
}

/** An agent's store with N Services, and one-endpoint changes through either way of building the model. */
export class StoreChanges {
  readonly cache = new StoreCache();
  readonly cluster: Cluster = clusterOfSnapshot(CONFIG, [], SELF);
  private readonly builder = new ProxyBuilder();
  private seq = 0;
  /** The model applied last (the kernel holds it). */
  last: ProxyModel;

  constructor(private readonly n: number) {
    this.cache.reset({
      revision: '1',
      config: CONFIG,
      subnets: [],
      services: Array.from({ length: n }, (_, i) => service(i)),
      endpointSlices: Array.from({ length: n }, (_, i) => slice(i)),
    });
    this.last = this.builder.build(this.cache, this.cluster, SELF.node, 'nftables').proxy;
  }

  /** One endpoint of one Service moves (a different Service each time); returns the nft text and the times. */
  change(way: 'builder' | 'whole'): { text: string; ops: Op[]; times: ChangeTimes } {
    this.seq++;
    const i = (this.seq * 7919) % this.n;
    const e0 = performance.now();
    this.cache.apply(
      [
        {
          type: 'put',
          revision: String(this.seq),
          object: { kind: 'endpointslice', slice: slice(i, this.seq) },
        },
      ],
      String(this.seq),
    );
    const t0 = performance.now();
    const next =
      way === 'builder'
        ? this.builder.build(this.cache, this.cluster, SELF.node, 'nftables').proxy
        : proxyOfStore(this.cache.snapshot(), this.cluster, SELF.node, 'nftables').proxy;
    const t1 = performance.now();
    const ops = planProxyChange(named('bench'), this.last, next);
    const t2 = performance.now();
    const text = ops.map((o) => render(o).stdin ?? '').join('');
    const t3 = performance.now();
    this.last = next;
    return { text, ops, times: { event: t0 - e0, build: t1 - t0, plan: t2 - t1, render: t3 - t2 } };
  }
}
