import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { storeKeys } from '../src/agent/store/keys.js';
import { LineSession, ProcessRunner } from '../src/exec/process-runner.js';
import { clusterChange } from '../src/lab/cluster/change.js';
import {
  agentDirs,
  agentHealth,
  CP_NODE,
  ETCD_CLIENT_PORT,
  etcdPut,
  livePid,
  requireCluster,
} from '../src/lab/cluster/record.js';
import { labUpAgents } from '../src/lab/cluster/up.js';
import { labDown } from '../src/lab/down.js';
import { loadSpec } from '../src/lab/spec-source.js';
import { startTimeOf } from '../src/observe/procs.js';
import { netnsExec } from '../src/render/netns.js';
import { type JoinPhases, joinPhases, type PhaseLogLine, phasesTable } from './agent-phases.js';
import { fmtMs, median, percentile, table } from './stats.js';

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
  const lines = ['apiVersion: podnet.dev/v1alpha1', 'kind: Cluster', 'metadata: {name: bench}', 'spec:'];
  lines.push(`  crossNode: ${backend}`, '  nodes:');
  for (let n = 0; n < nodes - 1; n++) lines.push(`    - {name: n${n}, ip: 192.168.64.${10 + n}}`);
  lines.push(
    '  pods:',
    '    - {name: web0, node: n0, labels: {app: web}}',
    '    - {name: web1, node: n1, labels: {app: web}}',
  );
  lines.push(
    '  services:',
    '    - metadata: {name: web}',
    '      spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}',
  );
  const text = `${lines.join('\n')}\n`;
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
    const { state, names, rec } = requireCluster(lab);
    const others = () => Object.keys(requireCluster(lab).rec.nodes);

    const idle = await usageOver(state, others(), 10_000);

    const join: number[] = [];
    const fromLease: number[] = [];
    const phases: JoinPhases[] = [];
    for (let i = 0; i < reps; i++) {
      const node = `j${i}`;
      await quiet(() => clusterChange(lab, { op: 'node.add', node: { name: node, ip: '' } }));
      const started = processStartMs(livePid(state, node, 'agent')!);
      const subnet = health(state, node).lease.subnet;
      const programmed = others()
        .filter((n) => n !== node)
        .map((n) => firstSyncWith(state, n, (l) => l.peers === others().length - 1, started));
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
      void subnet;
    }

    if (phases.length) console.log(phasesTable(phases));

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
    const churnCpu = startUsage(state, others());
    for (let i = 0; i < reps; i++) {
      // Written by the writer in the control plane's namespace: timed from just before its put left.
      const { revision, sentAt } = JSON.parse(
        await writer.request(JSON.stringify({ key, value: slice(i) })),
      ) as { revision: number; sentAt: number };
      const done = Math.max(
        ...(await Promise.all(others().map((n) => waitSyncAt(state, n, revision, sentAt)))),
      );
      endpoint.push(done - sentAt);
      // The same change through etcdctl (a process started in the control plane's namespace), timed from
      // before it starts: what the earlier figure measured, an upper bound.
      const before = Date.now();
      const rev2 = await etcdPut(runner, names, rec, key, slice(i + 1000));
      const done2 = Math.max(...(await Promise.all(others().map((n) => waitSyncAt(state, n, rev2, before)))));
      endpointUpper.push(done2 - before);
    }
    writer.close();
    const churn = churnCpu();

    console.log(
      table(
        ['measure', 'n', 'p50', 'p99', 'target'],
        [
          [
            'join: agent start -> last node programmed',
            String(join.length),
            fmtMs(median(join)),
            fmtMs(percentile(join, 99)),
            'p50 <= 300 ms, p99 <= 1 s',
          ],
          [
            'endpoint change: put sent -> every node programmed',
            String(endpoint.length),
            fmtMs(median(endpoint)),
            fmtMs(percentile(endpoint, 99)),
            'p99 <= 100 ms',
          ],
          [
            'endpoint change: etcdctl start -> every node programmed',
            String(endpointUpper.length),
            fmtMs(median(endpointUpper)),
            fmtMs(percentile(endpointUpper, 99)),
            '',
          ],
          [
            'join: lease written -> last node programmed',
            String(fromLease.length),
            fmtMs(median(fromLease)),
            fmtMs(percentile(fromLease, 99)),
            '',
          ],
        ],
      ),
    );
    console.log(
      table(
        ['agents', 'CPU (% of a core, mean per agent)', 'RSS median', 'RSS max', 'target'],
        [
          [
            'idle (10 s)',
            idle.cpu.toFixed(2),
            mib(median(idle.rss)),
            mib(Math.max(...idle.rss)),
            '<= 1 %, <= 60 MiB',
          ],
          ['endpoint churn', churn.cpu.toFixed(2), mib(median(churn.rss)), mib(Math.max(...churn.rss)), ''],
        ],
      ),
    );
    return {
      join,
      joinFromLease: fromLease,
      endpointSent: endpoint,
      endpointUpper,
      idle,
      churn,
    };
  } finally {
    await labDown(lab);
  }
}

const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

async function quiet<T>(f: () => Promise<T>): Promise<T> {
  const log = console.log;
  console.log = () => {};
  try {
    return await f();
  } finally {
    console.log = log;
  }
}

interface LogLine extends PhaseLogLine {
  revision?: string;
}
const logOf = (state: ReturnType<typeof requireCluster>['state'], node: string): LogLine[] =>
  readFileSync(agentDirs(state, node).log, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

const health = (state: ReturnType<typeof requireCluster>['state'], node: string) =>
  JSON.parse(readFileSync(agentDirs(state, node).status, 'utf8')) as { lease: { subnet: string } };

/** The end of the first sync after `since` (ms epoch) that satisfies `ok`. */
function firstSyncWith(
  state: ReturnType<typeof requireCluster>['state'],
  node: string,
  ok: (l: LogLine) => boolean,
  since: number,
): number {
  const l = logOf(state, node).find((x) => x.msg === 'sync' && Date.parse(x.ts) >= since && ok(x));
  return l ? Date.parse(l.ts) : Number.POSITIVE_INFINITY;
}

/**
 * The end of `node`'s first sync at `revision` or later. Waits on the small status file (each agent rewrites it
 * after its sync's log line), then reads the log once: polling 20 growing logs would load the very CPUs the
 * agents are being timed on.
 */
async function waitSyncAt(
  state: ReturnType<typeof requireCluster>['state'],
  node: string,
  revision: number,
  since: number,
): Promise<number> {
  for (let i = 0; i < 400; i++) {
    const h = agentHealth(state, node);
    if (h?.lastSync && Number(h.lastSync.revision) >= revision) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return firstSyncWith(state, node, (l) => Number(l.revision) >= revision, since - 1000);
}

/**
 * A process's start as ms since the epoch: /proc/PID/stat's starttime (clock ticks since boot) set against
 * /proc/uptime read now. Not /proc/stat's btime: it is whole seconds, which put a constant error of up to 1 s
 * (274 ms in one run) into every join figure.
 */
function processStartMs(pid: number): number {
  const now = Date.now();
  const uptimeMs = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
  return now - uptimeMs + (Number(startTimeOf(pid)) / 100) * 1000;
}

/** CPU ticks and RSS of every agent. */
function sample(state: ReturnType<typeof requireCluster>['state'], nodes: readonly string[]) {
  return nodes.flatMap((n) => {
    const pid = livePid(state, n, 'agent');
    if (!pid) return [];
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
    return [{ pid, ticks: Number(f[11]) + Number(f[12]), rss }];
  });
}

export interface Usage {
  /** Mean CPU per agent, % of one core. */
  readonly cpu: number;
  readonly rss: number[];
}

/** Opens a window over every agent's CPU and RSS; the returned function closes it. */
function startUsage(
  state: ReturnType<typeof requireCluster>['state'],
  nodes: readonly string[],
): () => Usage {
  const a = sample(state, nodes);
  const t = performance.now();
  return () => {
    const b = sample(state, nodes);
    const secs = (performance.now() - t) / 1000;
    const ticks = b.reduce((s, x) => s + x.ticks - (a.find((y) => y.pid === x.pid)?.ticks ?? x.ticks), 0);
    return { cpu: (ticks / 100 / secs / Math.max(1, b.length)) * 100, rss: b.map((x) => x.rss) };
  };
}

async function usageOver(
  state: ReturnType<typeof requireCluster>['state'],
  nodes: readonly string[],
  ms: number,
) {
  const close = startUsage(state, nodes);
  await new Promise((r) => setTimeout(r, ms));
  return close();
}
