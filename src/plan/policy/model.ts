import { matches } from '../../model/policy/selector.js';
import { type NetworkPolicy, type PolicyRule, policyKey } from '../../model/policy/types.js';
import { namedPort, namespaceLabels, type PolicyPod, type PolicyWorld, peerMatches } from './evaluate.js';
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
  const peerCache = new Map<PolicyRule, Range[]>();
  const index = indexWorld(world);
  const mine = world.pods.filter((p) => p.node === node).sort((a, b) => a.ip.value - b.ip.value);
  for (const pod of mine) {
    for (const dir of ['ingress', 'egress'] as const) {
      const type = dir === 'ingress' ? 'Ingress' : 'Egress';
      // As the evaluator's isolating(), over the pod's namespace's policies only.
      const pols = (index.policies.get(pod.namespace) ?? []).filter(
        (p) => p.policyTypes.includes(type) && matches(p.podSelector, pod.labels),
      );
      if (pols.length === 0) continue;
      const name = chainName(dir, pod);
      (dir === 'ingress' ? ingressPods : egressPods)[pod.ip.toString()] = name;
      const { any, boxes } = allowedBy(world, pod, dir, pols, peerCache, index);
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
  peerCache: Map<PolicyRule, Range[]>,
  index: WorldIndex,
): { any: Range[]; boxes: Box[] } {
  const any: Range[] = [];
  const boxes: Box[] = [];
  for (const p of pols) {
    for (const r of dir === 'ingress' ? p.ingress : p.egress) {
      // A rule's peers are the same for every pod the policy selects: computed once per world.
      let peers = peerCache.get(r);
      if (!peers) {
        peers = peerRanges(index, p, r);
        peerCache.set(r, peers);
      }
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

/** Policies by namespace, pods by namespace, namespace labels, and peer results shared across policies. */
interface WorldIndex {
  readonly world: PolicyWorld;
  readonly policies: Map<string, NetworkPolicy[]>;
  readonly pods: Map<string, PolicyPod[]>;
  readonly nsLabels: Map<string, Readonly<Record<string, string>>>;
  /** `policy namespace | peer` -> the peer's pod addresses (many policies repeat the same selectors). */
  readonly peers: Map<string, Range[]>;
}

function indexWorld(world: PolicyWorld): WorldIndex {
  const policies = new Map<string, NetworkPolicy[]>();
  for (const p of world.policies) policies.set(p.namespace, [...(policies.get(p.namespace) ?? []), p]);
  const pods = new Map<string, PolicyPod[]>();
  for (const q of world.pods) {
    const list = pods.get(q.namespace) ?? [];
    list.push(q);
    pods.set(q.namespace, list);
  }
  const nsLabels = new Map<string, Readonly<Record<string, string>>>();
  for (const ns of pods.keys()) nsLabels.set(ns, namespaceLabels(world, ns));
  return { world, policies, pods, nsLabels, peers: new Map() };
}

/** The address ranges of a rule's peers (every address when it names none), as peerMatches decides them. */
function peerRanges(index: WorldIndex, p: NetworkPolicy, r: PolicyRule): Range[] {
  if (r.peers === undefined) return [ALL];
  const out: Range[] = [];
  for (const peer of r.peers) {
    if (peer.kind === 'ipBlock') {
      out.push(...subtract(cidrRange(peer.ipBlock.cidr), peer.ipBlock.except.map(cidrRange)));
      continue;
    }
    const key = `${p.namespace}|${JSON.stringify(peer)}`;
    let found = index.peers.get(key);
    if (!found) {
      found = [];
      for (const [ns, list] of index.pods) {
        const nsOk = peer.namespaceSelector
          ? matches(peer.namespaceSelector, index.nsLabels.get(ns)!)
          : ns === p.namespace;
        if (!nsOk) continue;
        for (const q of list)
          if (!peer.podSelector || matches(peer.podSelector, q.labels)) found.push([q.ip.value, q.ip.value]);
      }
      index.peers.set(key, found);
    }
    out.push(...found);
  }
  return mergeRanges(out);
}

/** Whether a pod is one of a rule's peers (as the evaluator decides it). */
function peerHas(world: PolicyWorld, p: NetworkPolicy, r: PolicyRule, q: PolicyPod): boolean {
  return r.peers === undefined || r.peers.some((x) => peerMatches(world, p, x, { pod: q }));
}
