import { serviceOfSlice } from './proxy-ports.js';
import type {
  EndpointSliceObject,
  NetworkConfig,
  Revision,
  ServiceObject,
  Snapshot,
  SubnetLease,
  WatchEvent,
} from './store/store.js';

/** The store's Services and their EndpointSlices as the proxy builder reads them (proxy-builder.ts). */
export interface ServiceSource {
  readonly services: ReadonlyMap<string, ServiceObject>;
  /** A Service's slices (`namespace/name` of the Service), in slice-name order. */
  slicesOf(service: string): readonly EndpointSliceObject[];
  /**
   * The Services (`namespace/name`) whose object or slices changed since the last call; undefined after a
   * fresh list (everything may have). Each change is handed out once.
   */
  takeChanged(): ReadonlySet<string> | undefined;
}

/**
 * The agent's copy of the store: a list, then every watch event applied in order. The agent reconciles from
 * the whole state, never from one event (events only say "something changed"), as kindnetd and kube-proxy do;
 * it also notes which Services an event touched, so the proxy model is rebuilt for those alone.
 */
export class StoreCache implements ServiceSource {
  private config: NetworkConfig | undefined;
  private readonly subnets = new Map<string, SubnetLease>();
  readonly services = new Map<string, ServiceObject>();
  private readonly slices = new Map<string, EndpointSliceObject>();
  /** Service key -> its slices by slice key. */
  private readonly slicesBySvc = new Map<string, Map<string, EndpointSliceObject>>();
  private changed: Set<string> | undefined;
  revision: Revision = '0';

  /** Replaces everything with a fresh list. */
  reset(s: Snapshot): void {
    this.config = s.config;
    this.subnets.clear();
    this.services.clear();
    this.slices.clear();
    this.slicesBySvc.clear();
    for (const l of s.subnets) this.subnets.set(l.subnet, l);
    for (const o of s.services) this.services.set(`${o.namespace}/${o.name}`, o);
    for (const o of s.endpointSlices) this.putSlice(o);
    this.changed = undefined;
    this.revision = s.revision;
  }

  apply(events: readonly WatchEvent[], revision: Revision): void {
    for (const e of events) {
      if (e.type === 'put') {
        const o = e.object;
        if (o.kind === 'config') this.config = o.config;
        else if (o.kind === 'subnet') this.subnets.set(o.lease.subnet, o.lease);
        else if (o.kind === 'service') {
          const k = `${o.service.namespace}/${o.service.name}`;
          this.services.set(k, o.service);
          this.changed?.add(k);
        } else this.putSlice(o.slice);
      } else {
        const { kind, id } = e.ref;
        if (kind === 'config') this.config = undefined;
        else if (kind === 'subnet') this.subnets.delete(id);
        else if (kind === 'service') {
          this.services.delete(id);
          this.changed?.add(id);
        } else this.dropSlice(id);
      }
    }
    this.revision = revision;
  }

  private putSlice(o: EndpointSliceObject): void {
    const id = `${o.namespace}/${o.name}`;
    this.dropSlice(id);
    this.slices.set(id, o);
    const svc = serviceOfSlice(o);
    if (svc === undefined) return;
    const m = this.slicesBySvc.get(svc) ?? new Map<string, EndpointSliceObject>();
    this.slicesBySvc.set(svc, m);
    m.set(id, o);
    this.changed?.add(svc);
  }

  private dropSlice(id: string): void {
    const old = this.slices.get(id);
    if (!old) return;
    this.slices.delete(id);
    const svc = serviceOfSlice(old);
    if (svc === undefined) return;
    const m = this.slicesBySvc.get(svc);
    m?.delete(id);
    if (m?.size === 0) this.slicesBySvc.delete(svc);
    this.changed?.add(svc);
  }

  slicesOf(service: string): readonly EndpointSliceObject[] {
    const m = this.slicesBySvc.get(service);
    return m ? [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v) : [];
  }

  takeChanged(): ReadonlySet<string> | undefined {
    const c = this.changed;
    this.changed = new Set();
    return c;
  }

  /** What a sync needs besides the Services: revision, config and leases (a few, sorted). */
  nodeView(): Pick<Snapshot, 'revision' | 'config' | 'subnets'> {
    return {
      revision: this.revision,
      ...(this.config ? { config: this.config } : {}),
      subnets: [...this.subnets.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v),
    };
  }

  /** Everything, sorted (O(n log n): tests and one-off reads; the sync loop uses nodeView and the source). */
  snapshot(): Snapshot {
    const sorted = <T>(m: Map<string, T>) =>
      [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
    return {
      ...this.nodeView(),
      services: sorted(this.services),
      endpointSlices: sorted(this.slices),
    };
  }
}
