import { NetlinkApplier } from '../apply/netlink.js';
import { loadBuiltNative } from '../exec/netlink/native.js';
import { ProcessRunner } from '../exec/process-runner.js';
import { startTimeOf } from '../observe/procs.js';
import type { LabState } from './state.js';

/**
 * The only place the lab makes runners (the boundary to src/exec): every other lab module takes the runner
 * it is given, so what runs the commands is one choice, made here.
 */

/** Reads and short changes of a lab's namespaces: plain processes. */
export function hostRunner(verbose = false): ProcessRunner {
  return new ProcessRunner({ verbose });
}

/**
 * The runner every lab build uses: processes start through the spawner helper, and each daemon's PID and start
 * time go to the lab's journal the moment it exists, so `down` finds it even if this process dies next.
 */
export function journalingRunner(state: LabState, verbose: boolean): ProcessRunner {
  return new ProcessRunner({
    spawner: true,
    // PODNET_SPAWNER_DIRECT=0: every pod process as the dry run prints it (npm run bench -- lab-up compares).
    direct: process.env.PODNET_SPAWNER_DIRECT !== '0',
    verbose,
    onDaemon: (pid, cmd) => {
      const [pod, role] = (cmd.daemon?.tag ?? '?/?').split('/');
      state.recordPid({ pid, start: startTimeOf(pid) ?? '?', pod: pod ?? '?', role: role ?? '?' });
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
  const native = loadBuiltNative();
  return native && new NetlinkApplier(native, runner);
}
