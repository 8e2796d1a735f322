import type { ConfigIssue } from '../errors.js';
import { type Cidr, Ip } from '../net/ip.js';

/**
 * Services, Kubernetes-shaped: the desired `Service` objects and their ClusterIP allocation from the service
 * CIDR. Reading them from manifests: service-manifest.ts; their endpoints (EndpointSlice): service-endpoints.ts.
 * Pure: no I/O, no clock.
 */

export type Protocol = 'TCP' | 'UDP';

/** One port of a Service (`spec.ports[]`). */
export interface ServicePortSpec {
  /** Port name; required by Kubernetes when a Service has several ports. */
  readonly name: string;
  /** @default 'TCP' */
  readonly protocol: Protocol;
  /** The port on the ClusterIP. */
  readonly port: number;
  /** The port on the pods. Numeric only (podnet's pods declare no named container ports). @default port */
  readonly targetPort: number;
  /** The port on every node's underlay address, for `type: NodePort` (30000-32767). */
  readonly nodePort?: number;
}

/** A Service as podnet reads it from `kind: Service` (v1). */
export interface ServiceSpec {
  readonly name: string;
  /** @default 'default' */
  readonly namespace: string;
  /** Pinned ClusterIP; allocated from the service CIDR when absent. */
  readonly clusterIP?: Ip;
  /** @default 'ClusterIP' */
  readonly type: 'ClusterIP' | 'NodePort';
  readonly selector: Readonly<Record<string, string>>;
  readonly ports: readonly ServicePortSpec[];
  /** 'ClientIP' pins each client IP to one endpoint for `affinityTimeoutSeconds`. @default 'None' */
  readonly sessionAffinity: 'None' | 'ClientIP';
  /** @default 10800 (Kubernetes' default, 3 h) */
  readonly affinityTimeoutSeconds: number;
  /** 'Local': pods and nodes reach only endpoints on their own node. @default 'Cluster' */
  readonly internalTrafficPolicy: 'Cluster' | 'Local';
  /** 'Local': NodePort traffic goes only to endpoints on the receiving node, with the client IP kept. @default 'Cluster' */
  readonly externalTrafficPolicy: 'Cluster' | 'Local';
  /**
   * The endpoints of a Service without a selector, from the file's EndpointSlice documents (endpoint-slice.ts);
   * the ports' targetPort is then the slices' port number. Absent: the endpoints are the selected pods.
   */
  readonly endpoints?: readonly GivenEndpoint[];
}

/** One endpoint of an EndpointSlice document. */
export interface GivenEndpoint {
  /** IPv4 address (the endpoint's first). */
  readonly ip: string;
  readonly ready: boolean;
  /** `nodeName`; else the node of the pod with this address, if any. */
  readonly node?: string;
  /** `targetRef.name`; else the pod with this address, if any, else the address. */
  readonly name?: string;
}

/** `namespace/name`, the key Kubernetes uses. */
export const serviceKey = (s: { namespace: string; name: string }): string => `${s.namespace}/${s.name}`;

/** A Service with its ClusterIP decided. */
export interface ServiceView extends ServiceSpec {
  readonly clusterIP: Ip;
}

/**
 * Decides every Service's ClusterIP: pinned ones are kept, earlier allocations (`previous`, by
 * `namespace/name`) stay stable, the rest get the lowest free address from .2 up (.1 is kept for the
 * `kubernetes` API service, as kube-apiserver does). Records an issue when the range is full. The result is
 * indexed by key as it is made (servicesByKey), from the keys the allocation computes anyway.
 */
export function allocateClusterIPs(
  services: readonly ServiceSpec[],
  serviceCIDR: Cidr,
  previous: Readonly<Record<string, string>> = {},
  issues: ConfigIssue[] = [],
): ServiceView[] {
  const keys = services.map(serviceKey);
  const used = new Set<number>(services.flatMap((s) => (s.clusterIP ? [s.clusterIP.value] : [])));
  const decided = new Map<string, Ip>();
  services.forEach((s, i) => {
    if (s.clusterIP) return;
    const prev = Ip.tryParse(previous[keys[i]!] ?? '');
    if (prev && serviceCIDR.contains(prev) && !used.has(prev.value)) {
      used.add(prev.value);
      decided.set(keys[i]!, prev);
    }
  });
  let next = serviceCIDR.network.value + 2;
  const out: ServiceView[] = [];
  const index = new Map<string, ServiceView>();
  services.forEach((s, i) => {
    let ip = s.clusterIP ?? decided.get(keys[i]!);
    if (!ip) {
      while (next < serviceCIDR.broadcast.value && used.has(next)) next++;
      if (next >= serviceCIDR.broadcast.value) {
        issues.push({
          path: `service '${keys[i]}'`,
          message: `gets no ClusterIP: the service CIDR '${serviceCIDR}' is full`,
          hint: 'use a larger serviceCIDR',
        });
        return;
      }
      ip = Ip.fromNumber(next);
      used.add(next);
    }
    const view = { ...s, clusterIP: ip };
    out.push(view);
    index.set(keys[i]!, view);
  });
  indexes.set(out, index);
  return out;
}

/**
 * Services lists' indexes by `namespace/name`, one per list (lists are never changed once made): a change of a
 * few Services finds them without a walk over all of them (lab/proxy-part.ts).
 */
const indexes = new WeakMap<readonly ServiceView[], ReadonlyMap<string, ServiceView>>();

/** The Services of `services` by key: the index made with the list, or built now (a spec defines each key once). */
export function servicesByKey(services: readonly ServiceView[]): ReadonlyMap<string, ServiceView> {
  let index = indexes.get(services);
  if (!index) {
    index = new Map(services.map((s) => [serviceKey(s), s]));
    indexes.set(services, index);
  }
  return index;
}

// Re-exported so importers of the one-file module (the agent's store) keep working.
export type { Endpoint, EndpointSlice, PodRef } from './service-endpoints.js';
export { endpointSliceOf, selects } from './service-endpoints.js';
export type { ServiceManifest } from './service-manifest.js';
export {
  checkServices,
  k8sServiceSchema,
  parseServiceManifest,
  seedServiceManifest,
} from './service-manifest.js';
