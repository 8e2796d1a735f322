import type { NftCmd } from '../nft.js';
import type { ProxyState } from '../node/model.js';
import type { Netns, Op } from '../ops.js';
import type { ProxyModel } from './model.js';
import { NFT, planNftFull } from './nftables.js';

/** The nftables proxy's repairs beyond element changes: chains and maps re-declared, stale UDP flows flushed. */

/**
 * Re-declares exactly the broken chains (flushed, their rules added again) and the missing maps (with their
 * elements), taken from the full transaction, in one transaction: map declarations, chains, then elements.
 */
export function nftChainRepair(
  node: string,
  netns: Netns,
  want: ProxyModel,
  chains: readonly string[],
  maps: readonly string[],
): Op {
  const full = planNftFull(want);
  const decl = full.filter((c) => 'set' in c && maps.includes(c.set.set));
  const body = chains.flatMap((name): NftCmd[] => {
    const add = full.find((c) => 'chain' in c && c.verb === 'add' && c.chain.chain === name);
    if (!add || !('chain' in add)) return [];
    return [
      add,
      { verb: 'flush', chain: add.chain },
      ...full.filter((c) => 'rule' in c && c.rule.chain === name),
    ];
  });
  const elems = full.filter((c) => 'elements' in c && maps.includes(c.elements.set));
  const what = [...chains.map((c) => `chain ${c}`), ...maps.map((m) => `map ${m}`)].join(', ');
  return {
    kind: 'nft.tx',
    netns,
    tx: [...decl, ...body, ...elems],
    note: `${node}: service proxy: re-declare ${what} as the model has it, one atomic transaction`,
  };
}

/**
 * UDP flows to endpoints whose elements a repair deletes: their conntrack entries are flushed, or clients
 * keep sending to the old endpoint (UDP has no connection to reset). Read from the observed elements alone:
 * a ClusterIP is UDP when an observed portal of it is, a NodePort element names its protocol.
 */
export function staleUdpFlows(
  node: string,
  netns: Netns,
  seen: Extract<ProxyState, { kind: 'nftables' }>,
  exp: Extract<ProxyState, { kind: 'nftables' }>,
  gone: readonly { map: string; key: string; value: string }[],
): Op[] {
  const udpIps = new Set(
    Object.keys(seen.maps[NFT.serviceClasses] ?? {})
      .map((k) => k.split(' . '))
      .filter((f) => f[1] === 'udp')
      .map((f) => f[0]!),
  );
  const still = (map: string, prefix: string, ip: string) =>
    Object.entries(exp.maps[map] ?? {}).some(([k, v]) => k.startsWith(prefix) && v.split(' . ')[0] === ip);
  const ops: Op[] = [];
  const seenOp = new Set<string>();
  for (const g of gone) {
    const ip = g.value.split(' . ')[0]!;
    const f = g.key.split(' . ');
    let op: Op | undefined;
    if (g.map === NFT.endpoints && udpIps.has(f[0]!) && !still(g.map, `${f[0]} . `, ip))
      op = {
        kind: 'conntrack.delete',
        netns,
        protocol: 'udp',
        origDst: f[0]!,
        replySrc: ip,
        note: `${node}: forget UDP flows from ${f[0]} to removed endpoint ${ip}, or clients keep sending into the void`,
      };
    else if (g.map === NFT.nodeportEndpoints && f[0] === 'udp' && !still(g.map, `udp . ${f[1]} . `, ip))
      op = {
        kind: 'conntrack.delete',
        netns,
        protocol: 'udp',
        origDstPort: Number(f[1]),
        replySrc: ip,
        note: `${node}: forget UDP flows from node port ${f[1]} to removed endpoint ${ip}`,
      };
    const key = op ? JSON.stringify(op) : '';
    if (op && !seenOp.has(key)) {
      seenOp.add(key);
      ops.push(op);
    }
  }
  return ops;
}
