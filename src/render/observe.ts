import type { Command } from '../exec/runner.js';
import { ROUTE_PROTO } from '../plan/node/model.js';
import type { Netns } from '../plan/ops.js';
import { POLICY_TABLE } from '../plan/policy/nftables.js';
import { NFT } from '../plan/services/nft-layout.js';
import { bridgeIn, execIn, ipIn, netIn } from './netns.js';

/**
 * The read-only commands observe runs to see one node's podnet objects (docs/kernel-objects.md). Reads are
 * commands like any other, so a dry run can print them and a test can count them.
 */

/** One `ip -j -d -batch -`: links (with details), addresses, podnet's routes, permanent neighbours. */
export function readIpState(ns: Netns): Command {
  return {
    argv: ipIn(ns, '-j', '-d', '-batch', '-'),
    stdin: `link show\naddr show\nroute show table main proto ${ROUTE_PROTO}\nneigh show nud permanent\n`,
    note: 'observe: links, addresses, podnet routes, permanent neighbours',
  };
}

/** `ip -j -d link show dev NAME`: one link with its kind (the CNI plugin's bridge check without netlink). */
export const readLink = (ns: Netns, name: string): Command => ({
  argv: ipIn(ns, '-j', '-d', 'link', 'show', 'dev', name),
  note: `observe: link ${name} and its kind`,
});

export const readFdb = (ns: Netns, dev: string): Command => ({
  argv: bridgeIn(ns, '-j', 'fdb', 'show', 'dev', dev),
  note: `observe: FDB entries of ${dev}`,
});

export const readSysctls = (ns: Netns, keys: readonly string[]): Command => ({
  argv: execIn(ns, 'sysctl', '-e', ...keys),
  note: 'observe: the sysctls podnet sets',
});

export const readNftTable = (ns: Netns): Command => ({
  argv: execIn(ns, 'nft', '-j', 'list', 'table', NFT.family, NFT.table),
  note: `observe: table ${NFT.family} ${NFT.table}`,
});

/** The NetworkPolicy table (render/policy-nft.ts), as JSON. */
export const readPolicyTable = (ns: Netns): Command => ({
  argv: execIn(ns, 'nft', '-j', 'list', 'table', POLICY_TABLE.family, POLICY_TABLE.name),
  note: `observe: table ${POLICY_TABLE.family} ${POLICY_TABLE.name}`,
});

/** The node's tracked connections (conntrack -L), for the cuts a stricter policy needs. */
export const listConntrack = (ns: Netns): Command => ({
  argv: netIn(ns, 'conntrack', '-L'),
  note: 'observe: tracked connections',
});

/** The NetworkPolicy table's named counters (`lab policy why` compares them before and after a probe). */
export const readPolicyCounters = (ns: Netns): Command => ({
  argv: execIn(ns, 'nft', '-j', 'list', 'counters', 'table', POLICY_TABLE.family, POLICY_TABLE.name),
  note: 'observe: policy counters',
});

export const readIptables = (ns: Netns, table: 'nat' | 'filter'): Command => ({
  argv: execIn(ns, 'iptables-save', '-t', table),
  note: `observe: iptables ${table} table`,
});

/** Reads of a lab or CNI node for `lab inspect`, `lab status` and CNI CHECK/GC: one `ip -j`/`bridge -j` each. */
export const readRoutes = (ns: Netns): Command => ({
  argv: ipIn(ns, '-j', 'route', 'show'),
  note: 'observe: routes',
});
export const readAddrs = (ns: Netns, dev?: string): Command => ({
  argv: ipIn(ns, '-j', 'addr', 'show', ...(dev ? ['dev', dev] : [])),
  note: `observe: addresses${dev ? ` of ${dev}` : ''}`,
});
export const readNeighbours = (ns: Netns, dev: string): Command => ({
  argv: ipIn(ns, '-j', 'neigh', 'show', 'dev', dev),
  note: `observe: neighbours on ${dev}`,
});
export const readBridgePorts = (ns: Netns, bridge: string): Command => ({
  argv: ipIn(ns, '-j', 'link', 'show', 'master', bridge),
  note: `observe: ports of bridge ${bridge}`,
});

/** A process inside a pod's network namespace (verify's probe), by the namespace's path. */
export const inPodNetns = (nsPath: string, ...argv: string[]): string[] => [
  'nsenter',
  `--net=${nsPath}`,
  ...argv,
];

/** A command run the way a container runs: joined to the pause process's namespaces, maybe chrooted. */
export const inPod = (pid: number, chroot: string | undefined, argv: readonly string[]): string[] => [
  'nsenter',
  '--target',
  String(pid),
  '--net',
  '--uts',
  '--ipc',
  '--mount',
  `--pid=/proc/${pid}/ns/pid_for_children`,
  ...(chroot ? ['chroot', chroot] : []),
  ...argv,
];

/** `lab inspect`'s wire measurement: a bounded ping of 1000-byte packets from a pod… */
export const wirePing = (podNs: string, count: number, interval: string, dst: string): string[] => [
  'ip',
  'netns',
  'exec',
  podNs,
  'busybox',
  'ping',
  '-q',
  '-c',
  String(count),
  '-i',
  interval,
  '-s',
  '1000',
  '-W',
  '1',
  dst,
];

/** …and a bounded tshark capture of it on the lab's switch, as tab-separated fields. */
export const wireCapture = (switchNs: string, filter: string, fields: readonly string[]): string[] => [
  'timeout',
  '15',
  'ip',
  'netns',
  'exec',
  switchNs,
  'tshark',
  '-n',
  '-Q',
  '-i',
  'sw0',
  '-c',
  '4',
  '-a',
  'duration:10',
  '-f',
  filter,
  '-T',
  'fields',
  '-E',
  'separator=/t',
  ...fields.flatMap((f) => ['-e', f]),
];
