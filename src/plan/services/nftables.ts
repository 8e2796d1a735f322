import type { NftCmd } from '../nft.js';
import type { ProxyModel } from './model.js';
import { chainCmds, classEntries, elementCmds, entries, note } from './nft-cmds.js';
import { rememberUses } from './nft-diff.js';
import { elementsOf } from './nft-elements.js';
import { DISPATCH, hookChains, MAPS, NFT, NO_ENDPOINTS, TABLE } from './nft-layout.js';

export { planNftDiff } from './nft-diff.js';
export { classChain, classMark, NFT } from './nft-layout.js';

/**
 * The nftables proxy's transactions as structured data (plan/nft.ts), rendered to `nft -f` text only by
 * src/render/nft.ts: the whole table (full sync), only what changed (partial sync), or its removal. The layout
 * itself is described in nft-layout.ts.
 */

/**
 * The whole table, from nothing, as one transaction: create-then-delete makes the delete safe on a node
 * without the table, and the kernel applies everything or nothing.
 */
export function planNftFull(m: ProxyModel): NftCmd[] {
  const el = elementsOf(m);
  rememberUses(m, el);
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

/** Removes the table (and so every rule of this proxy) from a node; creating it first makes that safe. */
export function planNftRemove(): NftCmd[] {
  return [
    { verb: 'add', table: TABLE },
    { verb: 'delete', table: TABLE },
  ];
}
