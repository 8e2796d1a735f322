import { matches } from '../../model/policy/selector.js';
import {
  type ContainerPort,
  type NamespaceSpec,
  type NetworkPolicy,
  type Peer,
  type PolicyPort,
  type PolicyRule,
  type Protocol,
  policyKey,
} from '../../model/policy/types.js';
import type { Ip } from '../../net/ip.js';

/**
 * The NetworkPolicy evaluator (pure): whether a new connection is allowed, and why. It is the expected side of
 * `lab verify --policies` and the reasoning `lab policy why` prints, written straight from the Kubernetes
 * semantics, independently of how nftables enforces them.
 */

/** A pod as policies see it. */
export interface PolicyPod {
  readonly name: string;
  readonly namespace: string;
  readonly node: string;
  readonly ip: Ip;
  readonly labels: Readonly<Record<string, string>>;
  readonly ports: readonly ContainerPort[];
}

export interface PolicyWorld {
  readonly namespaces: readonly NamespaceSpec[];
  readonly pods: readonly PolicyPod[];
  readonly policies: readonly NetworkPolicy[];
  /** Each node's own addresses (traffic between a node and its pods is always allowed). */
  readonly nodes: readonly { readonly name: string; readonly ips: readonly Ip[] }[];
}

/** One end of a connection: a pod, or any other address (a node, the outside). */
export type Endpoint = { readonly pod: PolicyPod } | { readonly ip: Ip };

/** A rule that allowed the connection in one direction. */
export interface RuleRef {
  readonly policy: string;
  readonly direction: 'ingress' | 'egress';
  readonly rule: number;
}

/** The decision at one pod for one direction. */
export interface SideDecision {
  /** `namespace/name` of the pod this side is about. */
  readonly pod: string;
  /** Policies selecting the pod for this direction (empty: not isolated, allowed). */
  readonly isolatedBy: readonly string[];
  /** Rules that allow the connection (any one suffices). */
  readonly allowedBy: readonly RuleRef[];
  readonly allowed: boolean;
}

export interface Decision {
  readonly allowed: boolean;
  /** Why, in one line. */
  readonly reason: string;
  /** The source pod's egress decision (absent when the source is not a pod, or when a shortcut decided). */
  readonly egress?: SideDecision;
  /** The destination pod's ingress decision. */
  readonly ingress?: SideDecision;
}

const podKey = (p: PolicyPod) => `${p.namespace}/${p.name}`;
const ipOf = (e: Endpoint): Ip => ('pod' in e ? e.pod.ip : e.ip);

/** Whether a new connection src -> dst:port/proto is allowed (after service DNAT: dst is the endpoint). */
export function allowed(
  world: PolicyWorld,
  src: Endpoint,
  dst: Endpoint,
  port: number,
  proto: Protocol,
): Decision {
  if ('pod' in src && 'pod' in dst && podKey(src.pod) === podKey(dst.pod))
    return { allowed: true, reason: 'a pod may always reach itself' };
  const nodeOf = (ip: Ip) => world.nodes.find((n) => n.ips.some((x) => x.equals(ip)))?.name;
  if ('ip' in src && 'pod' in dst && nodeOf(src.ip) === dst.pod.node)
    return {
      allowed: true,
      reason: `traffic from a node (${dst.pod.node}) to its own pods is always allowed`,
    };
  if ('pod' in src && 'ip' in dst && nodeOf(dst.ip) === src.pod.node)
    return {
      allowed: true,
      reason: `traffic from a pod to its own node (${src.pod.node}) is always allowed`,
    };
  const egress = 'pod' in src ? side(world, src.pod, 'egress', dst, port, proto) : undefined;
  const ingress = 'pod' in dst ? side(world, dst.pod, 'ingress', src, port, proto) : undefined;
  const ok = (egress?.allowed ?? true) && (ingress?.allowed ?? true);
  const why = (s: SideDecision | undefined, dir: string) =>
    !s
      ? undefined
      : s.isolatedBy.length === 0
        ? `${dir} of ${s.pod}: not isolated`
        : s.allowed
          ? `${dir} of ${s.pod}: allowed by ${s.allowedBy.map((r) => `${r.policy} ${r.direction}[${r.rule}]`).join(', ')}`
          : `${dir} of ${s.pod}: denied (isolated by ${s.isolatedBy.join(', ')}; no rule matches)`;
  return {
    allowed: ok,
    reason:
      [why(egress, 'egress'), why(ingress, 'ingress')].filter(Boolean).join('; ') || 'neither end is a pod',
    ...(egress ? { egress } : {}),
    ...(ingress ? { ingress } : {}),
  };
}

/** Policies that select a pod for a direction. */
export function isolating(world: PolicyWorld, pod: PolicyPod, dir: 'ingress' | 'egress'): NetworkPolicy[] {
  const type = dir === 'ingress' ? 'Ingress' : 'Egress';
  return world.policies.filter(
    (p) =>
      p.namespace === pod.namespace && p.policyTypes.includes(type) && matches(p.podSelector, pod.labels),
  );
}

function side(
  world: PolicyWorld,
  pod: PolicyPod,
  dir: 'ingress' | 'egress',
  peer: Endpoint,
  port: number,
  proto: Protocol,
): SideDecision {
  const pols = isolating(world, pod, dir);
  const allowedBy: RuleRef[] = [];
  // The destination pod names the ports: the selected pod for ingress, the peer for egress.
  const dstPod = dir === 'ingress' ? pod : 'pod' in peer ? peer.pod : undefined;
  for (const p of pols) {
    const rules = dir === 'ingress' ? p.ingress : p.egress;
    rules.forEach((r, i) => {
      if (ruleMatches(world, p, r, peer, port, proto, dstPod))
        allowedBy.push({ policy: policyKey(p), direction: dir, rule: i });
    });
  }
  return {
    pod: podKey(pod),
    isolatedBy: pols.map(policyKey),
    allowedBy,
    allowed: pols.length === 0 || allowedBy.length > 0,
  };
}

function ruleMatches(
  world: PolicyWorld,
  p: NetworkPolicy,
  r: PolicyRule,
  peer: Endpoint,
  port: number,
  proto: Protocol,
  dstPod: PolicyPod | undefined,
): boolean {
  const peerOk = r.peers === undefined || r.peers.some((x) => peerMatches(world, p, x, peer));
  const portOk = r.ports === undefined || r.ports.some((x) => portMatches(x, port, proto, dstPod));
  return peerOk && portOk;
}

/** Whether an endpoint is one of a peer's. */
export function peerMatches(world: PolicyWorld, p: NetworkPolicy, peer: Peer, e: Endpoint): boolean {
  if (peer.kind === 'ipBlock') {
    const ip = ipOf(e);
    return peer.ipBlock.cidr.contains(ip) && !peer.ipBlock.except.some((x) => x.contains(ip));
  }
  if (!('pod' in e)) return false;
  const pod = e.pod;
  const nsOk = peer.namespaceSelector
    ? matches(peer.namespaceSelector, namespaceLabels(world, pod.namespace))
    : pod.namespace === p.namespace;
  return nsOk && (peer.podSelector ? matches(peer.podSelector, pod.labels) : true);
}

export function namespaceLabels(world: PolicyWorld, ns: string): Readonly<Record<string, string>> {
  return world.namespaces.find((n) => n.name === ns)?.labels ?? { 'kubernetes.io/metadata.name': ns };
}

/** Whether a port entry covers port/proto; a named port resolves against the destination pod's containers. */
export function portMatches(
  x: PolicyPort,
  port: number,
  proto: Protocol,
  dstPod: PolicyPod | undefined,
): boolean {
  if (x.protocol !== proto) return false;
  if (x.port === undefined) return true;
  if (typeof x.port === 'number') return port >= x.port && port <= (x.endPort ?? x.port);
  const resolved = dstPod ? namedPort(dstPod, x.port, proto) : undefined;
  return resolved === port;
}

/** A pod's container port by name and protocol. */
export function namedPort(pod: PolicyPod, name: string, proto: Protocol): number | undefined {
  return pod.ports.find((c) => c.name === name && c.protocol === proto)?.containerPort;
}
