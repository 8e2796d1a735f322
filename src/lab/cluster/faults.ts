import { StateError } from '../../errors.js';
import { ProcessRunner } from '../../exec/process-runner.js';
import { startTimeOf } from '../../observe/procs.js';
import { renderPartitions } from '../../render/lab-faults.js';
import { journalingRunner } from '../runners.js';
import { agentCommand, CP_NODE, etcdCommand, etcdctl, livePid, requireCluster } from './record.js';
import { startDaemon, waitFor, waitForAgents } from './up.js';

/**
 * Faults on demand for a lab in cluster mode, for tests and for people learning what the agent survives:
 * stop (SIGTERM) / kill (SIGKILL) / start a node's agent, stop / start etcd, partition a node from the
 * control plane (its cable to etcd only) and heal it.
 */

async function signalAndWait(pid: number, signal: NodeJS.Signals, what: string): Promise<void> {
  const start = startTimeOf(pid);
  process.kill(pid, signal);
  await waitFor(`${what} (PID ${pid}) to exit`, 10000, async () => startTimeOf(pid) !== start);
}

export async function agentStop(lab: string, node: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<number> {
  const { state, rec } = requireCluster(lab);
  if (!(node in rec.nodes)) throw new StateError(`lab '${lab}' has no node '${node}' with an agent`);
  const pid = livePid(state, node, 'agent');
  if (pid === undefined) throw new StateError(`the agent of ${node} is not running`);
  await signalAndWait(pid, signal, `the agent of ${node}`);
  return pid;
}

/** Starts a node's agent again; resolves once it holds its lease and has synced with every peer. */
export async function agentStart(lab: string, node: string): Promise<number> {
  const { state, names, rec } = requireCluster(lab);
  if (!(node in rec.nodes)) throw new StateError(`lab '${lab}' has no node '${node}' with an agent`);
  if (livePid(state, node, 'agent') !== undefined)
    throw new StateError(`the agent of ${node} is already running`);
  const runner = journalingRunner(state, false);
  try {
    const pid = await startDaemon(runner, agentCommand(state, names, rec, node));
    await waitForAgents(state, [node]);
    return pid;
  } finally {
    runner.close();
  }
}

export async function etcdStop(lab: string): Promise<number> {
  const { state } = requireCluster(lab);
  const pid = livePid(state, CP_NODE, 'etcd');
  if (pid === undefined) throw new StateError(`etcd of lab '${lab}' is not running`);
  await signalAndWait(pid, 'SIGTERM', 'etcd');
  return pid;
}

export async function etcdStart(lab: string): Promise<number> {
  const { state, names, rec } = requireCluster(lab);
  if (livePid(state, CP_NODE, 'etcd') !== undefined)
    throw new StateError(`etcd of lab '${lab}' is already running`);
  const runner = journalingRunner(state, false);
  try {
    const pid = await startDaemon(runner, etcdCommand(state, names, rec));
    await waitFor('etcd to answer', 15000, async () => {
      await etcdctl(runner, names, rec, ['endpoint', 'health']);
      return true;
    });
    return pid;
  } finally {
    runner.close();
  }
}

/** Cuts (or, with `heal`, restores) the node's link to the control plane on the switch; returns who is cut. */
export async function partition(lab: string, node: string, heal: boolean): Promise<string[]> {
  const { state, names, rec } = requireCluster(lab);
  if (!(node in rec.nodes)) throw new StateError(`lab '${lab}' has no node '${node}' with an agent`);
  const before = new Set(state.readJson<string[]>('partitions.json') ?? []);
  if (heal) before.delete(node);
  else before.add(node);
  const cut = [...before].sort();
  const script = renderPartitions(
    names.switchPort(CP_NODE),
    cut.map((n) => names.switchPort(n)),
  );
  await new ProcessRunner().run({
    argv: ['ip', 'netns', 'exec', names.switchNs, 'nft', '-f', '-'],
    stdin: script,
  });
  state.writeJson('partitions.json', cut);
  return cut;
}
