import type { NftChain, NftRule, NftSet, NftTableRef } from '../nft.js';

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
 * numgen inside a concatenated key, hence the detour through the packet mark. This file holds the layout's
 * names and fixed objects; nft-elements.ts the per-service elements; nftables.ts the transactions.
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

/** The table, as every command of the proxy names it. */
export const TABLE: NftTableRef = { family: NFT.family, table: NFT.table };

/** Packet-mark bit asking POSTROUTING to masquerade (kube-proxy's 0x4000). */
export const MASQ_BIT = 0x4000;
const TAG = 0x40000000;
/** Endpoint index space of one port slot: at most 1023 endpoints per service port, 16 ports per ClusterIP. */
export const SLOT_SIZE = 1024;
export const MAX_PORT_SLOTS = 16;
/** Pick classes created up front (0..16 endpoints, first port, no affinity): never added or removed by a change. */
export const STANDING_CLASSES = 16;

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

/** A class whose chain and `classes` element always exist; every 0-endpoint class is the one no-endpoints chain. */
export const isStanding = (c: PickClass) =>
  c.n === 0 || (c.n <= STANDING_CLASSES && c.slot === 0 && !c.affinity && !c.nodePort && !c.local);

/**
 * The class's mark: a tag bit (so a stray packet mark never selects a class) and 24 bits of a hash of the pick
 * chain's name. A hash, not a counter, so the mark of a class never depends on which other classes exist and a
 * sync never rewrites unrelated services; the planners check that the classes in use do not collide.
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

export const hex = (n: number) => `0x${n.toString(16)}`;

/** The index offset of a class: NodePort traffic under Cluster policy carries the masquerade bit in its index. */
export const offsetOf = (c: PickClass) => (c.nodePort && !c.local ? MASQ_BIT : 0) + c.slot * SLOT_SIZE;

const rule = (chain: string, expr: string, comment?: string): NftRule => ({
  ...TABLE,
  chain,
  expr,
  ...(comment !== undefined ? { comment } : {}),
});

/** The pick chain of a class: random index (or the client's pinned one), then DNAT through the map. */
export function pickChainRules(c: PickClass): NftRule[] {
  const name = classChain(c);
  const off = offsetOf(c);
  const random = `meta mark set numgen random mod ${c.n}${off ? ` offset ${hex(off)}` : ''}`;
  const key = c.nodePort ? 'meta l4proto . th dport' : 'ip daddr';
  const map = c.nodePort ? NFT.nodeportEndpoints : NFT.endpoints;
  const rules = [rule(name, random)];
  if (c.affinity) {
    const range = c.n === 1 ? String(off) : `${off}-${off + c.n - 1}`;
    rules.push(
      rule(name, `meta mark set ip saddr . ip daddr . meta l4proto . th dport map @${NFT.affinity}`),
      rule(name, `meta mark != ${range} ${random}`),
      rule(
        name,
        `update @${NFT.affinity} { ip saddr . ip daddr . meta l4proto . th dport timeout ${c.affinity}s : meta mark }`,
      ),
    );
  }
  rules.push(rule(name, `meta l4proto { tcp, udp } dnat to ${key} . meta mark map @${map}`));
  return rules;
}

const set = (name: string, key: string, value: string | undefined, comment: string, more = {}): NftSet => ({
  ...TABLE,
  set: name,
  key,
  ...(value !== undefined ? { value } : {}),
  ...more,
  comment,
});

/** The maps: per-service data lives in elements, never in chains (a change is an element add/delete). */
export const MAPS: readonly NftSet[] = [
  set(NFT.serviceClasses, 'ipv4_addr . inet_proto . inet_service', 'mark', 'ClusterIP portal -> pick class'),
  set(NFT.nodeportClasses, 'inet_proto . inet_service', 'mark', 'NodePort portal -> pick class'),
  set(
    NFT.endpoints,
    'ipv4_addr . mark',
    'ipv4_addr . inet_service',
    'ClusterIP . slot*1024+index -> endpoint',
  ),
  set(
    NFT.nodeportEndpoints,
    'inet_proto . inet_service . mark',
    'ipv4_addr . inet_service',
    'NodePort portal . index -> endpoint',
  ),
  set(NFT.hairpin, 'ipv4_addr . ipv4_addr', undefined, 'local endpoint reaching itself: masquerade'),
  set(
    NFT.affinity,
    'ipv4_addr . ipv4_addr . inet_proto . inet_service',
    'mark',
    'sessionAffinity ClientIP: client . portal -> index',
    { flags: ['dynamic', 'timeout'], size: 65535 },
  ),
  set(NFT.classes, 'mark', 'verdict', 'pick class -> its pick chain'),
];

const chain = (name: string, base?: NftChain['base']): NftChain => ({
  ...TABLE,
  chain: name,
  ...(base ? { base } : {}),
});

/** A portal without endpoints: refused at once (TCP reset; UDP port unreachable) instead of hanging. */
export const NO_ENDPOINTS = {
  chain: chain(NFT.noEndpoints),
  // A TCP reset, not ICMP: ICMP errors are rate-limited per destination, so a burst of connects would hang.
  rules: [
    rule(NFT.noEndpoints, 'meta l4proto tcp reject with tcp reset', 'service has no endpoints'),
    rule(NFT.noEndpoints, 'reject', 'service has no endpoints'),
  ],
};

/** Dispatch: is the destination a ClusterIP portal, or a NodePort on one of this node's addresses? */
export const DISPATCH = {
  chain: chain(NFT.services),
  rules: [
    rule(
      NFT.services,
      `meta mark set ip daddr . meta l4proto . th dport map @${NFT.serviceClasses}`,
      'ClusterIP portal?',
    ),
    rule(NFT.services, `meta mark vmap @${NFT.classes}`),
    rule(
      NFT.services,
      `fib daddr type local meta mark set meta l4proto . th dport map @${NFT.nodeportClasses}`,
      'NodePort portal?',
    ),
    rule(NFT.services, `meta mark vmap @${NFT.classes}`),
  ],
};

/** The hooks: traffic from pods (prerouting) and from the node itself (output); masquerade on the way out. */
export function hookChains(egressCIDR: string | undefined): { chain: NftChain; rules: NftRule[] }[] {
  const egress = egressCIDR
    ? [
        rule(
          NFT.postrouting,
          `ip saddr ${egressCIDR} ip daddr != ${egressCIDR} masquerade fully-random`,
          'egress: pod traffic leaving the cluster CIDR',
        ),
      ]
    : [];
  // dstnat (-100) for prerouting; nft 1.0.6 refuses the name on the output hook, so the number.
  return [
    {
      chain: chain(NFT.prerouting, { type: 'nat', hook: 'prerouting', priority: 'dstnat' }),
      rules: [rule(NFT.prerouting, `jump ${NFT.services}`)],
    },
    {
      chain: chain(NFT.output, { type: 'nat', hook: 'output', priority: '-100' }),
      rules: [rule(NFT.output, `jump ${NFT.services}`)],
    },
    {
      chain: chain(NFT.postrouting, { type: 'nat', hook: 'postrouting', priority: 'srcnat' }),
      rules: [
        rule(
          NFT.postrouting,
          `meta mark & ${hex(MASQ_BIT)} == ${hex(MASQ_BIT)} masquerade fully-random`,
          'NodePort, Cluster policy',
        ),
        rule(NFT.postrouting, `ct status dnat ip saddr . ip daddr @${NFT.hairpin} masquerade`, 'hairpin'),
        ...egress,
      ],
    },
  ];
}

export const pickChain = (c: PickClass): NftChain => chain(classChain(c));
