/**
 * nftables changes as structured data (as knftables' `tx.Add(&Chain{…})`), rendered to `nft -f` text only by
 * src/render/nft.ts: planners, the tracer and NetworkPolicy build and read these objects, never script text.
 */

export type NftFamily = 'ip' | 'ip6' | 'inet';

export interface NftTableRef {
  readonly family: NftFamily;
  readonly table: string;
}

/** A base chain's hook: `type nat hook postrouting priority srcnat; policy accept;`. */
export interface NftHook {
  readonly type: 'nat' | 'filter';
  readonly hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  readonly priority: string;
  readonly policy?: 'accept' | 'drop';
}

export interface NftChain extends NftTableRef {
  readonly chain: string;
  readonly base?: NftHook;
}

export interface NftRule extends NftTableRef {
  readonly chain: string;
  /** The rule's statements in nft syntax (`ip saddr 10.0.0.0/24 masquerade`). */
  readonly expr: string;
  /** What the rule is for; observe matches podnet's rules by it. */
  readonly comment?: string;
}

export interface NftElements extends NftTableRef {
  /** The map or set. */
  readonly set: string;
  /** Keys (and values for a map: `key : value`), in nft syntax. */
  readonly elements: readonly { readonly key: string; readonly value?: string }[];
}

/** A named map or set: `add map ip t m { type K : V; flags …; size …; comment "…"; }`. */
export interface NftSet extends NftTableRef {
  readonly set: string;
  /** Key type, in nft syntax (`ipv4_addr . inet_proto . inet_service`). */
  readonly key: string;
  /** Value type for a map (`mark`, `verdict`, `ipv4_addr . inet_service`); absent for a set. */
  readonly value?: string;
  readonly flags?: readonly string[];
  readonly size?: number;
  readonly comment?: string;
}

/** A named counter object (`add counter inet t deny-x`), which rules increment by name (`counter name deny-x`). */
export interface NftCounter extends NftTableRef {
  readonly counter: string;
}

/**
 * One command of a transaction; a transaction is applied atomically (one `nft -f -`). A `note` is no command:
 * it is printed as a `# …` line, so a dry run or golden file reads as an explanation of what follows.
 */
export type NftCmd =
  | { readonly verb: 'add' | 'flush' | 'delete'; readonly table: NftTableRef }
  | { readonly verb: 'add' | 'flush' | 'delete'; readonly chain: NftChain }
  | { readonly verb: 'add'; readonly rule: NftRule }
  | { readonly verb: 'add' | 'delete'; readonly set: NftSet }
  | { readonly verb: 'add' | 'delete'; readonly counter: NftCounter }
  | { readonly verb: 'add' | 'delete'; readonly elements: NftElements }
  | { readonly verb: 'note'; readonly text: string };

/** The commands that make `table` exactly these chains and rules: create, flush, then declare (knftables' idiom). */
export function nftReplaceTable(
  table: NftTableRef,
  chains: readonly NftChain[],
  rules: readonly NftRule[],
): NftCmd[] {
  return [
    { verb: 'add', table },
    { verb: 'flush', table },
    ...chains.map((chain): NftCmd => ({ verb: 'add', chain })),
    ...rules.map((rule): NftCmd => ({ verb: 'add', rule })),
  ];
}
