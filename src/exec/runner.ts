/**
 * The boundary between podnet and the operating system. Everything that runs a process goes through a Runner;
 * choosing the runner is the whole difference between apply (ProcessRunner), --dry-run (PrintRunner) and a
 * unit test (FakeRunner).
 */

/** A value known only at run time (such as the pause PID), substituted into an argument. */
export interface VarRef {
  readonly var: string;
  readonly before?: string;
  readonly after?: string;
}

export type Arg = string | VarRef;

export interface Command {
  readonly argv: readonly [Arg, ...Arg[]];
  readonly stdin?: string;
  /** The one-line explanation shown above the command in scripts. */
  readonly note?: string;
  /**
   * Long-lived process: started detached, not awaited. `pidVar` names the variable that receives its PID.
   * `log` is the file that receives its output.
   */
  readonly daemon?: {
    readonly pidVar?: string;
    readonly log: string;
    readonly tag?: string;
    /**
     * The daemon creates namespaces (the pod's pause process): the runner returns only once the process has
     * left the runner's own network namespace. Until unshare(2) has run, naming "its" namespace would name
     * ours, and later steps would configure the host instead of the pod.
     */
    readonly newNetns?: boolean;
  };
  /** What a spawner runs instead, with the same kernel effect (DirectForm); printers show `argv`. */
  readonly direct?: DirectForm;
  /** An nftables transaction's netlink form, for a runner that can send it in-process. */
  readonly netfilter?: NetfilterRequest;
}

/**
 * The same nftables transaction as a command's `nft -f` text, as one nfnetlink batch (src/render/nft-netlink/),
 * for runners that speak netlink (src/exec/netlink/nft-batch.ts); the others run the argv.
 */
export interface NetfilterRequest {
  /** The network namespace file the transaction is for; undefined: the runner's own namespace. */
  readonly netnsPath?: string;
  /** The batch (encoded on demand), or undefined when it holds something not encoded yet: run the argv. */
  readonly encode: () => NetfilterBatch | undefined;
  /** The `nft -f` line of the command at `index` of the transaction (for errors). */
  readonly describe: (index: number) => string;
}

export interface NetfilterBatch {
  readonly bytes: Uint8Array;
  readonly firstSeq: number;
  /** The message that asks for the acknowledgement: its answer is the kernel's last for the batch. */
  readonly lastSeq: number;
  /** The command of the transaction each message came from, by `seq - firstSeq` (-1: batch begin/end). */
  readonly cmdOf: Int32Array;
}

/**
 * The same start with fewer processes, for a runner whose spawner takes one step itself (exec/spawner.ts):
 * - `pidNs`: the spawner's thread creates ('new', unshare(CLONE_NEWPID)) or enters (a pid_for_children file) the
 *   PID namespace, then starts `argv`, which needs no --fork/--pid: `unshare --fork --pid` and `nsenter --pid`
 *   otherwise fork and stay as the waiting parent of the real process;
 * - `enter`: the thread also enters the other namespaces of a process, so the program starts in them with no
 *   `nsenter` exec before it;
 * - `hostname`: setns into the UTS namespace file `uts` and sethostname(`name`) on the spawner's thread, no process.
 * The namespaces, mounts, hostname and program are the command's own; only the intermediate process is gone.
 */
export type DirectForm =
  | {
      readonly pidNs: 'new' | Arg;
      /**
       * Namespaces of process `pid` the spawner's thread enters (setns, in this order, after the PID one) before
       * starting argv: what `nsenter --target PID --ipc --uts --net --mount` does before it execs its program.
       */
      readonly enter?: { readonly pid: Arg; readonly ns: readonly ('ipc' | 'uts' | 'net' | 'mnt')[] };
      readonly argv: readonly [Arg, ...Arg[]];
    }
  | { readonly hostname: { readonly uts: Arg; readonly name: string } };

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
  /** For daemons: the PID of the started process. */
  readonly pid?: number;
  /** For daemons, when the runner read it: the process's start time (field 22 of /proc/PID/stat). */
  readonly start?: string;
}

export interface Runner {
  run(cmd: Command): Promise<CommandResult>;
}

export const isVarRef = (a: Arg): a is VarRef => typeof a !== 'string';

/** Replaces variable references with their values; throws when one is unknown. */
export function resolveArgs(argv: readonly Arg[], vars: ReadonlyMap<string, string>): string[] {
  return argv.map((a) => {
    if (!isVarRef(a)) return a;
    const v = vars.get(a.var);
    if (v === undefined) throw new Error(`internal: variable $${a.var} is not set`);
    return `${a.before ?? ''}${v}${a.after ?? ''}`;
  });
}
