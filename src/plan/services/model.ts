import type { ProxyMode } from '../../model/cluster.js';
import type { Cluster } from '../../model/resolve.js';
import { type ServicePortSpec, type ServiceSpec, type ServiceView, serviceKey } from '../../model/service.js';
import { endpointSliceOf, type PodRef } from '../../model/service-endpoints.js';
import type { Ip } from '../../net/ip.js';
import { derivedIds, findPort } from './derived.js';

/**
 * The service proxy's input for one node: every service port with the endpoints this node may send it to.
 * Plain data (JSON-serializable), built once from the cluster and rendered by the nftables and the iptables
 * renderers alike; part of the node model (plan/node/model.ts), compared element by element with the kernel.
 */

/** One endpoint as the proxy sees it. */
export interface ProxyEndpoint {
  readonly ip: string;
  readonly port: number;
  /** Pod name, for explanations. */
  readonly pod: string;
  /** Runs on the node being planned. */
  readonly local: boolean;
}

/** One port of one service: what a ClusterIP (and NodePort) portal leads to. */
export interface ProxyServicePort {
  /** `namespace/name:port-name` (or `namespace/name:port/protocol` for an unnamed port); unique. */
  readonly id: string;
  readonly clusterIP: string;
  readonly protocol: 'tcp' | 'udp';
  readonly port: number;
  /** Endpoints for ClusterIP traffic (local ones only under internalTrafficPolicy: Local). */
  readonly endpoints: readonly ProxyEndpoint[];
  readonly nodePort?: number;
  /** Endpoints for NodePort traffic (local ones only under externalTrafficPolicy: Local). */
  readonly nodePortEndpoints?: readonly ProxyEndpoint[];
  /** externalTrafficPolicy: Local: no masquerade on NodePort traffic, the client IP reaches the pod. */
  readonly nodePortLocal?: boolean;
  /** sessionAffinity: ClientIP, timeout in seconds. */
  readonly affinitySeconds?: number;
}

export interface ProxyModel {
  readonly node: string;
  readonly mode: Exclude<ProxyMode, 'none'>;
  readonly clusterCIDR: string;
  readonly serviceCIDR: string;
  /** SNAT pod traffic leaving the cluster CIDR. */
  readonly egressMasquerade: boolean;
  /** Sorted by id. */
  readonly services: readonly ProxyServicePort[];
}

/** Limits of the flat nftables layout's mark encoding (see nft-layout.ts). */
export const MAX_ENDPOINTS = 1023;

/** The proxy model of one node (pure). */
export function buildProxyModel(cluster: Cluster, node: string): ProxyModel {
  const pods = podRefsOf(cluster);
  const services = cluster.services.flatMap((svc) => servicePortsOf(svc, pods, node));
  services.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { ...proxySettingsOf(cluster, node), services };
}

/** A proxy model's node-wide part: everything but its service ports. */
export type ProxySettings = Omit<ProxyModel, 'services'>;

export function proxySettingsOf(cluster: Pick<Cluster, 'spec'>, node: string): ProxySettings {
  return {
    node,
    mode: cluster.spec.proxy === 'iptables' ? 'iptables' : 'nftables',
    clusterCIDR: cluster.spec.clusterCIDR.toString(),
    serviceCIDR: cluster.spec.serviceCIDR.toString(),
    egressMasquerade: cluster.spec.egressMasquerade ?? true,
  };
}

/** The cluster's pods as endpoint derivation sees them. */
export function podRefsOf(cluster: Pick<Cluster, 'pods'>): PodRef[] {
  return cluster.pods.map((p) => ({
    name: p.name,
    node: p.node,
    ip: p.ip,
    labels: p.labels,
    ...(p.namespace ? { namespace: p.namespace } : {}),
  }));
}

/**
 * One lab Service's ports as `node`'s proxy sees them (ready endpoints from its EndpointSlice), in the
 * Service's port order: the whole model is these for every Service, and a lab change builds them for the
 * Services it touched only (lab/proxy-change.ts).
 */
export function servicePortsOf(svc: ServiceView, pods: readonly PodRef[], node: string): ProxyServicePort[] {
  const slice = endpointSliceOf(svc, pods);
  return svc.ports.map((port) => {
    const all: ProxyEndpoint[] = slice.endpoints
      .filter((e) => e.conditions.ready)
      .map((e) => ({
        ip: e.addresses[0],
        port: port.targetPort,
        pod: e.targetRef.name,
        local: e.nodeName === node,
      }));
    const local = all.filter((e) => e.local);
    return proxyServicePort(svc, port, all, local);
  });
}

/**
 * UDP endpoints that a sync removes: their conntrack entries must be flushed, or clients keep sending to the
 * dead endpoint until the entry times out (UDP has no connection to reset). kube-proxy does the same.
 */
export function staleUdpEndpoints(
  prev: ProxyModel | undefined,
  next: ProxyModel,
): { clusterIP: string; port: number; endpoint: string; nodePort?: number }[] {
  if (!prev || prev.services === next.services) return [];
  const out: { clusterIP: string; port: number; endpoint: string; nodePort?: number }[] = [];
  const B = next.services;
  const gone = (s: ProxyServicePort, n: ProxyServicePort | undefined) => {
    if (n === s || s.protocol !== 'udp') return;
    const keep = new Set((n?.endpoints ?? []).map((e) => `${e.ip}:${e.port}`));
    for (const e of s.endpoints) {
      if (!keep.has(`${e.ip}:${e.port}`))
        out.push({
          clusterIP: s.clusterIP,
          port: s.port,
          endpoint: e.ip,
          ...(s.nodePort ? { nodePort: s.nodePort } : {}),
        });
    }
  };
  // Only the ports the builder touched (derived.ts), in list order; else both lists, sorted by id, walked in
  // lockstep, where a port shared by reference has not changed.
  const hint = derivedIds(prev.services, B);
  if (hint) {
    const at = [...hint].map((id) => findPort(prev.services, id)).filter((i) => i >= 0);
    for (const i of at.sort((x, y) => x - y)) {
      const s = prev.services[i]!;
      const j = findPort(B, s.id);
      gone(s, j >= 0 ? B[j] : undefined);
    }
    return out;
  }
  let j = 0;
  for (const s of prev.services) {
    if (B[j] === s) {
      j++; // shared by reference: unchanged, not even looked at
      continue;
    }
    while (j < B.length && B[j]!.id < s.id) j++;
    gone(s, B[j]?.id === s.id ? B[j] : undefined);
  }
  return out;
}

/**
 * One port of a Service as the proxy's data, shared by the lab's model and the agent's: ClusterIP traffic to
 * `all` endpoints or, with internalTrafficPolicy Local, to the node's own; NodePort likewise by
 * externalTrafficPolicy; at most MAX_ENDPOINTS each.
 */
export function proxyServicePort(
  svc: ServiceSpec & { readonly clusterIP: Ip },
  port: ServicePortSpec,
  all: readonly ProxyEndpoint[],
  local: readonly ProxyEndpoint[],
): ProxyServicePort {
  const cap = (eps: readonly ProxyEndpoint[]) => eps.slice(0, MAX_ENDPOINTS);
  return {
    id: `${serviceKey(svc)}:${port.name || `${port.port}/${port.protocol.toLowerCase()}`}`,
    clusterIP: svc.clusterIP.toString(),
    protocol: port.protocol === 'UDP' ? 'udp' : 'tcp',
    port: port.port,
    endpoints: cap(svc.internalTrafficPolicy === 'Local' ? local : all),
    ...(svc.type === 'NodePort' && port.nodePort !== undefined
      ? {
          nodePort: port.nodePort,
          nodePortEndpoints: cap(svc.externalTrafficPolicy === 'Local' ? local : all),
          nodePortLocal: svc.externalTrafficPolicy === 'Local',
        }
      : {}),
    ...(svc.sessionAffinity === 'ClientIP' ? { affinitySeconds: svc.affinityTimeoutSeconds } : {}),
  };
}
