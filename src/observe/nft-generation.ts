import type { Command, CommandResult, Runner } from '../exec/runner.js';
import type { NodeModel, NodeState } from '../plan/node/model.js';
import type { Netns } from '../plan/ops.js';

/**
 * When observe may skip re-reading podnet's nftables tables, and still read the kernel honestly.
 *
 * The kernel counts committed nftables transactions per network namespace (the generation id, read in
 * microseconds: src/exec/netlink/nft-gen.ts); every commit bumps it, whoever makes it (nft, iptables-nft, a
 * user by hand). podnet remembers, per namespace, the generation at which it knows its tables' content: the one
 * read just before a full read of the tables, carried forward across each of its own transactions (bracketed by
 * two reads: exactly one commit in between, and the one before matches, so no one else committed), and paired
 * with the desired content once a sync pass has converged. A later observe that reads the same generation uses
 * that content instead of `nft -j list` (hundreds of milliseconds at 1,000 services); any other generation,
 * including one bumped by a foreign change, forces the full read. docs/kernel-objects.md has the contract.
 */

/** What observe reads from nftables: the service proxy's table (nftables mode) and the policy table. */
export type NftParts = Pick<NodeState, 'proxy' | 'policy' | 'policyDamaged'>;

interface Known {
  genid: number;
  /** The tables' content at `genid`; absent until a pass settles (only the generation is known then). */
  parts?: NftParts;
}

/** Per-namespace generation bookkeeping; `read` asks the kernel (NftGenReader) for a namespace's generation. */
export class NftGenerations {
  private readonly known = new Map<string, Known>();

  constructor(private readonly read: (ns: Netns) => number) {}

  /** The current generation, and the kept content when it is the one podnet knows. */
  check(ns: Netns): { genid: number; parts?: NftParts } {
    const genid = this.read(ns);
    const k = this.known.get(keyOf(ns));
    return k?.parts && k.genid === genid ? { genid, parts: k.parts } : { genid };
  }

  /** A full read of the tables done after reading `genid`: the generation is known, the content is not kept. */
  observed(ns: Netns, genid: number): void {
    this.known.set(keyOf(ns), { genid });
  }

  /** After a sync pass of `desired` converged: the tables now hold its content, if no one else committed. */
  settle(ns: Netns, desired: NodeModel): void {
    const k = this.known.get(keyOf(ns));
    if (!k || this.read(ns) !== k.genid) {
      this.known.delete(keyOf(ns));
      return;
    }
    k.parts = partsOf(desired);
  }

  /** Forget a namespace (a failed pass: the next observe reads everything). */
  forget(ns: Netns): void {
    this.known.delete(keyOf(ns));
  }

  /**
   * A runner that brackets each command able to commit nftables (nft, iptables) in `ns` with two generation
   * reads, carrying the known generation across podnet's own commit; anything else invalidates it.
   */
  tracking(ns: Netns, inner: Runner): Runner {
    return {
      run: async (cmd: Command): Promise<CommandResult> => {
        if (!mayCommitNft(cmd)) return inner.run(cmd);
        const key = keyOf(ns);
        const g0 = this.read(ns);
        const k = this.known.get(key);
        if (k && k.genid !== g0) this.known.delete(key);
        try {
          return await inner.run(cmd);
        } finally {
          const g1 = this.read(ns);
          const now = this.known.get(key);
          // One commit (ours) or none (an empty transaction); anything more is someone else's.
          if (now && (g1 === g0 || g1 === g0 + 1)) {
            now.genid = g1;
            delete now.parts;
          } else this.known.delete(key);
        }
      },
    };
  }
}

/** The nftables content a converged model leaves: the nftables proxy as its model, the policy table. */
export function partsOf(m: NodeModel): NftParts {
  return {
    ...(m.proxy?.mode === 'nftables' ? { proxy: m.proxy } : {}),
    ...(m.policy ? { policy: m.policy } : {}),
  };
}

const NFT_TOOLS = /^(nft|iptables|ip6tables|iptables-restore|ip6tables-restore|iptables-nft.*)$/;

/** Whether a command may commit an nftables transaction (reads, `nft -j list …`, do not). */
function mayCommitNft(cmd: Command): boolean {
  const a = cmd.argv.filter((x): x is string => typeof x === 'string');
  const tool = a.findIndex((x) => NFT_TOOLS.test(x));
  if (tool < 0) return false;
  return !(a[tool] === 'nft' && a.includes('list'));
}

const keyOf = (ns: Netns) => (ns.kind === 'host' ? 'host' : ns.kind === 'named' ? ns.name : ns.path);
