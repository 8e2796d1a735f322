import { exec } from '../src/exec/process-runner.js';
import { labDown } from '../src/lab/down.js';
import { loadSpec } from '../src/lab/spec-source.js';
import { labUp } from '../src/lab/up.js';
import { median, table } from './stats.js';
import { handCrossNode, handRaw, handSameNode } from './throughput-hand.js';
import { fragTotals, hopDifferences, iperf, type Path, pathHops } from './throughput-probe.js';

/** podnet's path beside its hand-built twin: the ratio of the two in each round is what is judged. */
interface Pair {
  readonly podnet: Path;
  readonly twin: Path;
  readonly target: number;
}

const labNamespaces = (lab: string) => [
  `${lab}-switch`,
  ...['node-0', 'node-1', 'node-2', 'pod-a0', 'pod-a1', 'pod-b', 'pod-c'].map((x) => `${lab}-${x}`),
];

/** The lab's pods a0 and a1 share node-0; b is on node-1 (the default cluster). */
const labPaths = (lab: string, label: string): { same: Path; cross: Path } => ({
  same: {
    name: `same-node bridge, podnet${label}`,
    clientNs: `${lab}-pod-a0`,
    serverNs: `${lab}-pod-a1`,
    serverIp: '10.200.0.3',
    sides: [
      { pod: `${lab}-pod-a0`, node: `${lab}-node-0` },
      { pod: `${lab}-pod-a1`, node: `${lab}-node-0` },
    ],
  },
  cross: {
    name: `cross-node, podnet${label}`,
    clientNs: `${lab}-pod-a0`,
    serverNs: `${lab}-pod-b`,
    serverIp: '10.200.1.2',
    sides: [
      { pod: `${lab}-pod-a0`, node: `${lab}-node-0`, sw: `${lab}-switch` },
      { pod: `${lab}-pod-b`, node: `${lab}-node-1`, sw: `${lab}-switch` },
    ],
  },
});

const handSame = (prefix: string, name: string): Path => ({
  name,
  clientNs: `${prefix}-p0`,
  serverNs: `${prefix}-p1`,
  serverIp: '10.201.0.3',
  sides: [
    { pod: `${prefix}-p0`, node: `${prefix}-n` },
    { pod: `${prefix}-p1`, node: `${prefix}-n` },
  ],
});

const handCross = (prefix: string, name: string): Path => ({
  name,
  clientNs: `${prefix}-p0`,
  serverNs: `${prefix}-p1`,
  serverIp: '10.202.1.2',
  sides: [
    { pod: `${prefix}-p0`, node: `${prefix}-n0`, sw: `${prefix}-sw` },
    { pod: `${prefix}-p1`, node: `${prefix}-n1`, sw: `${prefix}-sw` },
  ],
});

const uptime = async () => (await exec(['uptime'])).stdout.trim().replace(/^.*load/, 'load');

/**
 * `npm run bench -- throughput [rounds] [seconds]`: iperf3 TCP through podnet's same-node bridge, host-gw and
 * unicast VXLAN paths (each with and without the service proxy) and through their hand-built twins, every path
 * once per round, the order reversed every other round, so drift in the shared machine's load hits a pair alike.
 * Judged: per pair the median over rounds of podnet / twin in the same round (target ≥ 0.98); a podnet path with
 * its service proxy is paired with a twin that runs the seed's service proxy by hand (handProxy), so both pay a
 * NAT proxy's conntrack. Also printed: each path against a raw veth pair, the proxy's price on each side, the hops where a pair's devices differ (MTU, GSO/GRO sizes, offloads, bridge
 * hooks) and the IPv4 fragments counted in every namespace meanwhile (0 required).
 */
export async function benchThroughput(args: string[]): Promise<void> {
  const rounds = Number(args[0] ?? 7);
  const seconds = Number(args[1] ?? 3);
  const tag = `pcx${(process.pid % 100000).toString(36)}`;
  const labs = { hg: `${tag}hg`, vx: `${tag}vx`, hgp: `${tag}hgp`, vxp: `${tag}vxp` };
  const hand = {
    raw: `${tag}raw`,
    ...{ same: `${tag}sn`, hg: `${tag}hgh`, vx: `${tag}vxh` },
    ...{ sameP: `${tag}snp`, hgP: `${tag}hghp`, vxP: `${tag}vxhp` },
  };
  const handNs = [
    ...['a', 'b'].map((x) => `${hand.raw}-${x}`),
    ...[hand.same, hand.sameP].flatMap((p) => ['n', 'p0', 'p1'].map((x) => `${p}-${x}`)),
    ...[hand.hg, hand.vx, hand.hgP, hand.vxP].flatMap((p) =>
      ['sw', 'n0', 'n1', 'p0', 'p1'].map((x) => `${p}-${x}`),
    ),
  ];
  const cleanup = async () => {
    for (const ns of handNs) await exec(['ip', 'netns', 'del', ns]);
    for (const l of Object.values(labs)) await labDown(l);
  };
  await cleanup();
  try {
    await handRaw(hand.raw);
    await handSameNode(hand.same);
    await handCrossNode(hand.hg, 'host-gw');
    await handCrossNode(hand.vx, 'vxlan');
    await handSameNode(hand.sameP, true);
    await handCrossNode(hand.hgP, 'host-gw', true);
    await handCrossNode(hand.vxP, 'vxlan', true);
    for (const [lab, crossNode, proxy] of [
      [labs.hg, 'host-gw', 'none'],
      [labs.vx, 'vxlan', 'none'],
      [labs.hgp, 'host-gw', 'nftables'],
      [labs.vxp, 'vxlan', 'nftables'],
    ] as const)
      await labUp({ lab, spec: loadSpec(undefined, 'bench', { crossNode, proxy }), source: 'bench' });
    const raw: Path = {
      name: 'raw veth pair (reference)',
      clientNs: `${hand.raw}-a`,
      serverNs: `${hand.raw}-b`,
      serverIp: '192.168.64.2',
      sides: [],
    };
    const twins = {
      same: handSame(hand.same, 'same-node bridge, by hand (seed §3.2)'),
      hg: handCross(hand.hg, 'host-gw cross-node, by hand (seed §4.1)'),
      vx: handCross(hand.vx, 'vxlan unicast cross-node, by hand (flannel)'),
      sameP: handSame(hand.sameP, 'same-node bridge, by hand + proxy by hand (seed §5)'),
      hgP: handCross(hand.hgP, 'host-gw cross-node, by hand + proxy by hand'),
      vxP: handCross(hand.vxP, 'vxlan unicast cross-node, by hand + proxy by hand'),
    };
    const [hg, vx, hgp, vxp] = [
      labPaths(labs.hg, ''),
      labPaths(labs.vx, ''),
      labPaths(labs.hgp, ' + service proxy'),
      labPaths(labs.vxp, ' + service proxy'),
    ];
    const rename = (p: Path, name: string): Path => ({ ...p, name });
    const pairs: Pair[] = [
      { podnet: hg.same, twin: twins.same, target: 0.98 },
      { podnet: hgp.same, twin: twins.sameP, target: 0.98 },
      { podnet: rename(hg.cross, 'host-gw cross-node, podnet'), twin: twins.hg, target: 0.98 },
      {
        podnet: rename(hgp.cross, 'host-gw cross-node, podnet + service proxy'),
        twin: twins.hgP,
        target: 0.98,
      },
      { podnet: rename(vx.cross, 'vxlan unicast cross-node, podnet'), twin: twins.vx, target: 0.98 },
      {
        podnet: rename(vxp.cross, 'vxlan unicast cross-node, podnet + service proxy'),
        twin: twins.vxP,
        target: 0.98,
      },
    ];
    const paths = [raw, ...new Set(pairs.flatMap((p) => [p.twin, p.podnet]))];

    // Fairness: the devices each pair crosses, role by role; any difference is printed (and explained in docs).
    const ethtool = (await exec(['ethtool', '--version'])).exitCode === 0;
    if (!ethtool)
      console.log('ethtool not found: offloads are not compared (MTU, GSO/GRO sizes and hooks are)');
    for (const pr of pairs) {
      const d = hopDifferences(await pathHops(pr.podnet, ethtool), await pathHops(pr.twin, ethtool));
      console.log(
        `${pr.podnet.name} vs its twin: ${d.length ? `\n  ${d.join('\n  ')}` : 'same devices, same settings'}`,
      );
    }

    const allNs = [...handNs, ...Object.values(labs).flatMap(labNamespaces)];
    const frags = await fragTotals(allNs);
    const load = [await uptime()];
    const samples = new Map<Path, number[]>(paths.map((p) => [p, []]));
    for (let r = 0; r < rounds; r++)
      for (const p of r % 2 ? [...paths].reverse() : paths) samples.get(p)!.push(await iperf(p, seconds));
    load.push(await uptime());
    const fr = await frags();

    const refs = samples.get(raw)!;
    const perRound = (a: Path, b: readonly number[]) => samples.get(a)!.map((x, i) => x / b[i]!);
    console.log(`iperf3 TCP, ${seconds} s per run, ${rounds} rounds (every path once per round), Gbit/s`);
    console.log(
      table(
        ['path', 'runs', 'median', 'ratio to raw veth (median per round)'],
        paths.map((p) => [
          p.name,
          samples
            .get(p)!
            .map((x) => x.toFixed(1))
            .join(' '),
          median(samples.get(p)!).toFixed(2),
          median(perRound(p, refs)).toFixed(2),
        ]),
      ),
    );
    console.log(
      table(
        ['podnet path', 'podnet / twin, per round', 'median', 'target'],
        pairs.map((pr) => {
          const xs = perRound(pr.podnet, samples.get(pr.twin)!);
          const m = median(xs);
          return [
            pr.podnet.name,
            xs.map((x) => x.toFixed(2)).join(' '),
            m.toFixed(3),
            `≥ ${pr.target} ${m >= pr.target ? 'met' : 'MISSED'}`,
          ];
        }),
      ),
    );
    // The price of a service proxy itself (conntrack on every packet of the node): with / without, per round.
    const price = [
      [hgp.same, hg.same],
      [pairs[3]!.podnet, pairs[2]!.podnet],
      [pairs[5]!.podnet, pairs[4]!.podnet],
      [twins.sameP, twins.same],
      [twins.hgP, twins.hg],
      [twins.vxP, twins.vx],
    ] as const;
    console.log(
      table(
        ['with the proxy / without', 'per round', 'median'],
        price.map(([w, wo]) => {
          const xs = perRound(w, samples.get(wo)!);
          return [w.name, xs.map((x) => x.toFixed(2)).join(' '), median(xs).toFixed(3)];
        }),
      ),
    );
    console.log(
      `IPv4 fragments in all ${allNs.length} namespaces meanwhile: ${fr.fragments} (0 required); too big with DF: ${fr.tooBig}`,
    );
    console.log(`load: ${load.join(' / ')}`);
  } finally {
    await cleanup();
  }
}
