import { readFileSync } from 'node:fs';
import { ProcessRunner } from '../src/exec/process-runner.js';
import { kubeClusterChange, readKube } from '../src/lab/cluster/kube-change.js';
import { kubectl, kubePaths } from '../src/lab/cluster/kube-control-plane.js';
import { labUpKube } from '../src/lab/cluster/kube-up.js';
import { requireCluster } from '../src/lab/cluster/record.js';
import { labDown } from '../src/lab/down.js';
import { loadSpec } from '../src/lab/spec-source.js';
import { type AgentFigures, clusterText, quiet } from './agent.js';
import { type ClusterState, firstSync, logOf } from './agent-log.js';
import { row } from './agent-print.js';
import { mib, startUsage, type Usage, usageOver } from './agent-usage.js';
import { fmtMs, median, percentile, table } from './stats.js';

/**
 * `npm run bench -- agent --datastore kubernetes [--nodes N] [--reps R]`: the etcd bench (same nodes and
 * reps), then the same figures with the agents on a real kube-apiserver + kube-controller-manager:
 * - join: R times, a node's agent starts and waits, then its Node is registered: from the API server's receipt
 *   of the create (its audit log) to the last other node's sync that programmed it (so it includes the
 *   controller's CIDR assignment); also from the new agent's "subnet lease acquired" to the last node programmed;
 * - endpoint change: R times, pod web1's Ready condition flipped (the kubelet's status PUT): from the API
 *   server's receipt of the PUT (audit log), through the real endpointslice controller, to the last node's sync
 *   that changed its kernel; also from kubectl's start and exit (bounds that do not need the audit log);
 * - agent CPU and RSS at idle (10 s) and during that churn, from /proc.
 */
export async function benchAgentKube(
  args: string[],
  etcd: (args: string[]) => Promise<AgentFigures | undefined>,
): Promise<void> {
  const opt = (name: string, dflt: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
  };
  const nodes = Number(opt('nodes', '10'));
  const reps = Number(opt('reps', '10'));
  const backend = opt('backend', 'vxlan');
  console.log(`== etcd mode (${nodes} nodes, ${reps} reps) ==`);
  const e = await etcd(['--nodes', String(nodes), '--reps', String(reps), '--backend', backend]);
  console.log(`\n== kubernetes mode (${nodes} nodes, ${reps} reps; kube-apiserver v1.20.2) ==`);
  const lab = `bak${process.pid % 10000}`;
  const text = clusterText(nodes, backend);
  await labDown(lab);
  const t0 = performance.now();
  try {
    await labUpKube({
      lab,
      spec: loadSpec(text, 'bench'),
      specText: text,
      source: 'bench',
      leaseTTLSeconds: 30,
    });
    console.log(
      `kubernetes agent lab: ${nodes - 1} nodes up in ${fmtMs(performance.now() - t0)} (${backend})`,
    );
    const { state, names } = requireCluster(lab);
    const k = readKube(state)!;
    const others = () => Object.keys(requireCluster(lab).rec.nodes);
    const idle = await usageOver(state, others(), 10_000);

    const join: number[] = [];
    const fromCidr: number[] = [];
    for (let i = 0; i < reps; i++) {
      const node = `j${i}`;
      let registered = 0;
      await quiet(() =>
        kubeClusterChange(lab, { op: 'node.add', node: { name: node, ip: '' } }, false, {
          agentHeadStartMs: 1500,
          onRegistered: (t) => {
            registered = t;
          },
        }),
      );
      const peers = others().length - 1;
      const programmed = Math.max(
        ...others()
          .filter((n) => n !== node)
          .map((n) => firstSync(state, n, registered, (l) => l.peers === peers)),
      );
      // the API server's own receive time of the Node create (audit log), not the kubectl start
      const received = receivedAt(state, 'create', 'nodes', node, '', registered - 1000) ?? registered;
      join.push(programmed - received);
      const leased = logOf(state, node).find((l) => l.msg === 'subnet lease acquired');
      if (leased) fromCidr.push(programmed - Date.parse(leased.ts));
      await quiet(() => kubeClusterChange(lab, { op: 'node.remove', name: node }));
    }

    const runner = new ProcessRunner();
    const kc = async (a: string[], stdin?: string) =>
      (await runner.run(kubectl(state, names, k, a, stdin))).stdout;
    const pod = JSON.parse(await kc(['get', 'pod', '-n', 'default', 'web1', '-o', 'json'])) as {
      metadata: { resourceVersion?: string };
      status: { conditions: { type: string; status: string }[] };
    };
    delete pod.metadata.resourceVersion; // an unconditional update, as each flip is
    const upper: number[] = [];
    const fromApi: number[] = [];
    const lower: number[] = [];
    const churn = startUsage(state, others());
    for (let i = 0; i < reps; i++) {
      for (const c of pod.status.conditions)
        if (c.type === 'Ready' || c.type === 'ContainersReady') c.status = i % 2 === 0 ? 'False' : 'True';
      const before = Date.now();
      await kc(
        ['replace', '--raw', '/api/v1/namespaces/default/pods/web1/status', '-f', '-'],
        JSON.stringify(pod),
      );
      const after = Date.now();
      const done = Math.max(...(await Promise.all(others().map((n) => waitSync(state, n, before)))));
      upper.push(done - before);
      lower.push(done - after);
      const received = receivedAt(state, 'update', 'pods', 'web1', 'status', before);
      if (received !== undefined) fromApi.push(done - received);
    }
    const used = churn();
    console.log(
      table(
        ['measure (kubernetes)', 'n', 'p50', 'p99', 'target'],
        [
          row('join: Node create received -> last node programmed', join, 'p99 <= 1 s after the CIDR'),
          row('join: pod CIDR seen by the agent -> last node programmed', fromCidr, ''),
          row('endpoint change: status PUT received -> every node programmed', fromApi, 'p99 <= 200 ms'),
          row('endpoint change: kubectl start -> every node programmed', upper, ''),
          row('endpoint change: kubectl exit -> every node programmed', lower, ''),
        ],
      ),
    );
    console.log(
      table(
        ['agents (kubernetes)', 'CPU (% of a core, mean per agent)', 'RSS median', 'RSS max'],
        [
          ['idle (10 s)', idle.cpu.toFixed(2), mib(median(idle.rss)), mib(Math.max(...idle.rss))],
          ['endpoint churn', used.cpu.toFixed(2), mib(median(used.rss)), mib(Math.max(...used.rss))],
        ],
      ),
    );
    if (e)
      console.log(
        `\n== side by side (same run, ${nodes - 1} nodes, ${reps} reps; ratio = kubernetes / etcd) ==\n${sideBySide(e, { join, fromCidr, fromApi, upper, lower, idle, churn: used })}`,
      );
  } finally {
    await labDown(lab);
  }
}

interface KubeFigures {
  readonly join: number[];
  readonly fromCidr: number[];
  readonly fromApi: number[];
  readonly upper: number[];
  readonly lower: number[];
  readonly idle: Usage;
  readonly churn: Usage;
}

/** One table: each measure in the etcd mode and the kubernetes mode, medians, p99s and the ratio of medians. */
function sideBySide(e: AgentFigures, k: KubeFigures): string {
  const ms = (what: string, a: number[], b: number[], target: string) => [
    what,
    a.length ? fmtMs(median(a)) : '-',
    a.length ? fmtMs(percentile(a, 99)) : '-',
    b.length ? fmtMs(median(b)) : '-',
    b.length ? fmtMs(percentile(b, 99)) : '-',
    // a ratio of medians only when both are durations (an "exit" bound can be negative: kubectl exits late)
    a.length && b.length && median(a) > 0 && median(b) > 0 ? `${(median(b) / median(a)).toFixed(2)}x` : '-',
    target,
  ];
  const use = (what: string, a: number, b: number, fmt: (x: number) => string) => [
    what,
    fmt(a),
    '',
    fmt(b),
    '',
    `${(b / a).toFixed(2)}x`,
    '',
  ];
  return table(
    ['measure (etcd | kubernetes)', 'etcd p50', 'etcd p99', 'kube p50', 'kube p99', 'ratio p50', 'target'],
    [
      ms('join: agent start | Node create received -> last node programmed', e.join, k.join, 'p99 <= 1 s'),
      ms('join: lease written | pod CIDR seen -> last node programmed', e.joinFromLease, k.fromCidr, ''),
      ms('endpoint: etcdctl | kubectl start -> every node programmed', e.endpointUpper, k.upper, ''),
      ms('endpoint: (no exit bound) | kubectl exit -> every node programmed', [], k.lower, ''),
      ms(
        'endpoint: put sent | status PUT received -> every node',
        e.endpointSent,
        k.fromApi,
        'p99 <= 200 ms',
      ),
      use('agent CPU idle, % of a core per agent', e.idle.cpu, k.idle.cpu, (x) => x.toFixed(2)),
      use('agent CPU under endpoint churn', e.churn.cpu, k.churn.cpu, (x) => x.toFixed(2)),
      use('agent RSS median (idle)', median(e.idle.rss), median(k.idle.rss), mib),
    ],
  );
}

/** The first sync after `since` that wrote the kernel (a Ready flip always changes the endpoint set). */
async function waitSync(state: ClusterState, node: string, since: number): Promise<number> {
  for (let i = 0; i < 400; i++) {
    const t = firstSync(state, node, since, (l) => (l.ops ?? 0) > 0);
    if (Number.isFinite(t)) return t;
    await new Promise((r) => setTimeout(r, 25));
  }
  return Number.POSITIVE_INFINITY;
}

/** When the API server received the newest matching write at or after `since` (its audit log), ms epoch. */
function receivedAt(
  state: ClusterState,
  verb: string,
  resource: string,
  name: string,
  sub: string,
  since: number,
): number | undefined {
  let found: number | undefined;
  for (const line of readFileSync(kubePaths(state).auditLog, 'utf8').split('\n')) {
    if (!line.includes(`"${name}"`)) continue;
    const e = JSON.parse(line) as {
      verb: string;
      requestReceivedTimestamp: string;
      objectRef?: { resource?: string; name?: string; subresource?: string };
    };
    const o = e.objectRef ?? {};
    if (e.verb !== verb || o.resource !== resource || o.name !== name || (o.subresource ?? '') !== sub)
      continue;
    const t = Date.parse(e.requestReceivedTimestamp);
    if (t >= since) found = t;
  }
  return found;
}
