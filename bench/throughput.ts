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
 * The seed's §4.1 (host-gw) or flannel's unicast VXLAN built by hand with plain `ip`/`bridge` commands, two
 * nodes with one pod each, for comparison with podnet's lab in the same run. Returns its namespaces.
 */
async function handCrossNode(prefix: string, mode: 'host-gw' | 'vxlan'): Promise<string[]> {
  const sw = `${prefix}-sw`;
  const nodes = [0, 1].map((i) => ({
    ns: `${prefix}-n${i}`,
    pod: `${prefix}-p${i}`,
    ip: `192.168.64.${4 + i}`,
    cidr: `10.202.${i}.0/24`,
    vtep: `10.202.${i}.0`,
    mac: `02:00:00:00:00:0${i + 1}`,
  }));
  const mtu = mode === 'vxlan' ? '1450' : '1500';
  const all = [sw, ...nodes.flatMap((n) => [n.ns, n.pod])];
  for (const ns of all) await must(['ip', 'netns', 'add', ns]);
  await must(['ip', '-n', sw, 'link', 'add', 'sw0', 'type', 'bridge']);
  await must(['ip', '-n', sw, 'link', 'set', 'sw0', 'up']);
  for (const [i, n] of nodes.entries()) {
    const ip = (ns: string, ...a: string[]) => must(['ip', '-n', ns, ...a]);
    await ip(sw, 'link', 'add', `port${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.ns);
    await ip(sw, 'link', 'set', `port${i}`, 'master', 'sw0', 'up');
    await ip(n.ns, 'addr', 'add', `${n.ip}/24`, 'dev', 'eth0');
    await ip(n.ns, 'link', 'set', 'eth0', 'up');
    await ip(n.ns, 'link', 'set', 'lo', 'up');
    await ip(n.ns, 'link', 'add', 'br0', 'mtu', mtu, 'type', 'bridge');
    await ip(n.ns, 'addr', 'add', `10.202.${i}.1/24`, 'dev', 'br0');
    await ip(n.ns, 'link', 'set', 'br0', 'up');
    await must(['ip', 'netns', 'exec', n.ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    await ip(
      n.ns,
      'link',
      'add',
      'veth0',
      'mtu',
      mtu,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'mtu',
      mtu,
      'netns',
      n.pod,
    );
    await ip(n.ns, 'link', 'set', 'veth0', 'master', 'br0', 'up');
    await ip(n.pod, 'addr', 'add', `10.202.${i}.2/24`, 'dev', 'eth0');
    await ip(n.pod, 'link', 'set', 'eth0', 'up');
    await ip(n.pod, 'link', 'set', 'lo', 'up');
    await ip(n.pod, 'route', 'add', 'default', 'via', `10.202.${i}.1`);
    if (mode === 'vxlan') {
      await ip(
        n.ns,
        'link',
        'add',
        'vx0',
        'address',
        n.mac,
        'mtu',
        '1450',
        'type',
        'vxlan',
        'id',
        '1',
        'local',
        n.ip,
        'dev',
        'eth0',
        'dstport',
        '4789',
        'nolearning',
      );
      await ip(n.ns, 'addr', 'add', `${n.vtep}/32`, 'dev', 'vx0');
      await ip(n.ns, 'link', 'set', 'vx0', 'up');
    }
  }
  for (const [i, n] of nodes.entries()) {
    const peer = nodes[1 - i]!;
    if (mode === 'host-gw') await must(['ip', '-n', n.ns, 'route', 'add', peer.cidr, 'via', peer.ip]);
    else {
      await must([
        'ip',
        '-n',
        n.ns,
        'neigh',
        'add',
        peer.vtep,
        'lladdr',
        peer.mac,
        'dev',
        'vx0',
        'nud',
        'permanent',
      ]);
      await must(['bridge', '-n', n.ns, 'fdb', 'append', peer.mac, 'dev', 'vx0', 'dst', peer.ip]);
      await must(['ip', '-n', n.ns, 'route', 'add', peer.cidr, 'via', peer.vtep, 'dev', 'vx0', 'onlink']);
    }
  }
  return all;
}

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
  const handNs: string[] = [];
  const labs = { hostgw: `${tag}hg`, vxlan: `${tag}vx`, proxy: `${tag}px` };
  const cleanup = async () => {
    for (const ns of [raw.a, raw.b, hand.node, hand.a, hand.b, ...handNs])
      await exec(['ip', 'netns', 'del', ns]);
    for (const p of ['hg', 'vx'])
      for (const x of ['sw', 'n0', 'n1', 'p0', 'p1']) await exec(['ip', 'netns', 'del', `${tag}${p}h-${x}`]);
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
    handNs.push(
      ...(await handCrossNode(`${tag}hgh`, 'host-gw')),
      ...(await handCrossNode(`${tag}vxh`, 'vxlan')),
    );
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
        name: 'host-gw cross-node, by hand (seed §4.1)',
        serverNs: `${tag}hgh-p1`,
        clientNs: `${tag}hgh-p0`,
        serverIp: '10.202.1.2',
      },
      {
        name: 'host-gw cross-node',
        serverNs: `${labs.hostgw}-pod-b`,
        clientNs: `${labs.hostgw}-pod-a0`,
        serverIp: '10.200.1.2',
        target: 0.9,
      },
      {
        name: 'vxlan unicast cross-node, by hand (flannel)',
        serverNs: `${tag}vxh-p1`,
        clientNs: `${tag}vxh-p0`,
        serverIp: '10.202.1.2',
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
