import { type AnonSet, type RuleContext, RuleCursor } from './cursor.js';
import type { Expr } from './exprs.js';
import { selectorMatch } from './match.js';
import { selectorAt } from './selector.js';
import { statementAt } from './statements.js';

export type { AnonSet, RuleContext } from './cursor.js';
export type { Expr } from './exprs.js';

/**
 * A rule's statements in nft syntax (`meta mark set ip daddr . th dport map @m`) as the kernel expressions nft
 * itself sends for them (what `nft --debug=netlink` prints): payload, meta, ct, fib loads into registers, then
 * cmp, bitwise, range, byteorder, lookup, numgen, dynset, nat, masq, reject, immediate. Only the grammar podnet's
 * tables use; anything else throws NotEncoded and the transaction goes to `nft -f` instead.
 * The parts: cursor.ts (tokens), selector.ts (loads, set and map lookups), match.ts, statements.ts.
 */

/** Compiles one rule; anonymous sets it needs are returned to be created before it. */
export function compileRule(text: string, ctx: RuleContext): { exprs: Expr[]; anon: AnonSet[] } {
  const c = new RuleCursor(text, ctx);
  while (!c.done) {
    const statement = statementAt(c);
    if (statement) statement(c);
    else if (selectorAt(c)) selectorMatch(c);
    else throw c.fail(`statement '${c.peek()}' is not encoded`);
  }
  return { exprs: c.exprs, anon: c.anon };
}
