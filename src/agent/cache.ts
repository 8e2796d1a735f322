import type {
  EndpointSliceObject,
  NetworkConfig,
  Revision,
  ServiceObject,
  Snapshot,
  SubnetLease,
  WatchEvent,
} from './store/store.js';

/**
 * The agent's copy of the store: a list, then every watch event applied in order. The agent reconciles from
 * `snapshot()`, never from one event (events only say "something changed"), as kindnetd and kube-proxy do.
 */
export class StoreCache {
  private config: NetworkConfig | undefined;
  private readonly subnets = new Map<string, SubnetLease>();
  private readonly services = new Map<string, ServiceObject>();
  private readonly slices = new Map<string, EndpointSliceObject>();
  revision: Revision = '0';

  /** Replaces everything with a fresh list. */
  reset(s: Snapshot): void {
    this.config = s.config;
    this.subnets.clear();
    this.services.clear();
    this.slices.clear();
    for (const l of s.subnets) this.subnets.set(l.subnet, l);
    for (const o of s.services) this.services.set(`${o.namespace}/${o.name}`, o);
    for (const o of s.endpointSlices) this.slices.set(`${o.namespace}/${o.name}`, o);
    this.revision = s.revision;
  }

  apply(events: readonly WatchEvent[], revision: Revision): void {
    for (const e of events) {
      if (e.type === 'put') {
        const o = e.object;
        if (o.kind === 'config') this.config = o.config;
        else if (o.kind === 'subnet') this.subnets.set(o.lease.subnet, o.lease);
        else if (o.kind === 'service')
          this.services.set(`${o.service.namespace}/${o.service.name}`, o.service);
        else this.slices.set(`${o.slice.namespace}/${o.slice.name}`, o.slice);
      } else {
        const { kind, id } = e.ref;
        if (kind === 'config') this.config = undefined;
        else if (kind === 'subnet') this.subnets.delete(id);
        else if (kind === 'service') this.services.delete(id);
        else this.slices.delete(id);
      }
    }
    this.revision = revision;
  }

  snapshot(): Snapshot {
    const sorted = <T>(m: Map<string, T>) =>
      [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
    return {
      revision: this.revision,
      ...(this.config ? { config: this.config } : {}),
      subnets: sorted(this.subnets),
      services: sorted(this.services),
      endpointSlices: sorted(this.slices),
    };
  }
}
