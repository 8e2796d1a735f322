import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NftSession } from '../src/apply/nft-session.js';
import { loadOrCompileNative } from '../src/exec/netlink/build.js';
import { NetfilterSender } from '../src/exec/netlink/nft-batch.js';
import { exec } from '../src/exec/process-runner.js';
import { parseNamespace, parseNetworkPolicy } from '../src/model/policy/parse.js';
import type { NetworkPolicy } from '../src/model/policy/types.js';
import { Ip } from '../src/net/ip.js';
import { emptyNodeState, type NodeModel } from '../src/plan/node/model.js';
import { planNodeSync } from '../src/plan/node/sync.js';
import { named } from '../src/plan/ops.js';
import type { PolicyPod, PolicyWorld } from '../src/plan/policy/evaluate.js';
import { buildPolicyModel, type PolicyNodeModel } from '../src/plan/policy/model.js';
import { PolicyPlanner } from '../src/plan/policy/planner.js';
import { render } from '../src/render/index.js';
import { renderPolicyFull, renderPolicyRemove } from '../src/render/policy-nft.js';
import { fmtMs, median, table } from './stats.js';

/**
 * `npm run bench -- policy [--policies 1000] [--pods 1000] [--local 1000] [--rounds 15]`: NetworkPolicy enforcement on one node
 * namespace the bench creates (`pq<pid>-…`, removed at the end). The pods are addresses on the node (the rule set
 * is what is measured), plus one real client and one real server pod for the connection latency:
 *   - full sync: a fresh planner builds the model (pure), planNodeSync plans it from an empty node, the op is
 *     rendered and applied as one `nft -f` (its text rendered first, timed with it), and as one netlink batch
 *     (render/nft-netlink/, encoding included), in turn;
 *   - one policy change (a port of one policy), and one pod relabel, as a node agent's watch delivers them (the
 *     other objects unchanged): the incremental planner updates the model, planNodeSync diffs it against the
 *     model applied last, only the element changes are applied, in turn with an `nft -f` process (the lab
 *     without the netlink addon), through a libnftables session, and as a netlink batch from this process (the
 *     agent, and the lab with the addon);
 *   - new-connection latency client -> server (median of 300 connects per round, 5 rounds each side, interleaved),
 *     with the table of 0 policies (conntrack on, as on every lab node) and of the 1,000 policies, interleaved; and
 *     with no table at all (no conntrack in the namespace) for reference.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LATENCY = join(ROOT, 'bench', 'latency.py');
const ACCEPT = join(ROOT, 'bench', 'accept.py');
const PREFIX = `pq${process.pid % 100000}`;
const CLIENT = '10.210.255.2';
const SERVER = '10.210.255.3';

interface Gen {
  readonly policies: number;
  readonly pods: number;
  /** Pod index -> labels override (a relabel). */
  readonly relabel?: number;
  /** A changed policy (its port moves). */
  readonly change?: number;
  /** How many of the pods are on the benched node (the rest on other nodes: no chains here). */
  readonly local?: number;
}

const NAMESPACES = 10;
const APPS = 50;

/** The generated world: `pods` addresses in 10 namespaces, `policies` policies, plus the two real pods. */
export function world(g: Gen): PolicyWorld {
  const issues: never[] = [];
  const namespaces = Array.from(
    { length: NAMESPACES },
    (_, i) =>
      parseNamespace(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns${i}`, labels: { team: `t${i % 3}` } } },
        '',
        issues,
      )!,
  );
  const pods: PolicyPod[] = [];
  for (let i = 0; i < g.pods; i++)
    pods.push({
      name: `p${i}`,
      namespace: `ns${i % NAMESPACES}`,
      node: i < (g.local ?? g.pods) ? 'bench' : 'elsewhere',
      ip: Ip.fromNumber(Ip.parse('10.210.0.2').value + i),
      labels: { app: i === g.relabel ? 'relabelled' : `a${Math.floor(i / NAMESPACES) % APPS}` },
      ports: [{ name: 'http', containerPort: 9000, protocol: 'TCP' }],
    });
  pods.push(
    {
      name: 'client',
      namespace: 'ns1',
      node: 'bench',
      ip: Ip.parse(CLIENT),
      labels: { app: 'a0', role: 'client' },
      ports: [],
    },
    {
      name: 'server',
      namespace: 'ns0',
      node: 'bench',
      ip: Ip.parse(SERVER),
      labels: { app: 'a0', role: 'server' },
      ports: [{ name: 'http', containerPort: 9000, protocol: 'TCP' }],
    },
  );
  const policies: NetworkPolicy[] = [];
  for (let i = 0; i < g.policies; i++) {
    const ns = i % NAMESPACES;
    const port = 8000 + (i % 7) + (i === g.change ? 100 : 0);
    const spec =
      i % 4 === 3
        ? {
            // Egress: to a team's namespaces on a port range, or to an address block with an exception.
            podSelector: { matchLabels: { app: `a${i % APPS}` } },
            policyTypes: ['Egress'],
            egress: [
              {
                to: [{ namespaceSelector: { matchLabels: { team: `t${i % 3}` } } }],
                ports: [{ port, endPort: port + 10 }],
              },
              { to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.210.0.0/16'] } }] },
            ],
          }
        : {
            podSelector: { matchLabels: { app: `a${i % APPS}` } },
            ingress: [
              {
                from: [
                  {
                    namespaceSelector: { matchLabels: { team: `t${(i + 1) % 3}` } },
                    podSelector: { matchLabels: { app: `a${(i * 7) % APPS}` } },
                  },
                  {
                    podSelector: {
                      matchExpressions: [
                        { key: 'app', operator: 'In', values: [`a${(i * 3) % APPS}`, `a${(i * 5) % APPS}`] },
                      ],
                    },
                  },
                ],
                ports: [{ port }, { port: 'http' }],
              },
            ],
          };
    policies.push(
      parseNetworkPolicy(
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: `pol${i}`, namespace: `ns${ns}` },
          spec,
        },
        '',
        issues,
      )!,
    );
  }
  // The client may reach the server on 9000 (and the server's policies isolate it; so do the client's).
  policies.push(
    parseNetworkPolicy(
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'server-from-client', namespace: 'ns0' },
        spec: {
          podSelector: { matchLabels: { role: 'server' } },
          ingress: [
            {
              from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } }],
              ports: [{ port: 'http' }],
            },
          ],
        },
      },
      '',
      issues,
    )!,
    parseNetworkPolicy(
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'client-to-server', namespace: 'ns1' },
        spec: {
          podSelector: { matchLabels: { role: 'client' } },
          policyTypes: ['Egress'],
          egress: [{ to: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'server' } } }] }],
        },
      },
      '',
      issues,
    )!,
  );
  return {
    namespaces,
    pods,
    policies: g.policies ? policies : [],
    nodes: [{ name: 'bench', ips: [Ip.parse('10.210.255.1')] }],
  };
}

async function sh(argv: string[], stdin?: string): Promise<number> {
  const t0 = performance.now();
  const r = await exec(argv, stdin);
  if (r.exitCode !== 0)
    throw new Error(`${argv.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.slice(0, 500)}`);
  return performance.now() - t0;
}

/** A node namespace with a bridge, and a client and a server pod on it (the server accepts on 9000). */
async function makeNode(): Promise<{ node: string; server: number }> {
  const node = `${PREFIX}-node`;
  const pod = (p: string) => `${node}-${p}`;
  await sh(['ip', 'netns', 'add', node]);
  for (const p of ['c', 's']) await sh(['ip', 'netns', 'add', pod(p)]);
  await sh(
    ['ip', '-n', node, '-batch', '-'],
    [
      'link set lo up',
      'link add br0 type bridge',
      'addr add 10.210.255.1/16 dev br0',
      'link set br0 up',
      `link add vc type veth peer name eth0 netns ${pod('c')}`,
      `link add vs type veth peer name eth0 netns ${pod('s')}`,
      'link set vc master br0 up',
      'link set vs master br0 up',
      '',
    ].join('\n'),
  );
  for (const [p, addr] of [
    ['c', CLIENT],
    ['s', SERVER],
  ] as const)
    await sh(
      ['ip', '-n', pod(p), '-batch', '-'],
      `link set lo up\naddr add ${addr}/16 dev eth0\nlink set eth0 up\n`,
    );
  await sh(['ip', 'netns', 'exec', node, 'sysctl', '-q', '-w', 'net.bridge.bridge-nf-call-iptables=1']);
  const { spawn } = await import('node:child_process');
  const child = spawn('nsenter', [`--net=/run/netns/${pod('s')}`, 'python3', ACCEPT, '9000'], {
    stdio: 'ignore',
    detached: false,
  });
  return { node, server: child.pid! };
}

async function dropNode(node: string, server: number): Promise<void> {
  try {
    process.kill(server, 'SIGKILL');
  } catch {}
  for (const ns of [`${node}-c`, `${node}-s`, node]) await exec(['ip', 'netns', 'del', ns]);
}

/** Median new-connection latency (us) of 300 connects from the client to the server. */
async function latency(node: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const r = await exec(['ip', 'netns', 'exec', `${node}-c`, 'python3', LATENCY, SERVER, '9000', '1']);
    if (r.exitCode === 0 && JSON.parse(r.stdout).errors === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const r = await exec(['ip', 'netns', 'exec', `${node}-c`, 'python3', LATENCY, SERVER, '9000', '300']);
  const j = JSON.parse(r.stdout) as { median_us: number; errors: number };
  if (j.errors) throw new Error(`latency: ${j.errors} connection(s) failed`);
  return j.median_us;
}

function flag(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

export async function benchPolicy(args: string[]): Promise<void> {
  const nPol = flag(args, 'policies', 1000);
  const nPods = flag(args, 'pods', 1000);
  const rounds = flag(args, 'rounds', 15);
  const local = flag(args, 'local', nPods);
  const { node, server } = await makeNode();
  const nodeNs = `/run/netns/${node}`;
  try {
    // Full sync: plan (pure: planner, planNodeSync, the op's command) + one nft -f, or one netlink batch.
    const fullPlan: number[] = [];
    const fullApply: number[] = [];
    const fullNetlink: number[] = [];
    /** This process's CPU time (user + sys) for the netlink full sync: the kernel applies the batch in our write. */
    const fullNetlinkCpu: number[] = [];
    const sender = new NetfilterSender(await loadOrCompileNative());
    /** Sends an op's netlink form (encoding included); the op must be fully encoded. */
    const viaNetlink = (cmd: ReturnType<typeof render>): number => {
      const t0 = performance.now();
      if (!cmd.netfilter || !sender.send(cmd.netfilter))
        throw new Error('the policy transaction is not encoded');
      return performance.now() - t0;
    };
    const baseWorld = world({ policies: nPol, pods: nPods, local });
    const nodeOf = (policy: PolicyNodeModel): NodeModel => ({
      node: 'bench',
      podCIDR: '',
      sysctls: {},
      routes: [],
      fdb: [],
      neighbours: [],
      policy,
    });
    const target = { netns: named(node) };
    let base = buildPolicyModel(baseWorld, 'bench');
    let script = renderPolicyFull(base);
    for (let i = 0; i < Math.min(rounds, 5); i++) {
      const p0 = performance.now();
      base = new PolicyPlanner('bench').update(baseWorld);
      const ops = planNodeSync(emptyNodeState('bench'), nodeOf(base), target).filter(
        (o) => o.kind === 'nft.policy',
      );
      const cmd = render(ops[0]!);
      fullPlan.push(performance.now() - p0);
      // Both ways in turn, each replacing the whole table; the nft -f side includes rendering its text.
      const t0 = performance.now();
      script = cmd.stdin!;
      fullApply.push(
        (await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], script)) + performance.now() - t0,
      );
      const cpu0 = process.cpuUsage();
      fullNetlink.push(viaNetlink(cmd));
      const cpu = process.cpuUsage(cpu0);
      fullNetlinkCpu.push((cpu.user + cpu.system) / 1000);
    }
    // Latency: rounds alternating between no table at all and the full table (the machine is shared, so the
    // two sides are measured interleaved, and each side's median of rounds is compared).
    // The baseline is the table with 0 policies (its base chain, empty maps): conntrack runs in both, as it does
    // on every lab node (the service proxy's NAT needs it). No table at all is shown too: it has no conntrack.
    const empty = renderPolicyFull(buildPolicyModel(world({ policies: 0, pods: nPods, local }), 'bench'));
    const latNone: number[] = [];
    const lat0s: number[] = [];
    const latNs: number[] = [];
    for (let i = 0; i < 5; i++) {
      await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], renderPolicyRemove());
      latNone.push(await latency(node));
      await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], empty);
      lat0s.push(await latency(node));
      await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], script);
      latNs.push(await latency(node));
    }
    const lat0 = median(lat0s);
    const latN = median(latNs);

    // One policy change and one relabel, as a watch delivers them: the changed object replaces the old one in
    // the world the planner saw last (generated beforehand: object decoding is not planning).
    const changed = (g: Gen) => {
      const w = world(g);
      const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
      return {
        ...baseWorld,
        pods: baseWorld.pods.map((p, i) => (same(p, w.pods[i]) ? p : w.pods[i]!)),
        policies: baseWorld.policies.map((p, i) => (same(p, w.policies[i]) ? p : w.policies[i]!)),
      };
    };
    const planner = new PolicyPlanner('bench');
    let applied = nodeOf(planner.update(baseWorld));
    await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], renderPolicyFull(applied.policy!));
    const newRow = () => ({
      plan: [] as number[],
      nft: [] as number[],
      session: [] as number[],
      netlink: [] as number[],
      lines: 0,
      chains: 0,
    });
    const change = newRow();
    const relabel = newRow();
    const session = await NftSession.open(nodeNs);
    try {
      for (const [row, g] of [
        [change, changed({ policies: nPol, pods: nPods, local, change: 8 })],
        [relabel, changed({ policies: nPol, pods: nPods, local, relabel: 123 })],
      ] as const) {
        for (let i = 0; i < rounds; i++) {
          // There (timed), and back to the base world (untimed), each through planner + planNodeSync.
          for (const [w, timed] of [
            [g, true],
            [baseWorld, false],
          ] as const) {
            const p0 = performance.now();
            const next = nodeOf(planner.update(w));
            const ops = planNodeSync(applied, next, target);
            if (ops.length !== 1) throw new Error(`expected one nft op, got ${ops.length}`);
            const cmd = render(ops[0]!);
            const planned = performance.now() - p0;
            const t0 = performance.now();
            // The three ways in turn: an nft process (the lab without the addon), a libnftables session,
            // a netlink batch from this process (the agent and the lab with the addon).
            const way = i % 3 === 0 ? row.nft : i % 3 === 1 ? row.session : row.netlink;
            if (way === row.nft) await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], cmd.stdin!);
            else if (way === row.session) await session.apply(cmd.stdin!);
            else viaNetlink(cmd);
            if (timed) {
              way.push(performance.now() - t0);
              row.plan.push(planned);
              row.lines = cmd.stdin!.split('\n').length - 1;
              row.chains = planner.recomputed.length;
            }
            applied = next;
          }
        }
      }
    } finally {
      session.close();
      sender.close();
    }
    const elements = Object.values(base.sets).reduce((n, s) => n + s.length, 0);
    console.log(
      `NetworkPolicy on one node: ${nPol} policies (+2 for the latency pair) over ${nPods} pods as addresses (${local} of them on this node); model: ${Object.keys(base.chains).length} chains, ${elements} set elements, ${base.counters.length} counters; script ${script.split('\n').length} lines\n`,
    );
    const m = (xs: number[]) => fmtMs(median(xs));
    console.log(
      table(
        [
          'measure',
          'plan (pure, incl. planNodeSync)',
          'apply: nft -f (text incl.)',
          'apply: libnftables session',
          'apply: netlink (encode + send)',
          'target',
        ],
        [
          [
            'full sync',
            m(fullPlan),
            m(fullApply),
            '',
            `${m(fullNetlink)} (CPU ${m(fullNetlinkCpu)})`,
            `<= 1 s (plan + apply: nft -f ${fmtMs(median(fullPlan) + median(fullApply))}, netlink ${fmtMs(median(fullPlan) + median(fullNetlink))})`,
          ],
          [
            `one policy change (${change.chains} pod directions recomputed, ${change.lines} nft lines)`,
            m(change.plan),
            m(change.nft),
            m(change.session),
            m(change.netlink),
            '<= 20 ms',
          ],
          [
            `one pod relabel (${relabel.chains} pod directions recomputed, ${relabel.lines} nft lines)`,
            m(relabel.plan),
            m(relabel.nft),
            m(relabel.session),
            m(relabel.netlink),
            '<= 20 ms',
          ],
        ],
      ),
    );
    console.log(
      `\nnew-connection latency client -> server (per round the median of 300 connects; median of 5 rounds each, interleaved): 0 policies ${lat0.toFixed(1)} us, ${nPol} policies ${latN.toFixed(1)} us, ratio ${(latN / lat0).toFixed(2)} (target <= 1.1); no table at all (no conntrack) ${median(latNone).toFixed(1)} us`,
    );
  } finally {
    await dropNode(node, server);
  }
}
