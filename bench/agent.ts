import { fileURLToPath } from 'node:url';
import { storeKeys } from '../src/agent/store/keys.js';
import { LineSession, ProcessRunner } from '../src/exec/process-runner.js';
import { clusterChange } from '../src/lab/cluster/change.js';
import { CP_NODE, ETCD_CLIENT_PORT, etcdPut, livePid, requireCluster } from '../src/lab/cluster/record.js';
import { labUpAgents } from '../src/lab/cluster/up.js';
import { labDown } from '../src/lab/down.js';
import { loadSpec } from '../src/lab/spec-source.js';
import { netnsExec } from '../src/render/netns.js';
import { firstSync, health, logOf, processStartMs, waitSyncAt } from './agent-log.js';
import { type JoinPhases, joinPhases, phasesTable } from './agent-phases.js';
import { printAgent } from './agent-print.js';
import { startUsage, type Usage, usageOver } from './agent-usage.js';
import { fmtMs } from './stats.js';

/**
 * `npm run bench -- agent [--nodes N] [--reps R] [--backend vxlan|host-gw] [--name LAB]`: a cluster-mode lab of N
 * nodes (default 20; named LAB, default bag<pid>), then
 * - join: R times, a node joins (`lab node add`): from its agent's process start to the last other node's
 *   sync that programmed it; then it leaves;
 * - endpoint change: R times, one EndpointSlice written to etcd (by bench/etcd-writer.ts inside the control
 *   plane's namespace, on an open connection): from the put sent to every node's kernel updated (the sync whose
 *   snapshot includes the write, as each agent logs it when the apply returned); then the same through etcdctl,
 *   timed from its process start (the upper bound the bench reported before);
 * - agent CPU and RSS at idle (10 s) and during the endpoint churn, from /proc.
 * No reference runs here: kindnetd polls every 10 s, flannel publishes no figure; the targets are shown.
 */
export async function benchAgent(args: string[]): Promise<void> {
  await runAgentBench(args);
}

/** The etcd bench's figures, for the kubernetes bench's side-by-side table. */
export interface AgentFigures {
  /** agent process start -> last node programmed. */
  readonly join: number[];
  /** lease written -> last node programmed. */
  readonly joinFromLease: number[];
  /** the put sent by a warm client -> every node programmed. */
  readonly endpointSent: number[];
  /** etcdctl start -> every node programmed (an upper bound: includes starting etcdctl). */
  readonly endpointUpper: number[];
  readonly idle: Usage;
  readonly churn: Usage;
}

export async function runAgentBench(args: string[]): Promise<AgentFigures | undefined> {
  const opt = (name: string, dflt: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
  };
  // --datastore kubernetes: this bench, then the same figures on a real API server, side by side.
  if (opt('datastore', 'etcd') === 'kubernetes') {
    await (await import('./agent-kube.js')).benchAgentKube(args, runAgentBench);
    return undefined;
  }
  const nodes = Number(opt('nodes', '20'));
  const reps = Number(opt('reps', '20'));
  const backend = opt('backend', 'vxlan');
  const lab = opt('name', `bag${process.pid % 10000}`);
  const text = clusterText(nodes, backend);
  await labDown(lab);
  const t0 = performance.now();
  try {
    await labUpAgents({
      lab,
      spec: loadSpec(text, 'bench'),
      specText: text,
      source: 'bench',
      leaseTTLSeconds: 30,
    });
    console.log(`agent lab: ${nodes - 1} nodes up in ${fmtMs(performance.now() - t0)} (${backend})`);
    const { state } = requireCluster(lab);
    const others = () => Object.keys(requireCluster(lab).rec.nodes);
    const idle = await usageOver(state, others(), 10_000);
    const { join, fromLease, phases } = await joins(lab, others, reps);
    if (phases.length) console.log(phasesTable(phases));
    const { endpoint, endpointUpper, churn } = await endpointChanges(lab, others, reps);
    const figures = { join, joinFromLease: fromLease, endpointSent: endpoint, endpointUpper, idle, churn };
    printAgent(figures);
    return figures;
  } finally {
    await labDown(lab);
  }
}

/** The lab's cluster: `nodes - 1` nodes, two web pods on n0 and n1, and a Service over them. */
export function clusterText(nodes: number, backend: string): string {
  const lines = ['apiVersion: podnet.dev/v1alpha1', 'kind: Cluster', 'metadata: {name: bench}', 'spec:'];
  lines.push(`  crossNode: ${backend}`, '  nodes:');
  for (let n = 0; n < nodes - 1; n++) lines.push(`    - {name: n${n}, ip: 192.168.64.${10 + n}}`);
  lines.push(
    '  pods:',
    '    - {name: web0, node: n0, labels: {app: web}}',
    '    - {name: web1, node: n1, labels: {app: web}}',
    '  services:',
    '    - metadata: {name: web}',
    '      spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}',
  );
  return `${lines.join('\n')}\n`;
}

export async function quiet<T>(f: () => Promise<T>): Promise<T> {
  const log = console.log;
  console.log = () => {};
  try {
    return await f();
  } finally {
    console.log = log;
  }
}

/** `reps` times a node joins and leaves: from its agent's start (and its lease) to the last other node's sync. */
async function joins(lab: string, others: () => string[], reps: number) {
  const { state } = requireCluster(lab);
  const join: number[] = [];
  const fromLease: number[] = [];
  const phases: JoinPhases[] = [];
  for (let i = 0; i < reps; i++) {
    const node = `j${i}`;
    await quiet(() => clusterChange(lab, { op: 'node.add', node: { name: node, ip: '' } }));
    const started = processStartMs(livePid(state, node, 'agent')!);
    if (!health(state, node).lease.subnet) throw new Error(`${node} joined without a subnet lease`);
    const programmed = others()
      .filter((n) => n !== node)
      .map((n) => firstSync(state, n, started, (l) => l.peers === others().length - 1));
    join.push(Math.max(...programmed) - started);
    const leased = logOf(state, node).find((l) => l.msg === 'subnet lease acquired');
    if (leased) fromLease.push(Math.max(...programmed) - Date.parse(leased.ts));
    const peers = others().filter((n) => n !== node);
    const p = joinPhases(
      started,
      logOf(state, node),
      peers.map((n) => logOf(state, n)),
      others().length - 1,
    );
    if (p) phases.push(p);
    await quiet(() => clusterChange(lab, { op: 'node.remove', name: node }));
  }
  return { join, fromLease, phases };
}

/**
 * `reps` times one EndpointSlice written by bench/etcd-writer.ts in the control plane's namespace (timed from
 * just before its put left), then the same change through etcdctl; each until every node synced it. Also the
 * agents' CPU and RSS over the churn.
 */
async function endpointChanges(lab: string, others: () => string[], reps: number) {
  const { state, names, rec } = requireCluster(lab);
  const endpoint: number[] = [];
  const endpointUpper: number[] = [];
  const runner = new ProcessRunner();
  const writer = new LineSession([
    ...netnsExec(names.nodeNs(CP_NODE)),
    process.execPath,
    fileURLToPath(new URL('./etcd-writer.js', import.meta.url)),
    `http://127.0.0.1:${ETCD_CLIENT_PORT}`,
  ]);
  await writer.readLine();
  const key = storeKeys(rec.prefix).endpointSlice('default', 'web-podnet');
  const allSynced = async (revision: number, since: number) =>
    Math.max(...(await Promise.all(others().map((n) => waitSyncAt(state, n, revision, since)))));
  const churnCpu = startUsage(state, others());
  for (let i = 0; i < reps; i++) {
    // Written by the writer in the control plane's namespace: timed from just before its put left.
    const { revision, sentAt } = JSON.parse(
      await writer.request(JSON.stringify({ key, value: slice(i) })),
    ) as {
      revision: number;
      sentAt: number;
    };
    endpoint.push((await allSynced(revision, sentAt)) - sentAt);
    // The same change through etcdctl (a process started in the control plane's namespace), timed from
    // before it starts: what the earlier figure measured, an upper bound.
    const before = Date.now();
    const rev2 = await etcdPut(runner, names, rec, key, slice(i + 1000));
    endpointUpper.push((await allSynced(rev2, before)) - before);
  }
  writer.close();
  return { endpoint, endpointUpper, churn: churnCpu() };
}

/** The web Service's EndpointSlice, version `n`: 1 to 3 endpoints, their addresses moving with `n`. */
const slice = (n: number) =>
  JSON.stringify({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'web-podnet',
      namespace: 'default',
      labels: { 'kubernetes.io/service-name': 'web' },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    endpoints: Array.from({ length: 1 + (n % 3) }, (_, k) => ({
      addresses: [`10.200.${k}.${100 + (n % 50)}`],
      conditions: { ready: true },
      nodeName: `n${k}`,
      targetRef: { kind: 'Pod', name: `churn-${k}` },
    })),
  });
