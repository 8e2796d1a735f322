import type { RuleCursor } from './cursor.js';
import { ex, nfprotoIpv4, regOf, SELECTORS, type Selector } from './exprs.js';

/** Selectors (`ip daddr`, `meta mark`, `ct state`) loaded into registers, and the set and map lookups on them. */

/** The selector at the cursor (two tokens), undefined when none is. */
export const selectorAt = (c: RuleCursor): Selector | undefined => SELECTORS[`${c.peek()} ${c.peek(1)}`];

/** `a . b . c`: selectors loaded into consecutive words from `word`; returns their data types. */
export function concat(c: RuleCursor, word = 0): string[] {
  const types: string[] = [];
  c.loads = [];
  for (let k = c.i; c.needsNfproto && k < c.tokens.length; k += 3) {
    if (c.tokens[k] === 'ip') {
      c.exprs.push(...nfprotoIpv4());
      c.needsNfproto = false;
    }
    if (c.tokens[k + 2] !== '.') break;
  }
  for (;;) {
    const s = selectorAt(c);
    if (!s) throw c.fail(`'${c.peek()} ${c.peek(1)}' is not an encoded selector`);
    c.skip(2);
    c.loads.push(c.exprs.length);
    c.exprs.push(s.load(regOf(word + types.length)));
    types.push(s.type);
    if (!c.accept('.')) return types;
  }
}

/** `@name`: a named set or map. */
export function setName(c: RuleCursor): string {
  const t = c.next();
  if (!t.startsWith('@')) throw c.fail('expected a set reference');
  return t.slice(1);
}

/** A lookup of register 1 in `set`; with `dreg`, the map's value goes there (0: the verdict register). */
export function lookup(c: RuleCursor, set: string, dreg?: number): void {
  c.exprs.push(
    ex('lookup', (w) => {
      w.u32(2, 1);
      if (dreg !== undefined) w.u32(3, dreg);
      w.str(1, set);
    }),
  );
}

/** `@m` for a map from the loaded `keyTypes` to `want`, checked against what the table declares. */
export function mapOf(c: RuleCursor, keyTypes: string[], want: string): string {
  const set = setName(c);
  const t = c.ctx.setTypes(set);
  if (!t || t.key !== keyTypes.join(' . ') || t.value !== want)
    throw c.fail(`map @${set} is not known as ${keyTypes.join(' . ')} : ${want}`);
  return set;
}

/** `<concatenation> map @m`: the value of map `m` (from the loaded key to `want`) looked up into register 1. */
export function mapValue(c: RuleCursor, want: string): void {
  const key = concat(c);
  c.expect('map');
  lookup(c, mapOf(c, key, want), 1);
}
