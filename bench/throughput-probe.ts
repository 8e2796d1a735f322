import { exec } from '../src/exec/process-runner.js';

/** What bench/throughput.ts measures and checks on a path: iperf3, fragment counters, each hop's settings. */

/** One path: where the iperf3 server and client run, and the namespaces it crosses (for the checks). */
export interface Path {
  readonly name: string;
  readonly clientNs: string;
  readonly serverNs: string;
  readonly serverIp: string;
  /** Client pod, its node, [the switch, the server's node], server pod: the hops in order. */
  readonly sides: readonly { readonly pod: string; readonly node: string; readonly sw?: string }[];
}

/** A bounded iperf3 TCP run (seconds), in Gbit/s as the receiver counted it; retried while it did not run. */
export async function iperf(p: Path, seconds: number): Promise<number> {
  const port = '5399';
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
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
      port,
    ]);
    let bps: number | undefined;
    for (let i = 0; i < 30 && bps === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const argv = ['iperf3', '-c', p.serverIp, '-p', port, '-t', String(seconds), '-J'];
      const c = await exec(['ip', 'netns', 'exec', p.clientNs, ...argv]);
      try {
        const r = JSON.parse(c.stdout) as {
          error?: string;
          end?: { sum_received?: { bits_per_second: number } };
        };
        bps = r.end?.sum_received?.bits_per_second;
        last = r.error ?? last;
      } catch {
        last = c.stderr;
      }
      // A client that ran but measured nothing (the server went away): start both anew.
      if (bps === undefined && c.exitCode === 0) break;
    }
    await server;
    if (bps !== undefined) return bps / 1e9;
  }
  throw new Error(`iperf3 ${p.name} never measured: ${last}`);
}

/** IPv4 fragmentation counters of one namespace (`nstat -asz`: absolute, history neither read nor written). */
export interface FragCounters {
  /** Fragments made (IpFragCreates) plus fragments received for reassembly (IpReasmReqds). */
  readonly fragments: number;
  /** Packets too big with DF set, so not fragmented (IpFragFails): an MTU mismatch shows here. */
  readonly tooBig: number;
}

export async function fragCounters(ns: string): Promise<FragCounters> {
  const r = await exec(['ip', 'netns', 'exec', ns, 'nstat', '-asz']);
  const v = (k: string) => Number(new RegExp(`^${k}\\s+(\\d+)`, 'm').exec(r.stdout)?.[1] ?? 0);
  return { fragments: v('IpFragCreates') + v('IpReasmReqds'), tooBig: v('IpFragFails') };
}

/** The sum over namespaces of the counters' growth between two readings. */
export async function fragTotals(nss: readonly string[]): Promise<() => Promise<FragCounters>> {
  const before = await Promise.all(nss.map(fragCounters));
  return async () => {
    const after = await Promise.all(nss.map(fragCounters));
    return after.reduce(
      (s, a, i) => ({
        fragments: s.fragments + a.fragments - before[i]!.fragments,
        tooBig: s.tooBig + a.tooBig - before[i]!.tooBig,
      }),
      { fragments: 0, tooBig: 0 },
    );
  };
}

interface LinkJson {
  ifindex: number;
  ifname: string;
  link_index?: number;
  master?: string;
  mtu: number;
  qdisc?: string;
  txqlen?: number;
  gso_max_size?: number;
  gro_max_size?: number;
  linkinfo?: {
    info_kind?: string;
    info_data?: Record<string, unknown>;
    info_slave_data?: Record<string, unknown>;
  };
}

const links = async (ns: string): Promise<LinkJson[]> =>
  JSON.parse((await exec(['ip', '-j', '-d', '-n', ns, 'link', 'show'])).stdout || '[]') as LinkJson[];

/** One hop's device and what decides its cost: MTU, GSO/GRO sizes, offloads, bridge hooks. */
export interface Hop {
  readonly role: string;
  readonly ns: string;
  readonly dev: string;
  readonly settings: Readonly<Record<string, string>>;
}

async function offloads(ns: string, dev: string): Promise<Record<string, string>> {
  const r = await exec(['ip', 'netns', 'exec', ns, 'ethtool', '-k', dev]);
  const out: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/^\s*([\w-]+): (on|off)$/gm)) out[m[1]!] = m[2]!;
  return out;
}

/** A bridge port's settings that change its cost per frame (not its identity or timers). */
const PORT_KEYS = [
  'state',
  'hairpin',
  'learning',
  'flood',
  'mcast_flood',
  'bcast_flood',
  'proxy_arp',
  'neigh_suppress',
  'isolated',
  'mcast_to_unicast',
];

async function hop(role: string, ns: string, l: LinkJson, withOffloads: boolean): Promise<Hop> {
  const settings: Record<string, string> = {
    mtu: String(l.mtu),
    gso_max_size: String(l.gso_max_size),
    gro_max_size: String(l.gro_max_size),
  };
  settings.qdisc = String(l.qdisc);
  settings.txqlen = String(l.txqlen);
  const port = l.linkinfo?.info_slave_data ?? {};
  for (const k of PORT_KEYS) if (port[k] !== undefined) settings[`bridge port ${k}`] = String(port[k]);
  if (l.linkinfo?.info_kind === 'vxlan')
    for (const [k, v] of Object.entries(l.linkinfo.info_data ?? {}))
      settings[`vxlan ${k}`] = JSON.stringify(v);
  if (l.linkinfo?.info_kind === 'bridge') {
    const global = await exec([
      'ip',
      'netns',
      'exec',
      ns,
      'sysctl',
      '-e',
      '-n',
      'net.bridge.bridge-nf-call-iptables',
    ]);
    const own = l.linkinfo.info_data?.nf_call_iptables;
    settings['IPv4 hooks on bridged frames (br_netfilter)'] =
      global.stdout.trim() === '1' || own === 1 ? 'yes' : 'no';
  }
  if (withOffloads) Object.assign(settings, await offloads(ns, l.ifname));
  return { role, ns, dev: l.ifname, settings };
}

/** The devices a path's packets cross, in order, each with its settings (offloads when ethtool is there). */
export async function pathHops(p: Path, withOffloads: boolean): Promise<Hop[]> {
  const out: Hop[] = [];
  for (const [i, s] of p.sides.entries()) {
    const side = i === 0 ? 'client' : 'server';
    const [pl, nl] = [await links(s.pod), await links(s.node)];
    const podEth = pl.find((l) => l.ifname === 'eth0')!;
    const veth = nl.find((l) => l.ifindex === podEth.link_index)!;
    const bridge = nl.find((l) => l.ifname === veth.master)!;
    const node = [
      [`${side} pod eth0`, s.pod, podEth],
      [`${side} node's pod veth`, s.node, veth],
      [`${side} node's bridge`, s.node, bridge],
    ] as const;
    const tunnel = nl.find((l) => l.linkinfo?.info_kind === 'vxlan');
    const up = s.sw ? nl.find((l) => l.ifname === 'eth0') : undefined;
    const rest: [string, string, LinkJson][] = [];
    if (tunnel) rest.push([`${side} node's vxlan device`, s.node, tunnel]);
    if (up && s.sw) {
      rest.push([`${side} node's uplink`, s.node, up]);
      const sl = await links(s.sw);
      const port = sl.find((l) => l.ifindex === up.link_index)!;
      rest.push([`switch port of ${side}'s node`, s.sw, port]);
      rest.push(['switch bridge', s.sw, sl.find((l) => l.ifname === port.master)!]);
    }
    for (const [role, ns, l] of [...node, ...rest]) out.push(await hop(role, ns, l, withOffloads));
  }
  return out;
}

/** Where two paths' hops differ, role by role: "role: key a vs b" lines (none when the twins are equal). */
export function hopDifferences(a: readonly Hop[], b: readonly Hop[]): string[] {
  const out: string[] = [];
  for (const ha of a) {
    const hb = b.find((h) => h.role === ha.role);
    if (!hb) {
      out.push(`${ha.role}: only in the first path`);
      continue;
    }
    for (const k of new Set([...Object.keys(ha.settings), ...Object.keys(hb.settings)]))
      if (ha.settings[k] !== hb.settings[k])
        out.push(
          `${ha.role} (${ha.dev} vs ${hb.dev}): ${k} ${ha.settings[k] ?? '-'} vs ${hb.settings[k] ?? '-'}`,
        );
  }
  for (const hb of b) if (!a.some((h) => h.role === hb.role)) out.push(`${hb.role}: only in the second path`);
  return out;
}
