import type { Expr } from './exprs.js';
import { NotEncoded } from './types.js';

/** An anonymous constant set a rule uses (`meta l4proto { tcp, udp }`), created in the same batch. */
export interface AnonSet {
  readonly id: number;
  readonly keyType: number;
  readonly keyLen: number;
  readonly elements: readonly Uint8Array[];
  readonly userdata: Uint8Array;
}

export interface RuleContext {
  /** The key and value types of a named set or map (`ipv4_addr . inet_service`), undefined when unknown. */
  readonly setTypes: (name: string) => { key: string; value?: string; interval?: boolean } | undefined;
  /** The table's family: an `ip …` match in an inet table needs nft's `meta nfproto ipv4` dependency first. */
  readonly family?: 'ip' | 'ip6' | 'inet';
  /** A fresh transaction-local set id. */
  readonly nextSetId: () => number;
}

/** One rule being compiled: its tokens, the position in them, and the expressions and anonymous sets so far. */
export class RuleCursor {
  readonly tokens: string[];
  i = 0;
  readonly exprs: Expr[] = [];
  readonly anon: AnonSet[] = [];
  /** An inet table's rule still owes nft's `meta nfproto ipv4` before its first `ip …` load. */
  needsNfproto: boolean;
  /** Where the last concat() loaded each field (exprs index), for a byte-order fix after it. */
  loads: number[] = [];

  constructor(
    readonly text: string,
    readonly ctx: RuleContext,
  ) {
    this.tokens = text.match(/"[^"]*"|[{},:]|[^\s{},:]+/g) ?? [];
    this.needsNfproto = ctx.family === 'inet';
  }

  peek(k = 0): string | undefined {
    return this.tokens[this.i + k];
  }

  next(): string {
    const t = this.tokens[this.i++];
    if (t === undefined) throw new NotEncoded(`rule '${this.text}' ends early`);
    return t;
  }

  expect(t: string): void {
    if (this.next() !== t) throw this.fail(`expected '${t}'`);
  }

  /** Steps over `n` tokens already looked at with peek(). */
  skip(n = 1): void {
    this.i += n;
  }

  /** Steps over the next token when it is `t`; says whether it was. */
  accept(t: string): boolean {
    if (this.peek() !== t) return false;
    this.i++;
    return true;
  }

  get done(): boolean {
    return this.i >= this.tokens.length;
  }

  /** The error for a part of this rule that is not encoded (the caller throws it). */
  fail(what: string): NotEncoded {
    return new NotEncoded(`rule '${this.text}': ${what}`);
  }
}
