import { PlanError } from '../../errors.js';
import type { ProxyEndpoint, ProxyModel, ProxyServicePort } from './model.js';

/**
 * podnet's nftables service proxy: a FLAT layout, one table owned end to end.
 *
 * kube-proxy's nftables layout gives every service its own chain with an anonymous `numgen … vmap`, and every
 * endpoint its own chain. At 10,000 services that costs 74 s to load here and ~260 ms per change, because each
 * anonymous set and each jump makes the kernel re-walk the table (docs/services.md). This layout keeps the
 * per-service data in a handful of maps whose elements carry no verdicts, so a change is a few element
 * adds/deletes that the kernel applies without re-validating any chain:
 *
 *   service-classes   ClusterIP . proto . port   -> class mark (endpoint count n, port slot, affinity, scope)
 *   nodeport-classes  proto . nodePort           -> class mark
 *   classes           class mark                 -> goto pick chain        (one element per class in use, not per service)
 *   endpoints         ClusterIP . slot*1024 + index -> endpoint ip . port  (a two-field key: loads 40% faster than
 *                                                   ClusterIP . proto . port . index)
 *   nodeport-endpoints proto . nodePort . index  -> endpoint ip . port
 *   hairpin           ip . ip                    (local endpoints: a pod reaching itself is masqueraded)
 *   affinity          client . ClusterIP . proto . port -> index (dynamic, with timeout)
 *
 * A pick chain exists per class (say "5 endpoints, no affinity"), shared by every service of that class:
 * `meta mark set numgen random mod 5` then `dnat to … . meta mark map @endpoints`. nft 1.0.6 refuses a bare
 * numgen inside a concatenated key, hence the detour through the packet mark.
 */

/** Every name in the table, in one place (kube-proxy style). */
export const NFT = {
  family: 'ip',
  table: 'podnet-services',
  serviceClasses: 'service-classes',
  nodeportClasses: 'nodeport-classes',
  classes: 'classes',
  endpoints: 'endpoints',
  nodeportEndpoints: 'nodeport-endpoints',
  hairpin: 'hairpin',
  affinity: 'affinity',
  services: 'services',
  noEndpoints: 'no-endpoints',
  prerouting: 'prerouting',
  output: 'output',
  postrouting: 'postrouting',
} as const;

const T = `${NFT.family} ${NFT.table}`;

/** Packet-mark bit asking POSTROUTING to masquerade (kube-proxy's 0x4000). */
export const MASQ_BIT = 0x4000;
const TAG = 0x40000000;
/** Endpoint index space of one port slot: at most 1023 endpoints per service port, 16 ports per ClusterIP. */
export const SLOT_SIZE = 1024;
export const MAX_PORT_SLOTS = 16;
/** Pick chains created up front (1..16 endpoints, first port, no affinity). */
const STANDING_CLASSES = 16;

/** How a service port picks an endpoint; every service port of one class shares one pick chain. */
export interface PickClass {
  readonly n: number;
  /** Which port of its ClusterIP (0-15): the endpoint index is slot*1024 + i. */
  readonly slot: number;
  readonly affinity?: number;
  /** NodePort portal (keyed without the address). */
  readonly nodePort: boolean;
  /** NodePort with externalTrafficPolicy: Local: no masquerade. */
  readonly local: boolean;
}

/**
 * The class's mark: a tag bit (so a stray packet mark never selects a class) and 24 bits of a hash of the pick
 * chain's name. A hash, not a counter, so the mark of a class never depends on which other classes exist and a
 * sync never rewrites unrelated services; renderNft* check that the classes in use do not collide.
 */
export function classMark(c: PickClass): number {
  if (c.n === 0) return TAG;
  const name = classChain(c);
  const known = markCache.get(name);
  if (known !== undefined) return known;
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  const mark = (TAG | (h & 0x00ffffff) | 1) >>> 0;
  markCache.set(name, mark);
  return mark;
}
const markCache = new Map<string, number>();

export function classChain(c: PickClass): string {
  if (c.n === 0) return NFT.noEndpoints;
  return `${c.nodePort ? 'np-' : ''}pick-${c.n}${c.slot ? `-p${c.slot}` : ''}${c.affinity ? `-aff${c.affinity}` : ''}${c.nodePort && c.local ? '-local' : ''}`;
}

const hex = (n: number) => `0x${n.toString(16)}`;

function clusterClass(s: ProxyServicePort, slot: number): PickClass {
  return {
    n: s.endpoints.length,
    slot,
    ...(s.affinitySeconds ? { affinity: s.affinitySeconds } : {}),
    nodePort: false,
    local: false,
  };
}

function nodePortClass(s: ProxyServicePort): PickClass {
  return {
    n: s.nodePortEndpoints?.length ?? 0,
    slot: 0,
    ...(s.affinitySeconds ? { affinity: s.affinitySeconds } : {}),
    nodePort: true,
    local: s.nodePortLocal ?? false,
  };
}

/** The index offset of a class: NodePort traffic under Cluster policy carries the masquerade bit in its index. */
const offsetOf = (c: PickClass) => (c.nodePort && !c.local ? MASQ_BIT : 0) + c.slot * SLOT_SIZE;

/** The pick chain of a class: random index (or the client's pinned one), then DNAT through the map. */
function pickChainRules(c: PickClass): string[] {
  const off = offsetOf(c);
  const random = `meta mark set numgen random mod ${c.n}${off ? ` offset ${hex(off)}` : ''}`;
  const key = c.nodePort ? 'meta l4proto . th dport' : 'ip daddr';
  const map = c.nodePort ? NFT.nodeportEndpoints : NFT.endpoints;
  const rules = [random];
  if (c.affinity) {
    const range = c.n === 1 ? String(off) : `${off}-${off + c.n - 1}`;
    rules.push(
      `meta mark set ip saddr . ip daddr . meta l4proto . th dport map @${NFT.affinity}`,
      `meta mark != ${range} ${random}`,
      `update @${NFT.affinity} { ip saddr . ip daddr . meta l4proto . th dport timeout ${c.affinity}s : meta mark }`,
    );
  }
  rules.push(`meta l4proto { tcp, udp } dnat to ${key} . meta mark map @${map}`);
  return rules;
}

/** Element sets of the maps, as text keyed by element key, so two models can be diffed element by element. */
interface Elements {
  readonly serviceClasses: Map<string, string>;
  readonly nodeportClasses: Map<string, string>;
  readonly endpoints: Map<string, string>;
  readonly nodeportEndpoints: Map<string, string>;
  readonly hairpin: Map<string, string>;
  readonly classes: Map<string, PickClass>;
}

const epValue = (e: ProxyEndpoint) => `${e.ip} . ${e.port}`;

/**
 * The table's elements for a model. With `only`, the per-service maps hold just those service ports (what a
 * partial sync needs: building 50,000 endpoint strings to diff one service would dominate the sync), while
 * classes and hairpin, which services share, are always computed over all of them.
 */
function elementsOf(m: ProxyModel, only?: ReadonlySet<string>): Elements {
  const el: Elements = {
    serviceClasses: new Map(),
    nodeportClasses: new Map(),
    endpoints: new Map(),
    nodeportEndpoints: new Map(),
    hairpin: new Map(),
    classes: new Map(),
  };
  const addClass = (c: PickClass) => {
    const mark = hex(classMark(c));
    const seen = el.classes.get(mark);
    if (seen === undefined) el.classes.set(mark, c);
    else if (seen !== c && classChain(seen) !== classChain(c))
      throw new PlanError(
        `pick classes '${classChain(seen)}' and '${classChain(c)}' hash to the same mark ${mark}`,
      );
    return mark;
  };
  // Pick chains for 1-16 endpoints always exist: an endpoint change then never adds or removes a chain (a
  // chain change makes the kernel re-validate the table's jumps), only map elements.
  if (!only)
    for (let n = 1; n <= STANDING_CLASSES; n++) addClass({ n, slot: 0, nodePort: false, local: false });
  // Ports of one service share its ClusterIP and sit next to each other (services are sorted by id), so a
  // port's slot is its place in that run.
  let slot = -1;
  let lastIP = '';
  for (const s of m.services) {
    slot = s.clusterIP === lastIP ? slot + 1 : 0;
    lastIP = s.clusterIP;
    if (only && !only.has(s.id)) continue;
    if (slot >= MAX_PORT_SLOTS)
      throw new PlanError(
        `service port '${s.id}': ClusterIP ${s.clusterIP} has more than ${MAX_PORT_SLOTS} ports`,
      );
    const vip = `${s.clusterIP} . ${s.protocol} . ${s.port}`;
    const c = clusterClass(s, slot);
    const mark = addClass(c);
    for (const e of s.endpoints) if (e.local) el.hairpin.set(`${e.ip} . ${e.ip}`, '');
    for (const e of s.nodePortEndpoints ?? []) if (e.local) el.hairpin.set(`${e.ip} . ${e.ip}`, '');
    const npClass = s.nodePort !== undefined ? nodePortClass(s) : undefined;
    const npMark = npClass ? addClass(npClass) : undefined;
    el.serviceClasses.set(vip, mark);
    s.endpoints.forEach((e, i) => {
      el.endpoints.set(`${s.clusterIP} . ${offsetOf(c) + i}`, epValue(e));
    });
    if (npClass && npMark) {
      const np = `${s.protocol} . ${s.nodePort}`;
      el.nodeportClasses.set(np, npMark);
      for (const [i, e] of (s.nodePortEndpoints ?? []).entries())
        el.nodeportEndpoints.set(`${np} . ${offsetOf(npClass) + i}`, epValue(e));
    }
  }
  return el;
}

const entry = (k: string, v: string) => (v ? `${k} : ${v}` : k);

const sameEndpoints = (x: readonly ProxyEndpoint[] = [], y: readonly ProxyEndpoint[] = []) =>
  x.length === y.length &&
  x.every((e, i) => e.ip === y[i]!.ip && e.port === y[i]!.port && e.local === y[i]!.local);

/** Whether two versions of a service port render to the same elements. */
function sameServicePort(x: ProxyServicePort, y: ProxyServicePort): boolean {
  if (x === y) return true; // a model built from the last one shares its unchanged service ports
  return (
    x.clusterIP === y.clusterIP &&
    x.protocol === y.protocol &&
    x.port === y.port &&
    x.nodePort === y.nodePort &&
    x.nodePortLocal === y.nodePortLocal &&
    x.affinitySeconds === y.affinitySeconds &&
    sameEndpoints(x.endpoints, y.endpoints) &&
    sameEndpoints(x.nodePortEndpoints, y.nodePortEndpoints)
  );
}

/** `add element` / `delete element` commands, chunked so no single netlink message grows too large. */
function elementCommands(verb: 'add' | 'delete', set: string, entries: string[], chunk = 100000): string[] {
  const out: string[] = [];
  for (let i = 0; i < entries.length; i += chunk)
    out.push(`${verb} element ${T} ${set} { ${entries.slice(i, i + chunk).join(', ')} }`);
  return out;
}

function chainCommands(c: PickClass): string[] {
  const name = classChain(c);
  // add + flush: idempotent, so a partial sync may (re)declare a chain without knowing whether it exists.
  return [
    `add chain ${T} ${name}`,
    `flush chain ${T} ${name}`,
    ...pickChainRules(c).map((r) => `add rule ${T} ${name} ${r}`),
  ];
}

/**
 * The whole table, from nothing, as one `nft -f` transaction: create-then-delete makes the delete safe on a
 * node without the table, and the kernel applies everything or nothing.
 */
export function renderNftFull(m: ProxyModel): string {
  const el = elementsOf(m);
  const lines: string[] = [
    `# podnet service proxy for node ${m.node}: ${m.services.length} service port(s), flat layout (docs/services.md)`,
    '# the whole table in one transaction: create (so the delete cannot fail), delete, create afresh',
    `add table ${T}`,
    `delete table ${T}`,
    `add table ${T}`,
    '# maps: per-service data lives in elements, never in chains (a change is an element add/delete)',
    `add map ${T} ${NFT.serviceClasses} { type ipv4_addr . inet_proto . inet_service : mark; comment "ClusterIP portal -> pick class"; }`,
    `add map ${T} ${NFT.nodeportClasses} { type inet_proto . inet_service : mark; comment "NodePort portal -> pick class"; }`,
    `add map ${T} ${NFT.endpoints} { type ipv4_addr . mark : ipv4_addr . inet_service; comment "ClusterIP . slot*1024+index -> endpoint"; }`,
    `add map ${T} ${NFT.nodeportEndpoints} { type inet_proto . inet_service . mark : ipv4_addr . inet_service; comment "NodePort portal . index -> endpoint"; }`,
    `add set ${T} ${NFT.hairpin} { type ipv4_addr . ipv4_addr; comment "local endpoint reaching itself: masquerade"; }`,
    `add map ${T} ${NFT.affinity} { type ipv4_addr . ipv4_addr . inet_proto . inet_service : mark; flags dynamic,timeout; size 65535; comment "sessionAffinity ClientIP: client . portal -> index"; }`,
    `add map ${T} ${NFT.classes} { type mark : verdict; comment "pick class -> its pick chain"; }`,
    '# a portal without endpoints: refuse at once (TCP reset; UDP port unreachable) instead of hanging',
    `add chain ${T} ${NFT.noEndpoints}`,
    // A TCP reset, not ICMP: ICMP errors are rate-limited per destination, so a burst of connects would hang.
    `add rule ${T} ${NFT.noEndpoints} meta l4proto tcp reject with tcp reset comment "service has no endpoints"`,
    `add rule ${T} ${NFT.noEndpoints} reject comment "service has no endpoints"`,
  ];
  lines.push(
    '# pick chains, one per class (endpoint count, port slot, affinity, NodePort scope), shared by all its services:',
    "# a random index (or the client's pinned one), then DNAT through the endpoints map",
  );
  for (const c of el.classes.values()) if (c.n > 0) lines.push(...chainCommands(c));
  lines.push(
    "# dispatch: is the destination a ClusterIP portal, or a NodePort on one of this node's addresses?",
    `add chain ${T} ${NFT.services}`,
    `add rule ${T} ${NFT.services} meta mark set ip daddr . meta l4proto . th dport map @${NFT.serviceClasses} comment "ClusterIP portal?"`,
    `add rule ${T} ${NFT.services} meta mark vmap @${NFT.classes}`,
    `add rule ${T} ${NFT.services} fib daddr type local meta mark set meta l4proto . th dport map @${NFT.nodeportClasses} comment "NodePort portal?"`,
    `add rule ${T} ${NFT.services} meta mark vmap @${NFT.classes}`,
    // dstnat (-100) for prerouting; nft 1.0.6 refuses the name on the output hook, so the number.
    '# hooks: traffic from pods (prerouting) and from the node itself (output); masquerade on the way out',
    `add chain ${T} ${NFT.prerouting} { type nat hook prerouting priority dstnat; policy accept; }`,
    `add rule ${T} ${NFT.prerouting} jump ${NFT.services}`,
    `add chain ${T} ${NFT.output} { type nat hook output priority -100; policy accept; }`,
    `add rule ${T} ${NFT.output} jump ${NFT.services}`,
    `add chain ${T} ${NFT.postrouting} { type nat hook postrouting priority srcnat; policy accept; }`,
    `add rule ${T} ${NFT.postrouting} meta mark & ${hex(MASQ_BIT)} == ${hex(MASQ_BIT)} masquerade fully-random comment "NodePort, Cluster policy"`,
    `add rule ${T} ${NFT.postrouting} ct status dnat ip saddr . ip daddr @${NFT.hairpin} masquerade comment "hairpin"`,
  );
  if (m.egressMasquerade)
    lines.push(
      `add rule ${T} ${NFT.postrouting} ip saddr ${m.clusterCIDR} ip daddr != ${m.clusterCIDR} masquerade fully-random comment "egress: pod traffic leaving the cluster CIDR"`,
    );
  const mapEntries = (map: Map<string, string>) => [...map].map(([k, v]) => entry(k, v));
  lines.push(
    '# the elements: classes first, endpoints, then the portals that lead to them',
    ...elementCommands(
      'add',
      NFT.classes,
      [...el.classes].map(([mark, c]) => `${mark} : goto ${classChain(c)}`),
    ),
    ...elementCommands('add', NFT.endpoints, mapEntries(el.endpoints)),
    ...elementCommands('add', NFT.nodeportEndpoints, mapEntries(el.nodeportEndpoints)),
    ...elementCommands('add', NFT.hairpin, mapEntries(el.hairpin)),
    ...elementCommands('add', NFT.serviceClasses, mapEntries(el.serviceClasses)),
    ...elementCommands('add', NFT.nodeportClasses, mapEntries(el.nodeportClasses)),
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Only what changed between two models, as one transaction of element (and, rarely, pick-chain) adds and
 * deletes. Undefined when the change is not expressible that way (node-wide settings changed): sync in full.
 * Order inside the transaction: new pick chains and classes, endpoint elements, then the portals, so no
 * packet can ever see a portal whose class or endpoints are missing.
 */
export function renderNftDiff(prev: ProxyModel, next: ProxyModel): string | undefined {
  if (
    prev.clusterCIDR !== next.clusterCIDR ||
    prev.egressMasquerade !== next.egressMasquerade ||
    prev.mode !== next.mode
  )
    return undefined;
  // Only service ports that differ are expanded into elements: both lists are sorted by id, so one lockstep
  // walk finds them; every port sharing a ClusterIP with a changed one goes along (its slot may move).
  const A = prev.services;
  const B = next.services;
  const changed = new Set<string>();
  const touched = new Set<string>();
  const mark = (x: ProxyServicePort) => {
    changed.add(x.id);
    touched.add(x.clusterIP);
  };
  for (let i = 0, j = 0; i < A.length || j < B.length; ) {
    const x = A[i];
    const y = B[j];
    if (x && y && x.id === y.id) {
      if (!sameServicePort(x, y)) {
        mark(x);
        mark(y);
      }
      i++;
      j++;
    } else if (x && (!y || x.id < y.id)) {
      mark(x);
      i++;
    } else if (y) {
      mark(y);
      j++;
    }
  }
  if (changed.size === 0) return '';
  for (const x of A) if (touched.has(x.clusterIP)) changed.add(x.id);
  for (const y of B) if (touched.has(y.clusterIP)) changed.add(y.id);
  const a = elementsOf(prev, changed);
  const b = elementsOf(next, changed);
  const lines: string[] = [];
  const standing = (c: PickClass) =>
    c.n <= STANDING_CLASSES && c.slot === 0 && !c.affinity && !c.nodePort && !c.local;
  const newClasses = [...b.classes].filter(([k, c]) => !a.classes.has(k) && !standing(c));
  // Classes a partial sync stops using stay (harmless, a few rules); the next full sync drops them.
  for (const [, c] of newClasses) if (c.n > 0) lines.push(...chainCommands(c));
  lines.push(
    ...elementCommands(
      'add',
      NFT.classes,
      newClasses.map(([mark, c]) => `${mark} : goto ${classChain(c)}`),
    ),
  );
  const removes: string[] = [];
  const adds: string[] = [];
  const portals: string[] = [];
  const portalRemoves: string[] = [];
  const diff = (name: string, x: Map<string, string>, y: Map<string, string>, into = adds, out = removes) => {
    const del = [...x].filter(([k, v]) => !y.has(k) || y.get(k) !== v).map(([k]) => k);
    const add = [...y].filter(([k, v]) => !x.has(k) || x.get(k) !== v).map(([k, v]) => entry(k, v));
    out.push(...elementCommands('delete', name, del));
    into.push(...elementCommands('add', name, add));
  };
  diff(NFT.serviceClasses, a.serviceClasses, b.serviceClasses, portals, portalRemoves);
  diff(NFT.nodeportClasses, a.nodeportClasses, b.nodeportClasses, portals, portalRemoves);
  diff(NFT.endpoints, a.endpoints, b.endpoints);
  diff(NFT.nodeportEndpoints, a.nodeportEndpoints, b.nodeportEndpoints);
  // A hairpin pair leaves only if no other (unchanged) service still has that local endpoint.
  const stillLocal = new Set<string>();
  if ([...a.hairpin.keys()].some((k) => !b.hairpin.has(k)))
    for (const y of B)
      for (const e of [...y.endpoints, ...(y.nodePortEndpoints ?? [])])
        if (e.local) stillLocal.add(`${e.ip} . ${e.ip}`);
  for (const k of stillLocal) if (a.hairpin.has(k)) b.hairpin.set(k, '');
  diff(NFT.hairpin, a.hairpin, b.hairpin);
  // Portals first out, endpoints replaced, portals back in, then classes no longer used go.
  lines.push(...portalRemoves, ...removes, ...adds, ...portals);
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** Removes the table (and so every rule of this proxy) from a node. */
export function renderNftRemove(): string {
  return `add table ${T}\ndelete table ${T}\n`;
}
