import type { ConfigIssue } from '../errors.js';
import { parseServiceManifest } from '../model/service.js';
import type { Cidr } from '../net/ip.js';
import { type ProxyEndpoint, type ProxyServicePort, proxyServicePort } from '../plan/services/model.js';
import { type EndpointState, usableEndpoints } from './endpoints.js';
import type { EndpointSliceObject, ServiceObject } from './store/store.js';

/** A Service the store holds that the agent cannot use, with why (logged, never fatal). */
export interface Skipped {
  readonly key: string;
  readonly why: string;
}

/** The service a slice belongs to (`namespace/name` from its `kubernetes.io/service-name` label), if any. */
export function serviceOfSlice(o: EndpointSliceObject): string | undefined {
  const name = o.slice.metadata.labels?.['kubernetes.io/service-name'];
  return name === undefined ? undefined : `${o.namespace}/${name}`;
}

/**
 * One stored Service's ports as the proxy sees them, from its own EndpointSlices (pure; `slicesOf` gives them
 * in slice-name order):
 * endpoints count as kube-proxy counts them (endpoints.ts), target ports come from the slice's port of the
 * same name. The ports of every Service, sorted by id, are the proxy model (desired.ts, proxy-builder.ts).
 */
export function portsOfService(
  s: ServiceObject,
  slicesOf: (service: string) => readonly EndpointSliceObject[],
  serviceCIDR: Cidr,
  node: string,
  /** Parsed manifests by stored object, reused while the object stays the same (the builder's). */
  memo?: WeakMap<object, unknown>,
): { ports: ProxyServicePort[]; slicesKey: string } | { skipped: Skipped } {
  const key = `${s.namespace}/${s.name}`;
  let known = memo?.get(s) as Parsed | undefined;
  if (!known) {
    known = parse(s);
    memo?.set(s, known);
  }
  if ('why' in known) return { skipped: { key, why: known.why } };
  const parsed = known.spec;
  if (!parsed.clusterIP || !serviceCIDR.contains(parsed.clusterIP))
    return {
      skipped: {
        key,
        why: `no spec.clusterIP inside ${serviceCIDR} (the store holds allocated services)`,
      },
    };
  const svc = { ...parsed, clusterIP: parsed.clusterIP };
  // The slices of the Service the manifest names (normally the store's own key for it).
  const slicesKey = `${svc.namespace}/${svc.name}`;
  const slices = slicesOf(slicesKey);
  const ports: ProxyServicePort[] = [];
  for (const port of svc.ports) {
    const found: (ProxyEndpoint & EndpointState)[] = [];
    for (const { slice } of slices) {
      const sp = slice.ports?.find((p) => p.name === port.name && p.protocol === port.protocol);
      const target = sp?.port ?? port.targetPort;
      for (const e of slice.endpoints ?? []) {
        if (!e.addresses?.[0]) continue;
        found.push({
          conditions: e.conditions,
          ip: e.addresses[0],
          port: target,
          pod: e.targetRef?.name ?? e.addresses[0],
          local: e.nodeName === node,
        });
      }
    }
    found.sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
    // kube-proxy's choice per traffic policy: ready endpoints, else serving-and-terminating ones.
    const bare = (eps: (ProxyEndpoint & EndpointState)[]): ProxyEndpoint[] =>
      eps.map(({ conditions: _c, ...p }) => p);
    const all = bare(usableEndpoints(found));
    const local = bare(usableEndpoints(found.filter((e) => e.local)));
    ports.push(proxyServicePort(svc, port, all, local));
  }
  return { ports, slicesKey };
}

type Parsed =
  | { readonly why: string }
  | { readonly spec: NonNullable<ReturnType<typeof parseServiceManifest>> };

function parse(s: ServiceObject): Parsed {
  const issues: ConfigIssue[] = [];
  const spec = parseServiceManifest(s.manifest, '', issues);
  return !spec || issues.length ? { why: issues.map((i) => `${i.path}: ${i.message}`).join('; ') } : { spec };
}

/** Orders service ports by id, as the proxy model keeps them. */
export const byId = (a: ProxyServicePort, b: ProxyServicePort) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
