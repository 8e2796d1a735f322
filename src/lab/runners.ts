import { loadCachedNative } from '../exec/netlink/build.js';
import { NetfilterSender } from '../exec/netlink/nft-batch.js';
import { ProcessRunner } from '../exec/process-runner.js';
import { startTimeOf } from '../observe/procs.js';
import type { LabState } from './state.js';

/**
 * The only place the lab makes runners (the boundary to src/exec): every other lab module takes the runner
 * it is given, so what runs the commands is one choice, made here.
 */

/**
 * nftables transactions as netlink batches from this process, when the netlink addon is compiled already
 * (the agent and the benches compile it once per version into /var/cache/podnet/native); else `nft -f`.
 * PODNET_NFT_NETLINK=0 turns it off.
 */
let netfilter: NetfilterSender | undefined | null = null;
function labNetfilter(): NetfilterSender | undefined {
  if (netfilter === null) {
    const native = process.env.PODNET_NFT_NETLINK === '0' ? undefined : loadCachedNative();
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
    verbose,
    ...(nf ? { netfilter: nf } : {}),
    onDaemon: (pid, cmd) => {
      const [pod, role] = (cmd.daemon?.tag ?? '?/?').split('/');
      state.recordPid({ pid, start: startTimeOf(pid) ?? '?', pod: pod ?? '?', role: role ?? '?' });
    },
  });
}
