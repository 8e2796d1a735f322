import { apply } from '../apply/apply.js';
import type { NetlinkApplier } from '../apply/netlink.js';
import type { NftSession } from '../apply/nft-session.js';
import { BatchSession } from '../exec/batch-session.js';
import type { NetfilterSender } from '../exec/netlink/nft-batch.js';
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
 * nftables transactions go to the kernel as netlink batches from this process when the netlink addon is
 * loaded, else through the long-lived nft session when one is open (no process started either way). With the
 * addon, routes, neighbours and FDB entries (a peer's join) are rtnetlink messages sent from this process too
 * (apply/netlink.ts, the same messages the rendered `ip`/`bridge` lines send); other ops go to the batch processes.
 */
export class Reconciler {
  private lastApplied: NodeModel | undefined;
  private needFull = true;
  private readonly applyRunner: Runner;
  private readonly batches = new Map<string, BatchSession>();

  constructor(
    private readonly runner: Runner,
    /** The session, possibly still opening (its Python start-up is kept off the agent's start-up path). */
    nft?: Promise<NftSession | undefined>,
    /** Keep `ip -batch` and `bridge -batch` processes open (the agent; tests give a recorder). */
    private readonly batchSessions = false,
    /** nftables transactions as netlink batches, in-process (possibly still loading; undefined: none). */
    netfilter?: Promise<NetfilterSender | undefined>,
    /** The in-process rtnetlink applier (possibly still loading; undefined: `ip`/`bridge` for every op). */
    private readonly netlink?: Promise<NetlinkApplier | undefined>,
  ) {
    this.applyRunner = throughSessions(runner, nft, this.batches, netfilter);
  }

  /** Ends the long-lived batch processes. */
  close(): void {
    for (const b of this.batches.values()) b.close();
    void this.netlink?.then((n) => n?.close());
  }

  /** Forces the next sync to read the kernel (resync timer). */
  requestFull(): void {
    this.needFull = true;
  }

  async sync(desired: NodeModel): Promise<SyncResult> {
    // Opened by the first sync (start-up's, after the lease), so that a peer's join never waits for a process.
    if (this.batchSessions)
      for (const tool of ['ip', 'bridge'] as const)
        if (!this.batches.get(tool)?.alive) this.batches.set(tool, new BatchSession(tool));
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
        const inProcess = await this.netlink;
        inProcess?.forgetLinks();
        // Batched: consecutive ip (or bridge) commands the applier does not speak go to one `ip -batch -`, in order.
        await apply([{ title: 'sync', ops }], this.applyRunner, {
          batch: true,
          ...(inProcess ? { inProcess } : {}),
        });
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

/**
 * A runner that sends nftables transactions as one netlink batch when it can (exec/netlink/nft-batch.ts), other
 * `nft -f -` scripts to the nft session (once open; `nft -f -` if it could not open), and `ip -batch -` /
 * `bridge -batch -` to their long-lived processes (a new process if there is none).
 */
function throughSessions(
  runner: Runner,
  nft: Promise<NftSession | undefined> | undefined,
  batches: ReadonlyMap<string, BatchSession>,
  netfilter: Promise<NetfilterSender | undefined> | undefined,
): Runner {
  return {
    async run(cmd: Command): Promise<CommandResult> {
      const sender = cmd.netfilter && netfilter ? await netfilter : undefined;
      if (sender && cmd.netfilter && sender.send(cmd.netfilter))
        return { exitCode: 0, stdout: '', stderr: '' };
      const [a0, a1, a2] = cmd.argv;
      if (cmd.argv.length === 3 && a1 === '-batch' && a2 === '-' && cmd.stdin !== undefined) {
        const b = typeof a0 === 'string' ? batches.get(a0) : undefined;
        if (b?.alive) return b.run(cmd.stdin);
      }
      const session =
        nft && a0 === 'nft' && a1 === '-f' && a2 === '-' && cmd.argv.length === 3 ? await nft : undefined;
      if (session && cmd.stdin !== undefined) {
        await session.apply(cmd.stdin);
        return { exitCode: 0, stdout: '', stderr: '' };
      }
      return runner.run(cmd);
    },
  };
}
