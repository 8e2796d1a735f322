import { type NetworkPolicy, type PolicyRule, policyKey } from '../../model/policy/types.js';
import { isolating, namedPort, type PolicyPod, type PolicyWorld, peerMatches } from './evaluate.js';
import {
  type Box,
  boxText,
  cidrRange,
  disjointBoxes,
  mergeRanges,
  type Range,
  rangeText,
  subtract,
} from './intervals.js';

/**
 * One node's NetworkPolicy enforcement as plain data (what src/render/policy-nft.ts turns into nftables): for
 * each of the node's own pods that a policy isolates, per direction, a chain reached through a verdict map
 * keyed by the pod's address, and two sets holding everything the pod's policies allow. A new connection
 * costs one map lookup per direction and at most two set lookups, whatever the number of policies or pods.
 */
export interface PolicyNodeModel {
  readonly node: string;
  /** Own isolated pod address -> the chain deciding its ingress (`ip daddr vmap`). */
  readonly ingressPods: Readonly<Record<string, string>>;
  /** Own isolated pod address -> the chain deciding its egress (`ip saddr vmap`). */
  readonly egressPods: Readonly<Record<string, string>>;
  /** Chain name -> what its last rule counts and logs when nothing allowed the connection. */
  readonly chains: Readonly<Record<string, PolicyChain>>;
  /**
   * Set name -> elements in canonical text, sorted. `<chain>-any`: peer address ranges allowed on every
   * protocol and port; `<chain>-ports`: `address . protocol . port` boxes, disjoint.
   */
  readonly sets: Readonly<Record<string, readonly string[]>>;
  /** Named counters, one per policy and direction that isolates one of the node's pods, sorted. */
  readonly counters: readonly string[];
}

export interface PolicyChain {
  /** `namespace/name` of the pod. */
  readonly pod: string;
  readonly direction: 'ingress' | 'egress';
  /** The counters the deny rule increments: every policy isolating the pod in this direction. */
  readonly counters: readonly string[];
  /** `log prefix` of the deny rule, when one of those policies asks for logging. */
  readonly log?: string;
}

/** The counter that counts a policy's denials in one direction, on each node. */
export const denyCounter = (dir: 'ingress' | 'egress', policy: string): string => `deny-${dir}-${policy}`;

/** The lab name of a pod (see model/policy/cluster-docs.ts podId). */
const idOf = (p: PolicyPod) => (p.namespace === 'default' ? p.name : `${p.namespace}-${p.name}`);
export const chainName = (dir: 'ingress' | 'egress', p: PolicyPod): string => `${dir}-${idOf(p)}`;

const ALL: Range = [0, 0xffffffff];
const ALL_PORTS: Range = [0, 65535];
/** nft's `log prefix` holds at most 127 characters. */
const LOG_PREFIX_MAX = 127;

/** The enforcement model of one node (pure). */
export function buildPolicyModel(world: PolicyWorld, node: string): PolicyNodeModel {
  const ingressPods: Record<string, string> = {};
  const egressPods: Record<string, string> = {};
  const chains: Record<string, PolicyChain> = {};
  const sets: Record<string, string[]> = {};
  const counters = new Set<string>();
  const mine = world.pods.filter((p) => p.node === node).sort((a, b) => a.ip.value - b.ip.value);
  for (const pod of mine) {
    for (const dir of ['ingress', 'egress'] as const) {
      const pols = isolating(world, pod, dir);
      if (pols.length === 0) continue;
      const name = chainName(dir, pod);
      (dir === 'ingress' ? ingressPods : egressPods)[pod.ip.toString()] = name;
      const { any, boxes } = allowedBy(world, pod, dir, pols);
      // A pod can always reach itself (through a ClusterIP, too).
      any.push([pod.ip.value, pod.ip.value]);
      sets[`${name}-any`] = mergeRanges(any).map(rangeText);
      sets[`${name}-ports`] = disjointBoxes(boxes).map(boxText);
      const keys = pols.map(policyKey).sort();
      const cs = keys.map((k) => denyCounter(dir, k));
      for (const c of cs) counters.add(c);
      const logged = pols
        .filter((p) => p.log)
        .map(policyKey)
        .sort();
      let log: string | undefined;
      if (logged.length) {
        const full = `podnet-policy deny ${dir} ${pod.namespace}/${pod.name} by ${logged.join(',')}: `;
        log = full.length <= LOG_PREFIX_MAX ? full : `${full.slice(0, LOG_PREFIX_MAX - 5)}...: `;
      }
      chains[name] = {
        pod: `${pod.namespace}/${pod.name}`,
        direction: dir,
        counters: cs,
        ...(log ? { log } : {}),
      };
    }
  }
  return { node, ingressPods, egressPods, chains, sets, counters: [...counters].sort() };
}

/** Everything the pod's isolating policies allow in one direction: peer ranges on any port, and port boxes. */
function allowedBy(
  world: PolicyWorld,
  pod: PolicyPod,
  dir: 'ingress' | 'egress',
  pols: readonly NetworkPolicy[],
): { any: Range[]; boxes: Box[] } {
  const any: Range[] = [];
  const boxes: Box[] = [];
  for (const p of pols) {
    for (const r of dir === 'ingress' ? p.ingress : p.egress) {
      const peers = peerRanges(world, p, r);
      if (r.ports === undefined) {
        any.push(...peers);
        continue;
      }
      for (const x of r.ports) {
        const proto = x.protocol.toLowerCase();
        if (typeof x.port === 'string') {
          const name = x.port;
          if (dir === 'ingress') {
            // Resolved against this pod's own containers.
            const n = namedPort(pod, name, x.protocol);
            if (n !== undefined) for (const ips of peers) boxes.push({ ips, proto, ports: [n, n] });
          } else {
            // Resolved per destination pod: each peer pod's own port of that name.
            for (const q of world.pods) {
              const n = namedPort(q, name, x.protocol);
              if (n === undefined || !peerHas(world, p, r, q)) continue;
              boxes.push({ ips: [q.ip.value, q.ip.value], proto, ports: [n, n] });
            }
          }
          continue;
        }
        const ports: Range = x.port === undefined ? ALL_PORTS : [x.port, x.endPort ?? x.port];
        for (const ips of peers) boxes.push({ ips, proto, ports });
      }
    }
  }
  return { any, boxes };
}

/** The address ranges of a rule's peers (every address when it names none). */
function peerRanges(world: PolicyWorld, p: NetworkPolicy, r: PolicyRule): Range[] {
  if (r.peers === undefined) return [ALL];
  const out: Range[] = [];
  for (const peer of r.peers) {
    if (peer.kind === 'ipBlock')
      out.push(...subtract(cidrRange(peer.ipBlock.cidr), peer.ipBlock.except.map(cidrRange)));
    else
      for (const q of world.pods)
        if (peerMatches(world, p, peer, { pod: q })) out.push([q.ip.value, q.ip.value]);
  }
  return mergeRanges(out);
}

/** Whether a pod is one of a rule's peers (as the evaluator decides it). */
function peerHas(world: PolicyWorld, p: NetworkPolicy, r: PolicyRule, q: PolicyPod): boolean {
  return r.peers === undefined || r.peers.some((x) => peerMatches(world, p, x, { pod: q }));
}
