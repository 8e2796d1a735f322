import type { ProxyState } from '../plan/node/model.js';
import { NFT } from '../plan/services/nftables.js';

/** `nft -j list table ip podnet-services` → chains (rule comments) and map elements in canonical text (pure). */
export function parseNftTable(json: string): ProxyState {
  const doc = JSON.parse(json) as { nftables: Record<string, NftObj>[] };
  const chains: Record<string, string[]> = {};
  const maps: Record<string, Record<string, string>> = {};
  for (const o of doc.nftables) {
    if (o.chain) chains[o.chain.name!] ??= [];
    else if (o.rule) {
      const rules = chains[o.rule.chain!] ?? [];
      rules.push(o.rule.comment ?? '');
      chains[o.rule.chain!] = rules;
    } else if (o.map || o.set) {
      const m = (o.map ?? o.set)!;
      if (m.name === NFT.affinity) continue;
      const into: Record<string, string> = {};
      for (const e of m.elem ?? []) {
        if (o.map && Array.isArray(e)) into[atom(e[0])] = atom(e[1]);
        else into[atom(e)] = '';
      }
      maps[m.name!] = into;
    }
  }
  return { kind: 'nftables', chains, maps };
}

interface NftObj {
  name?: string;
  chain?: string;
  comment?: string;
  elem?: unknown[];
}

/** One element key or value as podnet writes it: `a . b . c`, numbers in decimal, `goto CHAIN`. */
function atom(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.concat)) return o.concat.map(atom).join(' . ');
    if (o.elem && typeof o.elem === 'object') return atom((o.elem as { val: unknown }).val);
    for (const verdict of ['goto', 'jump'])
      if (o[verdict]) return `${verdict} ${(o[verdict] as { target: string }).target}`;
  }
  return JSON.stringify(v);
}
