import { parseIpAddr } from '../observe/ip-json.js';
import { listNamedNetns } from '../observe/procs.js';
import { named } from '../plan/ops.js';
import { readAddrs } from '../render/observe.js';
import type { LoadedLab } from './load.js';
import { LabNames } from './names.js';
import { hostRunner } from './runners.js';

export interface LabStatus {
  readonly lab: string;
  readonly status: string;
  readonly nodes: {
    name: string;
    netns: string;
    present: boolean;
    ip: string;
    podCIDR: string;
    addresses: string[];
  }[];
  readonly pods: {
    name: string;
    node: string;
    ip: string;
    netns: string;
    pausePid?: number;
    running: boolean;
    addresses: string[];
  }[];
}

/** What the lab looks like now, observed from the kernel (`ip -j addr`), beside what it should be. */
export async function labStatus(l: LoadedLab): Promise<LabStatus> {
  const names = new LabNames(l.state.lab);
  const present = new Set(listNamedNetns());
  const addrs = async (ns: string) =>
    present.has(ns) ? parseIpAddr((await hostRunner().run(readAddrs(named(ns)))).stdout) : [];
  const nodes = await Promise.all(
    l.cluster.nodes.map(async (n) => {
      const ns = names.nodeNs(n.name);
      const a = await addrs(ns);
      return {
        name: n.name,
        netns: ns,
        present: present.has(ns),
        ip: n.ip.toString(),
        podCIDR: n.podCIDR.toString(),
        addresses: a.flatMap((x) => x.addrs.map((c) => `${x.ifname} ${c}`)),
      };
    }),
  );
  const pods = await Promise.all(
    l.cluster.pods.map(async (p) => {
      const ns = names.podNs(p.name);
      const a = await addrs(ns);
      const pid = l.pausePids.get(p.name);
      return {
        name: p.name,
        node: p.node,
        ip: p.ip.toString(),
        netns: ns,
        ...(pid ? { pausePid: pid } : {}),
        running: pid !== undefined,
        addresses: a.flatMap((x) => x.addrs.map((c) => `${x.ifname} ${c}`)),
      };
    }),
  );
  return { lab: l.state.lab, status: l.status, nodes, pods };
}

export function formatStatus(s: LabStatus): string {
  const out = [`lab ${s.lab}: ${s.status}`, '', 'nodes:'];
  for (const n of s.nodes)
    out.push(`  ${n.present ? '✓' : '✗'} ${n.name}  netns ${n.netns}  eth0 ${n.ip}  pods ${n.podCIDR}`);
  out.push('', 'pods:');
  for (const p of s.pods) {
    const eth0 =
      p.addresses.find((a) => a.startsWith('eth0 ') || a.startsWith('veth-'))?.split(' ')[1] ?? 'no address';
    out.push(
      `  ${p.running ? '✓' : '✗'} ${p.name}  on ${p.node}  ${eth0}  netns ${p.netns}${p.pausePid ? `  pause pid ${p.pausePid}` : '  (pause not running)'}`,
    );
  }
  return out.join('\n');
}
