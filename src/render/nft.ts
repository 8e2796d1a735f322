import type { NftChain, NftCmd, NftSet, NftTableRef } from '../plan/nft.js';

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

function setSpec(s: NftSet): string {
  const parts = [
    `type ${s.key}${s.value !== undefined ? ` : ${s.value}` : ''};`,
    ...(s.flags?.length ? [`flags ${s.flags.join(',')};`] : []),
    ...(s.size !== undefined ? [`size ${s.size};`] : []),
    ...(s.comment !== undefined ? [`comment ${JSON.stringify(s.comment)};`] : []),
  ];
  return `{ ${parts.join(' ')} }`;
}

function renderNftCmd(c: NftCmd): string {
  if (c.verb === 'note') return `# ${c.text}`;
  if ('counter' in c) return `${c.verb} counter ${t(c.counter)} ${c.counter.counter}`;
  if ('set' in c && c.verb === 'delete')
    return `delete ${c.set.value !== undefined ? 'map' : 'set'} ${t(c.set)} ${c.set.set}`;
  if ('set' in c)
    return `add ${c.set.value !== undefined ? 'map' : 'set'} ${t(c.set)} ${c.set.set} ${setSpec(c.set)}`;
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
