import { exec } from '../src/exec/process-runner.js';

/** The hand-built twins of podnet's paths (plain `ip`/`bridge`/`sysctl` commands), for bench/throughput.ts. */

export const must = async (argv: string[]): Promise<string> => {
  const r = await exec(argv);
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

const ip = (ns: string, ...a: string[]) => must(['ip', '-n', ns, ...a]);
const sysctl = (ns: string, kv: string) => must(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', kv]);

/** A veth pair `name` (in ns) / `peer` (in peerNs), both ends at `mtu`, the peer addressed and up. */
async function cable(ns: string, name: string, peerNs: string, peer: string, mtu: number, cidr: string) {
  const m = ['mtu', String(mtu)];
  await ip(ns, 'link', 'add', name, ...m, 'type', 'veth', 'peer', 'name', peer, ...m, 'netns', peerNs);
  await ip(peerNs, 'addr', 'add', cidr, 'dev', peer);
  await ip(peerNs, 'link', 'set', peer, 'up');
  await ip(peerNs, 'link', 'set', 'lo', 'up');
}

/** The physical reference on this machine: two namespaces joined by one veth pair at the underlay MTU. */
export async function handRaw(prefix: string): Promise<string[]> {
  const [a, b] = [`${prefix}-a`, `${prefix}-b`];
  for (const ns of [a, b]) await must(['ip', 'netns', 'add', ns]);
  await ip(a, 'link', 'add', 'eth0', 'mtu', '1500', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b);
  for (const [ns, cidr] of [
    [a, '192.168.64.1/24'],
    [b, '192.168.64.2/24'],
  ] as const) {
    await ip(ns, 'addr', 'add', cidr, 'dev', 'eth0');
    await ip(ns, 'link', 'set', 'eth0', 'up');
    await ip(ns, 'link', 'set', 'lo', 'up');
  }
  return [a, b];
}

/**
 * The seed's §3.2 by hand: one node namespace with a bridge and two pods on veth pairs, nothing else (with
 * `proxy`, the seed's service proxy too: handProxy). The kernel's own defaults stay (br_netfilter on for every
 * bridge where it is loaded, as in any new namespace).
 */
export async function handSameNode(prefix: string, proxy = false): Promise<string[]> {
  const [node, a, b] = [`${prefix}-n`, `${prefix}-p0`, `${prefix}-p1`];
  for (const ns of [node, a, b]) await must(['ip', 'netns', 'add', ns]);
  await ip(node, 'link', 'add', 'br0', 'type', 'bridge');
  await ip(node, 'link', 'set', 'br0', 'up');
  for (const [ns, port, cidr] of [
    [a, 'va', '10.201.0.2/24'],
    [b, 'vb', '10.201.0.3/24'],
  ] as const) {
    await cable(node, port, ns, 'eth0', 1500, cidr);
    await ip(node, 'link', 'set', port, 'master', 'br0', 'up');
  }
  if (proxy) await handProxy(node, ['10.201.0.2', '10.201.0.3'], '10.201.0.0/24');
  return [node, a, b];
}

/**
 * The seed's §4.1 (host-gw) or flannel's unicast VXLAN built by hand: a switch namespace (a bridge, like the
 * lab's), two nodes with one pod each, every pod-facing device at the same MTU podnet plans (1450 for VXLAN).
 * Namespaces: `<prefix>-sw`, `-n0`, `-n1`, `-p0`, `-p1`; pod 0 is 10.202.0.2, pod 1 10.202.1.2. With `proxy`,
 * each node runs the seed's service proxy too (handProxy).
 */
export async function handCrossNode(
  prefix: string,
  mode: 'host-gw' | 'vxlan',
  proxy = false,
): Promise<string[]> {
  const sw = `${prefix}-sw`;
  const nodes = [0, 1].map((i) => ({
    ns: `${prefix}-n${i}`,
    pod: `${prefix}-p${i}`,
    ip: `192.168.64.${4 + i}`,
    cidr: `10.202.${i}.0/24`,
    vtep: `10.202.${i}.0`,
    mac: `02:00:00:00:00:0${i + 1}`,
  }));
  const mtu = mode === 'vxlan' ? 1450 : 1500;
  const all = [sw, ...nodes.flatMap((n) => [n.ns, n.pod])];
  for (const ns of all) await must(['ip', 'netns', 'add', ns]);
  await ip(sw, 'link', 'add', 'sw0', 'mtu', '1500', 'type', 'bridge');
  await ip(sw, 'link', 'set', 'sw0', 'up');
  for (const [i, n] of nodes.entries()) {
    await cable(sw, `port${i}`, n.ns, 'eth0', 1500, `${n.ip}/24`);
    await ip(sw, 'link', 'set', `port${i}`, 'master', 'sw0', 'up');
    await ip(n.ns, 'link', 'add', 'br0', 'mtu', String(mtu), 'type', 'bridge');
    await ip(n.ns, 'addr', 'add', `10.202.${i}.1/24`, 'dev', 'br0');
    await ip(n.ns, 'link', 'set', 'br0', 'up');
    await sysctl(n.ns, 'net.ipv4.ip_forward=1');
    await cable(n.ns, 'veth0', n.pod, 'eth0', mtu, `10.202.${i}.2/24`);
    await ip(n.ns, 'link', 'set', 'veth0', 'master', 'br0', 'up');
    await ip(n.pod, 'route', 'add', 'default', 'via', `10.202.${i}.1`);
    if (mode === 'vxlan') {
      await ip(
        n.ns,
        ...['link', 'add', 'vx0', 'address', n.mac, 'mtu', String(mtu), 'type', 'vxlan', 'id', '1'],
        ...['local', n.ip, 'dev', 'eth0', 'dstport', '4789', 'nolearning'],
      );
      await ip(n.ns, 'addr', 'add', `${n.vtep}/32`, 'dev', 'vx0');
      await ip(n.ns, 'link', 'set', 'vx0', 'up');
    }
  }
  for (const [i, n] of nodes.entries()) {
    const peer = nodes[1 - i]!;
    if (mode === 'host-gw') {
      await ip(n.ns, 'route', 'add', peer.cidr, 'via', peer.ip);
      continue;
    }
    await ip(n.ns, 'neigh', 'add', peer.vtep, 'lladdr', peer.mac, 'dev', 'vx0', 'nud', 'permanent');
    await must(['bridge', '-n', n.ns, 'fdb', 'append', peer.mac, 'dev', 'vx0', 'dst', peer.ip]);
    await ip(n.ns, 'route', 'add', peer.cidr, 'via', peer.vtep, 'dev', 'vx0', 'onlink');
  }
  if (proxy) for (const n of nodes) await handProxy(n.ns, ['10.202.0.2', '10.202.1.2'], '10.202.0.0/16');
  return all;
}

/**
 * The seed's §5 service proxy by hand, on one node of a twin: ClusterIP 10.96.0.2:8080 DNATed at random to the
 * twin's two pods (nat prerouting for pods, output for the node itself) and flannel's masquerade of pod traffic
 * leaving the cluster CIDR, in nft's syntax. It loads what any NAT proxy loads: conntrack on every packet through
 * the node; br_netfilter stays on namespace-wide (the kernel's default, which kube-proxy requires).
 */
export async function handProxy(ns: string, endpoints: readonly [string, string], clusterCidr: string) {
  const nft = (...a: string[]) => must(['ip', 'netns', 'exec', ns, 'nft', ...a]);
  await nft('add', 'table', 'ip', 'nat');
  for (const [chain, prio] of [
    ['prerouting', 'dstnat'],
    ['output', '-100'],
    ['postrouting', 'srcnat'],
  ] as const)
    await nft('add', 'chain', 'ip', 'nat', chain, `{ type nat hook ${chain} priority ${prio} ; }`);
  await nft('add', 'chain', 'ip', 'nat', 'KUBE-SVC-1');
  for (const chain of ['prerouting', 'output'])
    await nft('add', 'rule', 'ip', 'nat', chain, 'ip daddr 10.96.0.2 tcp dport 8080 jump KUBE-SVC-1');
  await nft(
    ...['add', 'rule', 'ip', 'nat', 'KUBE-SVC-1'],
    `dnat to numgen random mod 2 map { 0 : ${endpoints[0]}, 1 : ${endpoints[1]} }`,
  );
  await nft(
    ...['add', 'rule', 'ip', 'nat', 'postrouting'],
    `ip saddr ${clusterCidr} ip daddr != ${clusterCidr} masquerade`,
  );
}
