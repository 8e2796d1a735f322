import type { ServiceManifest } from '../../model/service.js';
import { type KubeClient, KubeError, type WatchEventRaw } from './kube-client.js';
import {
  decodeRevision,
  encodeRevision,
  type KubeNode,
  podCidrOf,
  type ServedSlice,
  WATCHED,
  type Watched,
} from './kube-codec.js';
import {
  type EndpointSliceObject,
  type NetworkConfig,
  type Revision,
  type ServiceObject,
  StoreError,
  type SubnetLease,
  type Watch,
  type WatchEvent,
  type WatchSink,
} from './store.js';

export interface ConfigMap {
  readonly metadata: { readonly name: string; readonly resourceVersion?: string };
  readonly data?: Readonly<Record<string, string>>;
}

/** How an API object becomes the store's (undefined: not one, or invalid and reported by the decoder). */
export interface Decoders {
  readonly config: (cm: ConfigMap) => NetworkConfig | undefined;
  readonly lease: (n: KubeNode) => SubnetLease | undefined;
  readonly slice: (s: ServedSlice) => EndpointSliceObject | undefined;
  readonly service: (s: ServiceManifest) => ServiceObject;
}

/**
 * Four watches from the revision's resourceVersions. A server-closed stream resumes quietly from its last
 * resourceVersion; 410 Gone (or a bad revision) ends it with onRelist; a failed connection with onError.
 */
export function watchKube(
  api: KubeClient,
  paths: () => Promise<Record<Watched, string>>,
  decoders: Decoders,
  from: Revision,
  sink: WatchSink,
): Watch {
  const start = decodeRevision(from);
  let stopped = false;
  const handles = new Map<Watched, { stop(): void }>();
  const stopAll = () => {
    stopped = true;
    for (const h of handles.values()) h.stop();
  };
  if (!start) {
    queueMicrotask(() => sink.onRelist(`revision '${from}' is not this store's`));
    return { stop: () => {} };
  }
  const revs: Record<Watched, string> = { ...start };
  // What each Node was as a lease, so a Node losing its annotations or CIDR becomes a delete.
  const nodeSubnets = new Map<string, string>();
  let ready = 0;
  void paths().then(
    (p) => {
      // Seed the node map from one list at the start revision is not possible; a delete for an unknown node
      // is harmless (the cache has nothing under that subnet), and an update re-puts the lease.
      for (const w of WATCHED) open(w, p[w]);
    },
    (e: StoreError) => {
      if (!stopped) sink.onError(e instanceof StoreError ? e : new StoreError('unavailable', String(e)));
    },
  );
  const open = (w: Watched, path: string) => {
    if (stopped) return;
    let said = false;
    handles.set(
      w,
      api.watch(
        path,
        revs[w],
        (e) => {
          if (!said) {
            said = true;
            if (++ready === WATCHED.length) sink.onReady?.();
          }
          if (e.type === 'ERROR') {
            const code = e.object.code;
            stopAll();
            if (code === 410) sink.onRelist(`${w}: ${e.object.message ?? '410 Gone'}`);
            else sink.onError(new KubeError('unavailable', `watch ${w}: ${e.object.message ?? code}`, code));
            return;
          }
          const rv = e.object.metadata?.resourceVersion;
          if (rv) revs[w] = rv;
          if (e.type === 'BOOKMARK') return;
          const events = eventsOf(w, e, nodeSubnets, decoders);
          const revision = encodeRevision(revs);
          if (events.length) sink.onEvents(events, revision);
        },
        (err) => {
          if (stopped) return;
          if (!err) return open(w, path); // the server's timeout: resume from the last resourceVersion
          stopAll();
          if (err.reason === 'compacted') sink.onRelist(`${w}: ${err.message}`);
          else sink.onError(err);
        },
      ),
    );
    // A watch that is established but quiet still counts as ready once its request is answered.
    setTimeout(() => {
      if (!said && !stopped) {
        said = true;
        if (++ready === WATCHED.length) sink.onReady?.();
      }
    }, 200).unref();
  };
  return { stop: stopAll };
}

/** One watch event of resource `w` as the store's events; `nodeSubnets` carries each Node's last lease. */
function eventsOf(
  w: Watched,
  e: WatchEventRaw,
  nodeSubnets: Map<string, string>,
  decode: Decoders,
): WatchEvent[] {
  const rev = e.object.metadata?.resourceVersion ?? '0';
  const del = e.type === 'DELETED';
  if (w === 'config') {
    const c = del ? undefined : decode.config(e.object as unknown as ConfigMap);
    return [
      c
        ? { type: 'put', revision: rev, object: { kind: 'config', config: c } }
        : { type: 'delete', revision: rev, ref: { kind: 'config', id: '' } },
    ];
  }
  if (w === 'nodes') {
    const n = e.object as unknown as KubeNode;
    const before = nodeSubnets.get(n.metadata.name);
    const lease = del ? undefined : decode.lease(n);
    const out: WatchEvent[] = [];
    if (before && before !== lease?.subnet)
      out.push({ type: 'delete', revision: rev, ref: { kind: 'subnet', id: before } });
    if (lease) {
      nodeSubnets.set(n.metadata.name, lease.subnet);
      out.push({ type: 'put', revision: rev, object: { kind: 'subnet', lease } });
    } else {
      nodeSubnets.delete(n.metadata.name);
      const cidr = podCidrOf(n);
      if (!before && cidr) out.push({ type: 'delete', revision: rev, ref: { kind: 'subnet', id: cidr } });
    }
    return out;
  }
  if (w === 'services') {
    const o = decode.service(e.object as unknown as ServiceManifest);
    return [
      del
        ? { type: 'delete', revision: rev, ref: { kind: 'service', id: `${o.namespace}/${o.name}` } }
        : { type: 'put', revision: rev, object: { kind: 'service', service: o } },
    ];
  }
  const s = e.object as unknown as ServedSlice;
  const o = decode.slice(s);
  const id = `${s.metadata.namespace ?? 'default'}/${s.metadata.name}`;
  return [
    del || !o
      ? { type: 'delete', revision: rev, ref: { kind: 'endpointslice', id } }
      : { type: 'put', revision: rev, object: { kind: 'endpointslice', slice: o } },
  ];
}
