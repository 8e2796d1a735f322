import { apply } from '../../apply/apply.js';
import { ConfigError, StateError } from '../../errors.js';
import { type Allocations, allocationsOf, type Cluster } from '../../model/resolve.js';
import { Ip } from '../../net/ip.js';
import { netnsIdOf, processesInNetns, startTimeOf } from '../../observe/procs.js';
import { nextNodeIp } from '../change-plan.js';
import type { SpecEdit } from '../edits.js';
import { loadLab } from '../load.js';
import { LabNames, reservedNodeName } from '../names.js';
import { journalingRunner } from '../runners.js';
import type { LabState } from '../state.js';
import {
  apiserverCommand,
  controllerManagerCommand,
  type KubeRecord,
  kubectl,
  kubePaths,
} from './kube-control-plane.js';
import { list, nodeObject, podObject, serviceObject } from './kube-objects.js';
import { kubeAgentCommand, reportPodStatus, waitForSlices } from './kube-up.js';
import { cniDel, createPods } from './pods.js';
import { agentHealth, type ClusterRecord, CP_NODE, livePid, requireCluster } from './record.js';
import { buildLan, startDaemon, waitFor, waitForAgents } from './up.js';

/** The control plane record of a lab on the Kubernetes API; undefined for an etcd lab. */
export const readKube = (state: LabState): KubeRecord | undefined => state.readJson<KubeRecord>('kube.json');

type Kc = (args: string[], stdin?: string) => Promise<string>;

function kcOf(
  runner: ReturnType<typeof journalingRunner>,
  state: LabState,
  names: LabNames,
  k: KubeRecord,
): Kc {
  return async (args, stdin) => {
    const r = await runner.run(kubectl(state, names, k, args, stdin));
    if (r.exitCode !== 0) throw new StateError(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  };
}

/**
 * `lab node|pod add|remove` on the Kubernetes API: the lab changes API objects as a kubelet and a user would
 * and the controllers and agents do the rest. A node joins by registering its Node (the controller manager
 * gives it a pod CIDR) and starting its agent; a node leaves by stopping its agent and deleting its Node, which
 * every other agent sees. Pods are Pod objects plus the CNI plugin; their EndpointSlices are the controller's.
 */
export async function kubeClusterChange(
  lab: string,
  edit: SpecEdit,
  verbose = false,
  opts: {
    /** node.add: how long the agent runs before the Node is registered (a bench waits for its start-up). */
    agentHeadStartMs?: number;
    /** node.add: when the Node was registered (ms since the epoch). */
    onRegistered?: (at: number) => void;
  } = {},
): Promise<number> {
  const started = performance.now();
  const { state, names, rec } = requireCluster(lab);
  const k = readKube(state)!;
  const before = loadLab(lab);
  const runner = journalingRunner(state, verbose);
  const kc = kcOf(runner, state, names, k);
  const alloc = (): Allocations => state.allocations ?? { nodes: {}, pods: {} };
  const record = (e: SpecEdit) => {
    const r = state.record!;
    state.writeJson('lab.json', { ...r, edits: [...(r.edits ?? []), e] });
  };
  const saveRec = (nodes: Record<string, string>) =>
    state.writeJson('cluster.json', { ...rec, nodes } satisfies ClusterRecord);
  let line = '';
  try {
    if (edit.op === 'node.add') {
      const name = edit.node.name;
      if (before.cluster.nodes.some((n) => n.name === name) || name === CP_NODE || reservedNodeName(name))
        throw new ConfigError(
          [{ path: 'command line', message: `node name '${name}' is taken` }],
          'command line',
        );
      const ip = edit.node.ip || nextNodeIp(before.cluster).toString();
      if (ip === rec.cpIP)
        throw new ConfigError(
          [{ path: '--ip', message: `'${ip}' is the control plane's address` }],
          'command line',
        );
      const e: SpecEdit = { op: 'node.add', node: { name, ip } };
      const spec = loadLab(lab, [e]).cluster.spec;
      await buildLan(runner, names, spec, [{ name, ip: Ip.parse(ip) }], false);
      const nodes = { ...rec.nodes, [name]: ip };
      saveRec(nodes);
      record(e);
      // As on a machine joining a cluster: the agent (a DaemonSet pod) starts and waits for its Node, the
      // kubelet registers the Node, the controller manager gives it a pod CIDR, the agent takes it at once.
      await startDaemon(runner, kubeAgentCommand(state, names, { ...rec, nodes }, name));
      await sleep(opts.agentHeadStartMs ?? 0);
      const registered = Date.now();
      await kc(['create', '-f', '-'], JSON.stringify(nodeObject(name, ip)));
      opts.onRegistered?.(registered);
      const subnets = await waitForAgents(state, Object.keys(nodes), 0, 180_000);
      state.writeJson('allocations.json', {
        ...alloc(),
        nodes: { ...alloc().nodes, [name]: subnets.get(name)! },
      });
      line = `node ${name} ${ip} joined: Node registered, subnet ${subnets.get(name)} from the controller manager`;
    } else if (edit.op === 'node.remove') {
      const name = edit.name;
      if (!(name in rec.nodes)) throw new StateError(`lab '${lab}' has no node '${name}'`);
      for (const p of before.cluster.pods.filter((x) => x.node === name))
        await removePod(lab, p.name, runner, kc);
      const pid = livePid(state, name, 'agent');
      if (pid !== undefined) process.kill(pid, 'SIGTERM');
      await kc(['delete', 'node', name, '--wait=false']);
      const { [name]: _gone, ...nodes } = rec.nodes;
      saveRec(nodes);
      if (pid !== undefined) for (let i = 0; i < 100 && startTimeOf(pid) !== undefined; i++) await sleep(50);
      killInNetns(names.nodeNs(name));
      await apply([{ title: 'node', ops: [{ kind: 'netns.del', name: names.nodeNs(name) }] }], runner);
      record(edit);
      const { [name]: _n, ...rest } = alloc().nodes;
      state.writeJson('allocations.json', { ...alloc(), nodes: rest });
      await waitForAgents(state, Object.keys(nodes));
      // and until every remaining agent has dropped the deleted Node (its watch saw the delete)
      for (const n of Object.keys(nodes))
        await waitFor(`the agent of ${n} to drop ${name}`, 20000, async () => {
          return agentHealth(state, n)?.peers === Object.keys(nodes).length - 1;
        });
      line = `node ${name} left: Node deleted in the API, every agent removed its entries`;
    } else if (edit.op === 'pod.add') {
      const e = edit;
      const spec = loadLab(lab, [e]).cluster.spec;
      const pod = spec.pods.find((p) => p.name === e.pod.name)!;
      await kc(['create', '-f', '-'], JSON.stringify(podObject(pod)));
      const cluster = await createPods(runner, state, names, spec, new Map(Object.entries(alloc().nodes)), [
        pod,
      ]);
      const ip = cluster.pods.find((p) => p.name === pod.name)!.ip.toString();
      record({ op: 'pod.add', pod: { ...e.pod, ip } });
      state.writeJson('allocations.json', { ...alloc(), pods: { ...alloc().pods, [pod.name]: ip } });
      await reportPodStatus(kc, cluster, [pod.name]);
      await waitForSlices(kc, state, loadLab(lab).cluster);
      line = `pod ${pod.name} ${ip} on ${pod.node}: Pod object, CNI ADD, status Ready; slices by the controller`;
    } else {
      await removePod(lab, edit.name, runner, kc);
      line = `pod ${edit.name} removed: CNI DEL, Pod deleted; slices by the controller`;
    }
  } finally {
    runner.close();
  }
  console.log(`lab ${lab}: ${line} in ${Math.round(performance.now() - started)} ms`);
  return 0;
}

async function removePod(lab: string, pod: string, runner: ReturnType<typeof journalingRunner>, kc: Kc) {
  const { state, names } = requireCluster(lab);
  const p = loadLab(lab).cluster.pods.find((x) => x.name === pod);
  if (!p) throw new StateError(`lab '${lab}' has no pod '${pod}'`);
  await kc(['delete', 'pod', '-n', 'default', pod, '--grace-period=0', '--force', '--ignore-not-found']);
  await cniDel(runner, state, names, p.node, pod);
  for (const r of state.pids())
    if (r.pod === pod && startTimeOf(r.pid) === r.start) {
      try {
        process.kill(r.pid, 'SIGKILL');
      } catch {}
    }
  killInNetns(names.podNs(pod));
  await apply([{ title: 'pod', ops: [{ kind: 'netns.del', name: names.podNs(pod) }] }], runner);
  const r = state.record!;
  state.writeJson('lab.json', { ...r, edits: [...(r.edits ?? []), { op: 'pod.remove', name: pod }] });
  const { [pod]: _gone, ...pods } = state.allocations?.pods ?? {};
  state.writeJson('allocations.json', { ...state.allocations, pods });
  await waitForSlices(kc, state, loadLab(lab).cluster);
}

/**
 * `lab service add|remove` on the Kubernetes API: Services as API objects (created with the lab's ClusterIP,
 * deleted when the lab no longer has them; `default/kubernetes` is the API server's own), then waits for the
 * controller's slices and every agent's sync.
 */
export async function syncKubeServices(
  cluster: Cluster,
  state: LabState,
  opts: { verbose?: boolean } = {},
): Promise<{ ops: []; ms: number }> {
  const started = performance.now();
  const k = readKube(state)!;
  const names = new LabNames(state.record!.name);
  const runner = journalingRunner(state, opts.verbose ?? false);
  const kc = kcOf(runner, state, names, k);
  try {
    const got = JSON.parse(await kc(['get', 'services', '-A', '-o', 'json'])) as {
      items: { metadata: { namespace: string; name: string } }[];
    };
    const have = new Set(got.items.map((s) => `${s.metadata.namespace}/${s.metadata.name}`));
    const want = new Set(cluster.services.map((s) => `${s.namespace}/${s.name}`));
    const add = cluster.services.filter((s) => !have.has(`${s.namespace}/${s.name}`));
    if (add.length) await kc(['create', '-f', '-'], JSON.stringify(list(add.map(serviceObject))));
    for (const key of have)
      if (!want.has(key) && key !== 'default/kubernetes') {
        const [ns, name] = key.split('/') as [string, string];
        await kc(['delete', 'service', '-n', ns, name]);
      }
    await waitForSlices(kc, state, cluster);
  } finally {
    runner.close();
  }
  state.writeJson('allocations.json', allocationsOf(cluster));
  return { ops: [], ms: performance.now() - started };
}

function killInNetns(ns: string): void {
  const id = netnsIdOf(ns);
  if (!id) return;
  for (const pid of processesInNetns(new Set([id])))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `lab kubeconfig`: the admin kubeconfig of a lab on the Kubernetes API; a clear error for any other lab. */
export function kubeconfigPath(lab: string): string {
  const { state } = requireCluster(lab);
  if (!readKube(state))
    throw new StateError(
      `lab '${lab}' runs its agents on etcd; start it with 'podnet lab up --agents --datastore kubernetes'`,
    );
  return kubePaths(state).admin;
}

/** `lab apiserver stop`: SIGTERM (SIGKILL after 10 s) to the lab's kube-apiserver; agents keep their data path. */
export async function apiserverStop(lab: string): Promise<number> {
  const { state } = requireCluster(lab);
  const pid = livePid(state, CP_NODE, 'kube-apiserver');
  if (!readKube(state) || pid === undefined)
    throw new StateError(`kube-apiserver of lab '${lab}' is not running`);
  const start = startTimeOf(pid);
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200 && startTimeOf(pid) === start; i++) await sleep(50);
  // It drains open watches first, which can take long: past 10 s, stop it for good.
  if (startTimeOf(pid) === start) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && startTimeOf(pid) === start; i++) await sleep(50);
  return pid;
}

/** `lab apiserver start`: the same kube-apiserver again, on the same etcd (and a fresh controller manager). */
export async function apiserverStart(lab: string): Promise<number> {
  const { state, names, rec } = requireCluster(lab);
  const k = readKube(state);
  if (!k) throw new StateError(`lab '${lab}' has no Kubernetes control plane`);
  if (livePid(state, CP_NODE, 'kube-apiserver') !== undefined)
    throw new StateError(`kube-apiserver of lab '${lab}' is already running`);
  const runner = journalingRunner(state, false);
  try {
    const spec = loadLab(lab).cluster.spec;
    const pid = await startDaemon(runner, apiserverCommand(state, names, spec, k, rec.cpIP));
    const kc = kcOf(runner, state, names, k);
    await waitFor('kube-apiserver /readyz', 60000, async () =>
      (await kc(['get', '--raw', '/readyz'])).includes('ok'),
    );
    // The controller manager's informers back off up to 30 s while the API is gone; a lab restarts it with
    // the API so its endpointslice controller follows pods at once (the agents need no such help).
    const kcm = livePid(state, CP_NODE, 'kube-controller-manager');
    if (kcm !== undefined) {
      const start = startTimeOf(kcm);
      process.kill(kcm, 'SIGKILL');
      for (let i = 0; i < 100 && startTimeOf(kcm) === start; i++) await sleep(50);
      await startDaemon(runner, controllerManagerCommand(state, names, spec, k, rec.cpIP));
    }
    return pid;
  } finally {
    runner.close();
  }
}
