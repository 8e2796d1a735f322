import { NetlinkApplier } from '../apply/netlink.js';
import { loadCachedNative } from '../exec/netlink/build.js';
import { loadBuiltNative, type NativeKernel } from '../exec/netlink/native.js';
import { NetfilterSender } from '../exec/netlink/nft-batch.js';
import { NftGenReader } from '../exec/netlink/nft-gen.js';
import { ProcessRunner } from '../exec/process-runner.js';
import { listeningTcpPortsIn } from '../observe/listening.js';
import { listeningTcpPorts, startTimeOf } from '../observe/procs.js';
import type { LabState } from './state.js';

/**
 * The only place the lab makes runners (the boundary to src/exec): every other lab module takes the runner
 * it is given, so what runs the commands is one choice, made here.
 */

/** The addon `npm run build` compiled (dist/native), else the one the agent compiled into /var/cache/podnet/native. */
let addon: NativeKernel | undefined | null = null;
function labAddon(): NativeKernel | undefined {
  if (addon === null) addon = loadBuiltNative() ?? loadCachedNative();
  return addon;
}

/**
 * nftables transactions as netlink batches from this process, when the netlink addon is compiled; else `nft -f`.
 * PODNET_NFT_NETLINK=0 turns it off.
 */
let netfilter: NetfilterSender | undefined | null = null;
function labNetfilter(): NetfilterSender | undefined {
  if (netfilter === null) {
    const native = process.env.PODNET_NFT_NETLINK === '0' ? undefined : labAddon();
    netfilter = native?.netfilterSocket ? new NetfilterSender(native) : undefined;
  }
  return netfilter;
}

/** Reads and short changes of a lab's namespaces: plain processes (nftables over netlink when it can). */
export function hostRunner(verbose = false): ProcessRunner {
  const nf = labNetfilter();
  return new ProcessRunner({ verbose, ...(nf ? { netfilter: nf } : {}) });
}

/**
 * The runner every lab build uses: processes start through the spawner helper, and each daemon's PID and start
 * time go to the lab's journal the moment it exists, so `down` finds it even if this process dies next.
 */
export function journalingRunner(state: LabState, verbose: boolean): ProcessRunner {
  const nf = labNetfilter();
  return new ProcessRunner({
    spawner: true,
    // PODNET_SPAWNER_DIRECT=0: every pod process as the dry run prints it (npm run bench -- lab-up compares).
    direct: process.env.PODNET_SPAWNER_DIRECT !== '0',
    verbose,
    ...(nf ? { netfilter: nf } : {}),
    onDaemon: (pid, cmd, start) => {
      const [pod, role] = (cmd.daemon?.tag ?? '?/?').split('/');
      state.recordPid({ pid, start: start ?? startTimeOf(pid) ?? '?', pod: pod ?? '?', role: role ?? '?' });
    },
  });
}

/**
 * The in-process netlink applier for a lab build's per-namespace work (links, addresses, routes, neighbours, FDB,
 * sysctls), with `runner` for anything it does not speak. Undefined when the build has no compiled addon
 * (no C compiler at `npm run build`) or PODNET_LAB_NETLINK=0: then every op runs as its `ip` command.
 */
export function labNetlink(runner: ProcessRunner): NetlinkApplier | undefined {
  if (process.env.PODNET_LAB_NETLINK === '0') return undefined;
  const native = labAddon();
  return native && new NetlinkApplier(native, runner);
}

/**
 * The TCP ports listening in the network namespace of process `pid` (a pod's pause): over sock_diag when the
 * addon is compiled (microseconds), else from /proc/PID/net/tcp (which walks every connection of the host).
 * Empty when the process is gone.
 */
export function listeningPorts(pid: number, want: readonly number[]): Set<number> {
  const native = labAddon();
  if (!native?.diagSocket) return listeningTcpPorts(pid);
  try {
    return listeningTcpPortsIn(native, `/proc/${pid}/ns/net`, want);
  } catch {
    return new Set();
  }
}

/**
 * Reads the nftables generation id of lab namespaces (src/exec/netlink/nft-gen.ts), one socket per namespace
 * kept open until close(); undefined without the netlink addon (then every proxy change is observed whole).
 */
export function labNftGenerations(): { read(ns: string): number; close(): void } | undefined {
  const native = labAddon();
  if (!native?.netfilterSocket) return undefined;
  const open = new Map<string, NftGenReader>();
  return {
    read(ns) {
      let r = open.get(ns);
      if (!r) {
        r = NftGenReader.open(native, `/run/netns/${ns}`);
        open.set(ns, r);
      }
      return r.read();
    },
    close() {
      for (const r of open.values()) r.close();
      open.clear();
    },
  };
}
