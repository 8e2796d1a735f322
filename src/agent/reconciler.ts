import { apply } from '../apply/apply.js';
import type { NftSession } from '../apply/nft-session.js';
import type { Command, CommandResult, Runner } from '../exec/runner.js';
import { observeNode, scopeOf } from '../observe/node.js';
import type { NodeModel, NodeState } from '../plan/node/model.js';
import { planNodeSync } from '../plan/node/sync.js';
import { HOST, type Op } from '../plan/ops.js';

export interface SyncResult {
  /** Ops applied: kernel writes. 0 when the kernel already matched. */
  readonly ops: number;
  /** Whether the kernel was read (full sync) or the last applied model stood for it (incremental). */
  readonly observed: boolean;
  /** One line per op, for the log (`route.replace 10.200.2.0/24`). */
  readonly changes: readonly string[];
}

/**
 * The reconcile core as the agent runs it, on its own node (the host namespace as the agent sees it):
 * desired model -> observe (or the last applied model) -> planNodeSync -> apply. Level-triggered like
 * kube-proxy: after a failure, or when asked (the resync timer, start-up), the next sync reads the kernel.
 * nftables transactions go through the long-lived nft session when one is open (one small transaction per
 * endpoint change, no process started).
 */
export class Reconciler {
  private lastApplied: NodeModel | undefined;
  private needFull = true;
  private readonly applyRunner: Runner;

  constructor(
    private readonly runner: Runner,
    /** The session, possibly still opening (its Python start-up is kept off the agent's start-up path). */
    nft?: Promise<NftSession | undefined>,
  ) {
    this.applyRunner = nft ? nftThroughSession(runner, nft) : runner;
  }

  /** Forces the next sync to read the kernel (resync timer). */
  requestFull(): void {
    this.needFull = true;
  }

  async sync(desired: NodeModel): Promise<SyncResult> {
    const full = this.needFull || this.lastApplied === undefined;
    let observed: NodeState;
    try {
      observed = full ? await observeNode(this.runner, HOST, scopeOf(desired)) : this.lastApplied!;
    } catch (e) {
      this.needFull = true;
      throw new SyncError('observe', e as Error);
    }
    const ops = planNodeSync(observed, desired, { netns: HOST });
    if (ops.length) {
      this.needFull = true; // until the apply is known to have completed
      try {
        // Batched: consecutive ip (or bridge) commands go to one `ip -batch -` process, in order.
        await apply([{ title: 'sync', ops }], this.applyRunner, { batch: true });
      } catch (e) {
        throw new SyncError('apply', e as Error);
      }
    }
    this.lastApplied = desired;
    this.needFull = false;
    return { ops: ops.length, observed: full, changes: ops.map(opLine) };
  }
}

/** A sync failed while reading (`observe`) or changing (`apply`) the kernel. */
export class SyncError extends Error {
  constructor(
    readonly stage: 'observe' | 'apply',
    cause: Error,
  ) {
    super(`${stage} failed: ${cause.message}`, { cause });
  }
}

function opLine(op: Op): string {
  const o = op as Record<string, unknown>;
  const what = o.dst ?? o.name ?? o.key ?? o.mac ?? o.ip ?? o.dev ?? '';
  return `${op.kind} ${String(what)}`.trim();
}

/** A runner that sends `nft -f -` scripts to the session (once open; `nft -f -` if it could not open). */
function nftThroughSession(runner: Runner, nft: Promise<NftSession | undefined>): Runner {
  return {
    async run(cmd: Command): Promise<CommandResult> {
      const [a0, a1, a2] = cmd.argv;
      const session =
        a0 === 'nft' && a1 === '-f' && a2 === '-' && cmd.argv.length === 3 ? await nft : undefined;
      if (session && cmd.stdin !== undefined) {
        await session.apply(cmd.stdin);
        return { exitCode: 0, stdout: '', stderr: '' };
      }
      return runner.run(cmd);
    },
  };
}
