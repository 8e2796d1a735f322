import type { NftChain, NftCmd, NftTableRef } from '../plan/nft.js';

/** nftables transactions (src/plan/nft.ts) as `nft -f` input, one command per line (pure). */
export function renderNftTx(tx: readonly NftCmd[]): string {
  return `${tx.map(renderNftCmd).join('\n')}\n`;
}

const t = (r: NftTableRef) => `${r.family} ${r.table}`;

function chainSpec(c: NftChain): string {
  if (!c.base) return '';
  const b = c.base;
  return ` { type ${b.type} hook ${b.hook} priority ${b.priority}; policy ${b.policy ?? 'accept'}; }`;
}

export function renderNftCmd(c: NftCmd): string {
  if ('rule' in c) {
    const r = c.rule;
    return `add rule ${t(r)} ${r.chain} ${r.expr}${r.comment !== undefined ? ` comment ${JSON.stringify(r.comment)}` : ''}`;
  }
  if ('chain' in c)
    return `${c.verb} chain ${t(c.chain)} ${c.chain.chain}${c.verb === 'add' ? chainSpec(c.chain) : ''}`;
  if ('elements' in c) {
    const e = c.elements;
    const items = e.elements.map((x) =>
      c.verb === 'add' && x.value !== undefined ? `${x.key} : ${x.value}` : x.key,
    );
    return `${c.verb} element ${t(e)} ${e.set} { ${items.join(', ')} }`;
  }
  return `${c.verb} table ${t(c.table)}`;
}
