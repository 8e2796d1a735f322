import type { NftCmd, NftElements } from '../nft.js';
import type { ProxyModel } from './model.js';
import { changedPorts, elementsOf } from './nft-elements.js';
import {
  classChain,
  DISPATCH,
  hookChains,
  isStanding,
  MAPS,
  NFT,
  NO_ENDPOINTS,
  type PickClass,
  pickChain,
  pickChainRules,
  TABLE,
} from './nft-layout.js';

export { classChain, classMark, NFT } from './nft-layout.js';

/**
 * The nftables proxy's transactions as structured data (plan/nft.ts), rendered to `nft -f` text only by
 * src/render/nft.ts: the whole table (full sync), only what changed (partial sync), or its removal. The layout
 * itself is described in nft-layout.ts.
 */

const note = (text: string): NftCmd => ({ verb: 'note', text });

type Entries = NftElements['elements'];
const entries = (map: Map<string, string>): Entries =>
  [...map].map(([key, value]) => (value ? { key, value } : { key }));

/** `add element` / `delete element` commands, chunked so no single netlink message grows too large. */
function elementCmds(verb: 'add' | 'delete', set: string, items: Entries, chunk = 100000): NftCmd[] {
  const out: NftCmd[] = [];
  for (let i = 0; i < items.length; i += chunk)
    out.push({ verb, elements: { ...TABLE, set, elements: items.slice(i, i + chunk) } });
  return out;
}

/** A pick chain, added then flushed (idempotent: a partial sync may re-declare one), with its rules. */
function chainCmds(c: PickClass): NftCmd[] {
  const chain = pickChain(c);
  return [
    { verb: 'add', chain },
    { verb: 'flush', chain },
    ...pickChainRules(c).map((rule): NftCmd => ({ verb: 'add', rule })),
  ];
}

const classEntries = (classes: Iterable<[string, PickClass]>): Entries =>
  [...classes].map(([mark, c]) => ({ key: mark, value: `goto ${classChain(c)}` }));

/**
 * The whole table, from nothing, as one transaction: create-then-delete makes the delete safe on a node
 * without the table, and the kernel applies everything or nothing.
 */
export function planNftFull(m: ProxyModel): NftCmd[] {
  const el = elementsOf(m);
  const hooks = hookChains(m.egressMasquerade ? m.clusterCIDR : undefined);
  return [
    note(
      `podnet service proxy for node ${m.node}: ${m.services.length} service port(s), flat layout (docs/services.md)`,
    ),
    note('the whole table in one transaction: create (so the delete cannot fail), delete, create afresh'),
    { verb: 'add', table: TABLE },
    { verb: 'delete', table: TABLE },
    { verb: 'add', table: TABLE },
    note('maps: per-service data lives in elements, never in chains (a change is an element add/delete)'),
    ...MAPS.map((set): NftCmd => ({ verb: 'add', set })),
    note('a portal without endpoints: refuse at once (TCP reset; UDP port unreachable) instead of hanging'),
    { verb: 'add', chain: NO_ENDPOINTS.chain },
    ...NO_ENDPOINTS.rules.map((rule): NftCmd => ({ verb: 'add', rule })),
    note(
      'pick chains, one per class (endpoint count, port slot, affinity, NodePort scope), shared by all its services:',
    ),
    note("a random index (or the client's pinned one), then DNAT through the endpoints map"),
    ...[...el.classes.values()].filter((c) => c.n > 0).flatMap(chainCmds),
    note("dispatch: is the destination a ClusterIP portal, or a NodePort on one of this node's addresses?"),
    { verb: 'add', chain: DISPATCH.chain },
    ...DISPATCH.rules.map((rule): NftCmd => ({ verb: 'add', rule })),
    note(
      'hooks: traffic from pods (prerouting) and from the node itself (output); masquerade on the way out',
    ),
    ...hooks.flatMap((h): NftCmd[] => [
      { verb: 'add', chain: h.chain },
      ...h.rules.map((rule): NftCmd => ({ verb: 'add', rule })),
    ]),
    note('the elements: classes first, endpoints, then the portals that lead to them'),
    ...elementCmds('add', NFT.classes, classEntries(el.classes)),
    ...elementCmds('add', NFT.endpoints, entries(el.endpoints)),
    ...elementCmds('add', NFT.nodeportEndpoints, entries(el.nodeportEndpoints)),
    ...elementCmds('add', NFT.hairpin, entries(el.hairpin)),
    ...elementCmds('add', NFT.serviceClasses, entries(el.serviceClasses)),
    ...elementCmds('add', NFT.nodeportClasses, entries(el.nodeportClasses)),
  ];
}

/**
 * Only what changed between two models, as one transaction of element (and, rarely, pick-chain) adds and
 * deletes; [] when nothing did. Undefined when the change is not expressible that way (node-wide settings
 * changed): sync in full. Order inside the transaction: new pick chains and classes, then portals out,
 * endpoints replaced, portals back in, so no packet can ever see a portal whose class or endpoints are missing.
 */
export function planNftDiff(prev: ProxyModel, next: ProxyModel): NftCmd[] | undefined {
  if (
    prev.clusterCIDR !== next.clusterCIDR ||
    prev.egressMasquerade !== next.egressMasquerade ||
    prev.mode !== next.mode
  )
    return undefined;
  const changed = changedPorts(prev, next);
  if (changed.size === 0) return [];
  const a = elementsOf(prev, changed);
  const b = elementsOf(next, changed);
  // A class the changed ports stop using goes once no port uses it: only then are all ports looked at (rare),
  // so a partial sync leaves the table as a full one would (a restarted agent then finds nothing to do).
  const dropped = [...a.classes].filter(([k, c]) => !b.classes.has(k) && !isStanding(c));
  const inUse = dropped.length ? elementsOf(next).classes : undefined;
  const gone = dropped.filter(([k]) => !inUse?.has(k));
  const newClasses = [...b.classes].filter(([k, c]) => !a.classes.has(k) && !isStanding(c));
  const out: NftCmd[] = [
    ...newClasses.filter(([, c]) => c.n > 0).flatMap(([, c]) => chainCmds(c)),
    ...elementCmds('add', NFT.classes, classEntries(newClasses)),
  ];
  const removes: NftCmd[] = [];
  const adds: NftCmd[] = [];
  const portals: NftCmd[] = [];
  const portalRemoves: NftCmd[] = [];
  const diff = (
    name: string,
    x: Map<string, string>,
    y: Map<string, string>,
    into = adds,
    from = removes,
  ) => {
    const del = [...x].filter(([k, v]) => !y.has(k) || y.get(k) !== v).map(([key]) => ({ key }));
    const add = [...y].filter(([k, v]) => !x.has(k) || x.get(k) !== v);
    from.push(...elementCmds('delete', name, del));
    into.push(...elementCmds('add', name, entries(new Map(add))));
  };
  diff(NFT.serviceClasses, a.serviceClasses, b.serviceClasses, portals, portalRemoves);
  diff(NFT.nodeportClasses, a.nodeportClasses, b.nodeportClasses, portals, portalRemoves);
  diff(NFT.endpoints, a.endpoints, b.endpoints);
  diff(NFT.nodeportEndpoints, a.nodeportEndpoints, b.nodeportEndpoints);
  // A hairpin pair leaves only if no other (unchanged) service still has that local endpoint: only then are
  // all services' endpoints looked at (a local pod going away).
  const stillLocal = new Set<string>();
  if ([...a.hairpin.keys()].some((k) => !b.hairpin.has(k)))
    for (const y of next.services)
      for (const e of [...y.endpoints, ...(y.nodePortEndpoints ?? [])])
        if (e.local) stillLocal.add(`${e.ip} . ${e.ip}`);
  for (const k of stillLocal) if (a.hairpin.has(k)) b.hairpin.set(k, '');
  diff(NFT.hairpin, a.hairpin, b.hairpin);
  out.push(...portalRemoves, ...removes, ...adds, ...portals);
  // Last: no portal leads to these classes any more; a chain must be empty before it is deleted.
  out.push(
    ...elementCmds(
      'delete',
      NFT.classes,
      gone.map(([key]) => ({ key })),
    ),
  );
  for (const [, c] of gone)
    if (c.n > 0) out.push({ verb: 'flush', chain: pickChain(c) }, { verb: 'delete', chain: pickChain(c) });
  return out;
}

/** Removes the table (and so every rule of this proxy) from a node; creating it first makes that safe. */
export function planNftRemove(): NftCmd[] {
  return [
    { verb: 'add', table: TABLE },
    { verb: 'delete', table: TABLE },
  ];
}
