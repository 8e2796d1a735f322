import type { Ip } from '../net/ip.js';
import type { GivenEndpoint, Protocol, ServiceView } from './service.js';

/**
 * A Service's endpoints, derived from the pods its selector matches and shaped like `discovery.k8s.io/v1
 * EndpointSlice` (what the endpoint-slice controller does in Kubernetes). Pure.
 */

/** One endpoint of an EndpointSlice. */
export interface Endpoint {
  readonly addresses: readonly [string];
  readonly conditions: { readonly ready: boolean };
  readonly nodeName: string;
  readonly targetRef: { readonly kind: 'Pod'; readonly name: string };
}

/** `discovery.k8s.io/v1 EndpointSlice`, the subset podnet uses. */
export interface EndpointSlice {
  readonly apiVersion: 'discovery.k8s.io/v1';
  readonly kind: 'EndpointSlice';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Record<string, string>;
  };
  readonly addressType: 'IPv4';
  readonly endpoints: readonly Endpoint[];
  readonly ports: readonly { readonly name: string; readonly protocol: Protocol; readonly port: number }[];
}

/** What endpoint derivation needs of a pod. */
export interface PodRef {
  readonly name: string;
  readonly node: string;
  readonly ip: Ip;
  readonly labels: Readonly<Record<string, string>>;
  /** @default 'default' */
  readonly namespace?: string;
}

/** Whether a pod's labels satisfy a selector (an empty selector selects nothing, as in Kubernetes). */
export function selects(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  // A plain loop: no entries array per call (a pod change tests every Service's selector).
  let n = 0;
  for (const k in selector) {
    if (!Object.hasOwn(selector, k)) continue;
    n++;
    if (!Object.hasOwn(labels, k) || labels[k] !== selector[k]) return false;
  }
  return n > 0;
}

/**
 * The EndpointSlice of a Service: every pod the selector matches, sorted by pod name (stable, so planners
 * produce the same rules for the same cluster). What the endpoint-slice controller does in Kubernetes.
 */
export function endpointSliceOf(svc: ServiceView, pods: readonly PodRef[]): EndpointSlice {
  const chosen = pods
    .filter((p) => (p.namespace ?? 'default') === svc.namespace && selects(svc.selector, p.labels))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const endpoints: Endpoint[] = svc.endpoints
    ? givenEndpoints(svc.endpoints, pods)
    : chosen.map((p) => ({
        addresses: [p.ip.toString()] as [string],
        conditions: { ready: true },
        nodeName: p.node,
        targetRef: { kind: 'Pod', name: p.name },
      }));
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${svc.name}-podnet`,
      namespace: svc.namespace,
      labels: { 'kubernetes.io/service-name': svc.name, 'endpointslice.kubernetes.io/managed-by': 'podnet' },
    },
    addressType: 'IPv4',
    endpoints,
    ports: svc.ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.targetPort })),
  };
}

/** A selector-less Service's endpoints from its EndpointSlice documents, named after the pods they address. */
function givenEndpoints(given: readonly GivenEndpoint[], pods: readonly PodRef[]): Endpoint[] {
  const byIp = new Map(pods.map((p) => [p.ip.toString(), p]));
  return given
    .map((e) => {
      const pod = byIp.get(e.ip);
      return {
        addresses: [e.ip] as [string],
        conditions: { ready: e.ready },
        nodeName: e.node ?? pod?.node ?? '',
        targetRef: { kind: 'Pod' as const, name: e.name ?? pod?.name ?? e.ip },
      };
    })
    .sort((a, b) => (a.targetRef.name < b.targetRef.name ? -1 : a.targetRef.name > b.targetRef.name ? 1 : 0));
}
