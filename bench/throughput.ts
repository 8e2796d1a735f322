import { exec } from '../src/exec/process-runner.js';
import { labDown } from '../src/lab/down.js';
import { loadSpec } from '../src/lab/spec-source.js';
import { labUp } from '../src/lab/up.js';
import { median, table } from './stats.js';

/** One path to measure: where the iperf3 server and client run. */
interface Path {
  readonly name: string;
  readonly serverNs: string;
  readonly clientNs: string;
  readonly serverIp: string;
  readonly target?: number;
}

/** A bounded iperf3 TCP run (seconds), in Gbit/s as the receiver counted it. */
async function iperf(p: Path, seconds: number): Promise<number> {
  const server = exec([
    'ip',
    'netns',
    'exec',
    p.serverNs,
    'timeout',
    String(seconds + 10),
    'iperf3',
    '-s',
    '-1',
    '-p',
    '5399',
  ]);
  let out = '';
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const c = await exec([
      'ip',
      'netns',
      'exec',
      p.clientNs,
      'iperf3',
      '-c',
      p.serverIp,
      '-p',
      '5399',
      '-t',
      String(seconds),
      '-J',
    ]);
    if (c.exitCode === 0) {
      out = c.stdout;
      break;
    }
  }
  await server;
  if (!out) throw new Error(`iperf3 ${p.name} never connected`);
  const r = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
  return r.end.sum_received.bits_per_second / 1e9;
}

const must = async (argv: string[]) => {
  const r = await exec(argv);
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
};

/**
 * `npm run bench -- throughput [reps] [seconds]`: iperf3 TCP between two pods for each path, beside the physical
 * reference on this machine (a raw veth pair between two namespaces), interleaved round-robin so drift in the
 * shared machine's load hits every path alike; prints medians and ratios to the raw veth.
 */
export async function benchThroughput(args: string[]): Promise<void> {
  const reps = Number(args[0] ?? 3);
  const seconds = Number(args[1] ?? 3);
  const tag = `pcx${(process.pid % 100000).toString(36)}`;
  const raw = { a: `${tag}-rawa`, b: `${tag}-rawb` };
  const hand = { node: `${tag}-hbr`, a: `${tag}-hba`, b: `${tag}-hbb` };
  const labs = { hostgw: `${tag}hg`, vxlan: `${tag}vx`, proxy: `${tag}px` };
  const cleanup = async () => {
    for (const ns of [raw.a, raw.b, hand.node, hand.a, hand.b]) await exec(['ip', 'netns', 'del', ns]);
    for (const l of Object.values(labs)) await labDown(l);
  };
  await cleanup();
  try {
    // The reference: two namespaces joined by one veth pair at the underlay MTU, nothing else.
    await must(['ip', 'netns', 'add', raw.a]);
    await must(['ip', 'netns', 'add', raw.b]);
    await must([
      'ip',
      '-n',
      raw.a,
      'link',
      'add',
      'eth0',
      'mtu',
      '1500',
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      raw.b,
    ]);
    for (const [ns, ip] of [
      [raw.a, '192.168.64.1/24'],
      [raw.b, '192.168.64.2/24'],
    ] as const) {
      await must(['ip', '-n', ns, 'addr', 'add', ip, 'dev', 'eth0']);
      await must(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // The seed's §3.2 by hand, for comparison with podnet's same-node path: a bridge and two veth pairs.
    for (const ns of [hand.node, hand.a, hand.b]) await must(['ip', 'netns', 'add', ns]);
    await must(['ip', '-n', hand.node, 'link', 'add', 'br0', 'type', 'bridge']);
    await must(['ip', '-n', hand.node, 'link', 'set', 'br0', 'up']);
    for (const [ns, port, ip] of [
      [hand.a, 'va', '10.201.0.2/24'],
      [hand.b, 'vb', '10.201.0.3/24'],
    ] as const) {
      await must([
        'ip',
        '-n',
        hand.node,
        'link',
        'add',
        port,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns,
      ]);
      await must(['ip', '-n', hand.node, 'link', 'set', port, 'master', 'br0', 'up']);
      await must(['ip', '-n', ns, 'addr', 'add', ip, 'dev', 'eth0']);
      await must(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    for (const [lab, mode] of [
      [labs.hostgw, 'host-gw'],
      [labs.vxlan, 'vxlan'],
      [labs.proxy, 'host-gw'],
    ] as const) {
      await labUp({ lab, spec: loadSpec(undefined, 'bench', { crossNode: mode }), source: 'bench' });
    }
    // The pod network alone, as the seed builds it by hand: drop the lab's service proxy (nftables rules, and
    // with them conntrack and bridge netfilter hooks) in the measured labs; `proxy` keeps it, for comparison.
    for (const lab of [labs.hostgw, labs.vxlan])
      for (const n of ['node-0', 'node-1', 'node-2'])
        await must(['ip', 'netns', 'exec', `${lab}-${n}`, 'nft', 'flush', 'ruleset']);
    const paths: Path[] = [
      { name: 'raw veth pair (reference)', serverNs: raw.b, clientNs: raw.a, serverIp: '192.168.64.2' },
      {
        name: 'same-node bridge, by hand (seed §3.2)',
        serverNs: hand.b,
        clientNs: hand.a,
        serverIp: '10.201.0.3',
      },
      {
        name: 'same-node bridge',
        serverNs: `${labs.hostgw}-pod-a1`,
        clientNs: `${labs.hostgw}-pod-a0`,
        serverIp: '10.200.0.3',
        target: 0.95,
      },
      {
        name: 'host-gw cross-node',
        serverNs: `${labs.hostgw}-pod-b`,
        clientNs: `${labs.hostgw}-pod-a0`,
        serverIp: '10.200.1.2',
        target: 0.9,
      },
      {
        name: 'vxlan (unicast) cross-node',
        serverNs: `${labs.vxlan}-pod-b`,
        clientNs: `${labs.vxlan}-pod-a0`,
        serverIp: '10.200.1.2',
        target: 0.7,
      },
      {
        name: 'same-node bridge + service proxy',
        serverNs: `${labs.proxy}-pod-a1`,
        clientNs: `${labs.proxy}-pod-a0`,
        serverIp: '10.200.0.3',
      },
      {
        name: 'host-gw cross-node + service proxy',
        serverNs: `${labs.proxy}-pod-b`,
        clientNs: `${labs.proxy}-pod-a0`,
        serverIp: '10.200.1.2',
      },
    ];
    const samples = new Map<string, number[]>(paths.map((p) => [p.name, []]));
    for (let r = 0; r < reps; r++) {
      for (const p of paths) samples.get(p.name)!.push(await iperf(p, seconds));
    }
    // Each round's ratio to the raw veth of the same round, then the median: load on the shared cores drifts
    // between rounds far more than within one.
    const refs = samples.get(paths[0]!.name)!;
    const rows = paths.map((p) => {
      const xs = samples.get(p.name)!;
      const m = median(xs);
      const ratio = median(xs.map((x, i) => x / refs[i]!));
      return [
        p.name,
        samples
          .get(p.name)!
          .map((x) => x.toFixed(1))
          .join(' '),
        m.toFixed(2),
        ratio.toFixed(2),
        p.target === undefined ? '' : `≥ ${p.target} ${ratio >= p.target ? 'met' : 'MISSED'}`,
      ];
    });
    console.log(`iperf3 TCP, ${seconds} s per run, ${reps} rounds (every path once per round), Gbit/s`);
    console.log(table(['path', 'runs', 'median', 'ratio (median per round)', 'target'], rows));
  } finally {
    await cleanup();
  }
}
