import { matches } from '../../model/policy/selector.js';
import { type NetworkPolicy, policyKey } from '../../model/policy/types.js';
import {
  type ChainContext,
  type ChainResult,
  computeChain,
  type Direction,
  inPeer,
  type PeerEntry,
  type PodPeer,
  peerKey,
  podKeyOf,
} from './chain.js';
import { namespaceLabels, type PolicyPod, type PolicyWorld } from './evaluate.js';
import type { PolicyChain, PolicyNodeModel } from './model.js';

/**
 * The incremental NetworkPolicy planner of one node (pure, stateful): `update(world)` returns the node's
 * PolicyNodeModel, recomputing only the chains a change since the last world can affect. Policies are
 * indexed by the pods their podSelector picks (a policy change redoes those pods' chains), peers by the pods
 * and namespaces their selectors match (a relabel redoes only the chains whose peers gained or lost the pod).
 * Unchanged chains keep their element arrays (same references), so planNodeSync and the nft diff skip them.
 */
export class PolicyPlanner {
  private readonly pods = new Map<string, PolicyPod>();
  private readonly podsByNs = new Map<string, Map<string, PolicyPod>>();
  private readonly nsLabels = new Map<string, Readonly<Record<string, string>>>();
  private readonly policies = new Map<string, { p: NetworkPolicy; text: string }>();
  private readonly policiesByNs = new Map<string, NetworkPolicy[]>();
  private readonly peers = new Map<string, PeerEntry>();
  /** Own chains by `<dir> <pod key>`. */
  private readonly chains = new Map<string, ChainResult>();
  private started = false;
  private last: PolicyNodeModel | undefined;
  /** The chains the last update computed (names), for tests and logs. */
  recomputed: string[] = [];

  constructor(readonly node: string) {}

  update(world: PolicyWorld): PolicyNodeModel {
    const todo = new Set<string>(); // own pod keys whose two chains are computed again
    const dirtyPeers = new Set<string>();
    const dirtyPolicies = new Set<string>();
    const first = !this.started;
    this.started = true;
    // Namespaces: a label change moves its pods in or out of namespaceSelector peers.
    const nsNow = new Map<string, Readonly<Record<string, string>>>();
    for (const ns of new Set([...world.namespaces.map((n) => n.name), ...world.pods.map((p) => p.namespace)]))
      nsNow.set(ns, namespaceLabels(world, ns));
    for (const [ns, labels] of nsNow) {
      const old = this.nsLabels.get(ns);
      this.nsLabels.set(ns, labels);
      if (first || (old && sameLabels(old, labels))) continue;
      for (const e of this.peers.values()) {
        const sel = e.peer.namespaceSelector;
        if (sel && (!old || matches(sel, old) !== matches(sel, labels))) {
          for (const q of this.podsByNs.get(ns)?.values() ?? []) this.place(e, q, labels, dirtyPeers);
        }
      }
    }
    // Pods: each changed one re-placed in every peer entry; own ones get their chains redone.
    const seen = new Set<string>();
    for (const q of world.pods) {
      const k = podKeyOf(q);
      seen.add(k);
      const old = this.pods.get(k);
      if (old === q || (old && samePod(old, q))) continue;
      this.setPod(k, q);
      this.podChanged(k, old, q, todo, dirtyPeers);
    }
    for (const [k, old] of seen.size === this.pods.size ? [] : [...this.pods]) {
      if (seen.has(k)) continue;
      this.pods.delete(k);
      this.podsByNs.get(old.namespace)?.delete(k);
      this.podChanged(k, old, undefined, todo, dirtyPeers);
    }
    // Policies: a changed one redoes the chains of the own pods its podSelector picks, before or after.
    const keep = new Set<string>();
    for (const p of world.policies) {
      const k = policyKey(p);
      keep.add(k);
      const old = this.policies.get(k);
      if (old?.p === p) continue;
      const text = JSON.stringify(p);
      if (old?.text === text) {
        this.policies.set(k, { p, text });
        continue;
      }
      this.policies.set(k, { p, text });
      this.policyChanged(k, old?.p, p, todo, dirtyPolicies);
    }
    for (const [k, old] of keep.size === this.policies.size ? [] : [...this.policies])
      if (!keep.has(k)) {
        this.policies.delete(k);
        this.policyChanged(k, old.p, undefined, todo, dirtyPolicies);
      }
    if (dirtyPolicies.size) this.indexPolicies();
    // Chains whose inputs changed.
    if (dirtyPolicies.size || dirtyPeers.size)
      for (const c of this.chains.values())
        if (c.policies.some((k) => dirtyPolicies.has(k)) || [...c.peers].some((k) => dirtyPeers.has(k)))
          todo.add(c.chain.pod);
    if (first) for (const q of world.pods) if (q.node === this.node) todo.add(podKeyOf(q));
    this.recompute(todo);
    if (dirtyPolicies.size) this.prunePeers();
    if (!this.last || todo.size) this.last = this.model();
    return this.last;
  }

  private setPod(k: string, q: PolicyPod): void {
    const old = this.pods.get(k);
    if (old && old.namespace !== q.namespace) this.podsByNs.get(old.namespace)?.delete(k);
    this.pods.set(k, q);
    let m = this.podsByNs.get(q.namespace);
    if (!m) {
      m = new Map();
      this.podsByNs.set(q.namespace, m);
    }
    m.set(k, q);
  }

  private podChanged(
    k: string,
    old: PolicyPod | undefined,
    now: PolicyPod | undefined,
    todo: Set<string>,
    dirtyPeers: Set<string>,
  ): void {
    if (old?.node === this.node || now?.node === this.node) todo.add(k);
    for (const e of this.peers.values()) {
      if (now) this.place(e, now, this.nsLabels.get(now.namespace) ?? {}, dirtyPeers);
      else if (e.members.delete(k)) {
        e.ranges = undefined;
        dirtyPeers.add(e.key);
      }
    }
    // An egress named port reads every pod's ports: '*' chains (see update) are redone on any pod change.
    dirtyPeers.add('*');
  }

  /** Puts a pod in or out of a peer entry; an entry whose members or their addresses change is dirty. */
  private place(e: PeerEntry, q: PolicyPod, nsLabels: Readonly<Record<string, string>>, dirty: Set<string>) {
    const k = podKeyOf(q);
    const was = e.members.get(k);
    if (inPeer(e, q, nsLabels)) {
      e.members.set(k, q);
      if (was && was.ip.value === q.ip.value && JSON.stringify(was.ports) === JSON.stringify(q.ports)) return;
    } else if (!e.members.delete(k)) return;
    e.ranges = undefined;
    dirty.add(e.key);
  }

  private policyChanged(
    k: string,
    old: NetworkPolicy | undefined,
    now: NetworkPolicy | undefined,
    todo: Set<string>,
    dirty: Set<string>,
  ): void {
    dirty.add(k);
    for (const p of [old, now])
      if (p)
        for (const q of this.podsByNs.get(p.namespace)?.values() ?? [])
          if (q.node === this.node && matches(p.podSelector, q.labels)) todo.add(podKeyOf(q));
  }

  private indexPolicies(): void {
    this.policiesByNs.clear();
    for (const { p } of this.policies.values()) {
      const list = this.policiesByNs.get(p.namespace);
      if (list) list.push(p);
      else this.policiesByNs.set(p.namespace, [p]);
    }
  }

  private recompute(todo: ReadonlySet<string>): void {
    const ctx: ChainContext = {
      pods: this.pods,
      policiesByNs: this.policiesByNs,
      peer: (ns, peer) => this.peerEntry(ns, peer),
    };
    this.recomputed = [];
    for (const k of todo) {
      const pod = this.pods.get(k);
      for (const dir of ['ingress', 'egress'] as const) {
        const id = `${dir} ${k}`;
        this.chains.delete(id);
        if (!pod || pod.node !== this.node) continue;
        const c = computeChain(ctx, pod, dir as Direction);
        if (c) this.chains.set(id, c);
        this.recomputed.push(c?.name ?? `(${dir} ${k}: not isolated)`);
      }
    }
  }

  private peerEntry(policyNs: string, peer: PodPeer): PeerEntry {
    const key = peerKey(policyNs, peer);
    let e = this.peers.get(key);
    if (!e) {
      e = { key, policyNs, peer, members: new Map() };
      const sel = peer.namespaceSelector;
      for (const [ns, pods] of this.podsByNs) {
        if (sel ? !matches(sel, this.nsLabels.get(ns) ?? {}) : ns !== policyNs) continue;
        for (const [k, q] of pods)
          if (!peer.podSelector || matches(peer.podSelector, q.labels)) e.members.set(k, q);
      }
      this.peers.set(key, e);
    }
    return e;
  }

  /** Drops the peer entries no chain reads any longer (after policies went or changed). */
  private prunePeers(): void {
    const used = new Set<string>();
    for (const c of this.chains.values()) for (const k of c.peers) used.add(k);
    for (const k of [...this.peers.keys()]) if (!used.has(k)) this.peers.delete(k);
  }

  /** The node model from the chains, in pod address order. */
  private model(): PolicyNodeModel {
    const ingressPods: Record<string, string> = {};
    const egressPods: Record<string, string> = {};
    const chains: Record<string, PolicyChain> = {};
    const sets: Record<string, readonly string[]> = {};
    const counters = new Set<string>();
    const own = [...this.chains.entries()]
      .map(([id, c]) => ({ c, pod: this.pods.get(id.slice(id.indexOf(' ') + 1))! }))
      .sort((a, b) => a.pod.ip.value - b.pod.ip.value || (a.c.chain.direction === 'ingress' ? -1 : 1));
    for (const { c, pod } of own) {
      (c.chain.direction === 'ingress' ? ingressPods : egressPods)[pod.ip.toString()] = c.name;
      chains[c.name] = c.chain;
      sets[`${c.name}-any`] = c.any;
      sets[`${c.name}-ports`] = c.ports;
      for (const x of c.chain.counters) counters.add(x);
    }
    return { node: this.node, ingressPods, egressPods, chains, sets, counters: [...counters].sort() };
  }
}

const sameLabels = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

const samePod = (a: PolicyPod, b: PolicyPod): boolean =>
  a.node === b.node &&
  a.ip.value === b.ip.value &&
  sameLabels(a.labels, b.labels) &&
  JSON.stringify(a.ports) === JSON.stringify(b.ports);
