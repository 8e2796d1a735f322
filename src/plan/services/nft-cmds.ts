import type { NftCmd, NftElements } from '../nft.js';
import { classChain, type PickClass, pickChain, pickChainRules, TABLE } from './nft-layout.js';

/** The command builders the proxy's full and partial transactions share (nftables.ts, nft-diff.ts). */

export const note = (text: string): NftCmd => ({ verb: 'note', text });

export type Entries = NftElements['elements'];
export const entries = (map: Map<string, string>): Entries =>
  [...map].map(([key, value]) => (value ? { key, value } : { key }));

/** `add element` / `delete element` commands, chunked so no single netlink message grows too large. */
export function elementCmds(verb: 'add' | 'delete', set: string, items: Entries, chunk = 100000): NftCmd[] {
  const out: NftCmd[] = [];
  for (let i = 0; i < items.length; i += chunk)
    out.push({ verb, elements: { ...TABLE, set, elements: items.slice(i, i + chunk) } });
  return out;
}

/** A pick chain, added then flushed (idempotent: a partial sync may re-declare one), with its rules. */
export function chainCmds(c: PickClass): NftCmd[] {
  const chain = pickChain(c);
  return [
    { verb: 'add', chain },
    { verb: 'flush', chain },
    ...pickChainRules(c).map((rule): NftCmd => ({ verb: 'add', rule })),
  ];
}

export const classEntries = (classes: Iterable<[string, PickClass]>): Entries =>
  [...classes].map(([mark, c]) => ({ key: mark, value: `goto ${classChain(c)}` }));
