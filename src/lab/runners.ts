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
    verbose,
    onDaemon: (pid, cmd) => {
      const [pod, role] = (cmd.daemon?.tag ?? '?/?').split('/');
      state.recordPid({ pid, start: startTimeOf(pid) ?? '?', pod: pod ?? '?', role: role ?? '?' });
    },
  });
}
