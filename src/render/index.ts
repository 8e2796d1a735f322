import type { Arg, Command } from '../exec/runner.js';
import type { Netns, Op } from '../plan/ops.js';
import { policyDiffTx, policyFullTx, policyRemoveTx, policySet } from '../plan/policy/nftables.js';
import { bridgeIn, execIn, ipIn, netIn } from './netns.js';
import { renderNftTx } from './nft.js';
import { netfilterRequest } from './nft-netlink/batch.js';

const pidArg = (v: string, before = '', after = ''): Arg => ({ var: v, before, after });

type Renderers = { [K in Op['kind']]: (op: Extract<Op, { kind: K }>) => Omit<Command, 'note'> };

/** The namespace file a netlink request goes to (undefined: the runner's own). */
const netnsPathOf = (ns: Netns): string | undefined =>
  ns.kind === 'host' ? undefined : ns.kind === 'named' ? `/run/netns/${ns.name}` : ns.path;
const opt = (cond: unknown, ...args: string[]): string[] => (cond ? args : []);

/** One renderer per op kind; the map is exhaustive, so a new op kind does not compile without one. */
const renderers: Renderers = {
  'netns.add': (op) => ({ argv: ['ip', 'netns', 'add', op.name] }),
  'netns.attach': (op) => ({ argv: ['ip', 'netns', 'attach', op.name, pidArg(op.pid)] }),
  'netns.del': (op) => ({ argv: ['ip', 'netns', 'del', op.name] }),
  'link.add-bridge': (op) => ({
    argv: ipIn(
      op.netns,
      'link',
      'add',
      op.name,
      ...opt(op.mac, 'address', op.mac ?? ''),
      ...opt(op.mtu, 'mtu', String(op.mtu)),
      'type',
      'bridge',
      ...opt(op.nfCallIptables, 'nf_call_iptables', '1'),
    ),
  }),
  'link.set-bridge': (op) => ({
    argv: ipIn(
      op.netns,
      'link',
      'set',
      op.name,
      'type',
      'bridge',
      'nf_call_iptables',
      op.nfCallIptables ? '1' : '0',
    ),
  }),
  'link.add-veth': (op) => {
    // One TX and one RX queue, asked for on both ends. Unasked, the kernel gives a veth a queue per CPU and then
    // cuts the active count to one, and that cut waits for an expedited RCU grace period (synchronize_net) under
    // the RTNL lock: milliseconds per end on a busy VM (docs/cni.md), for every pod. A veth uses one either way.
    const each = [...opt(op.mtu, 'mtu', String(op.mtu)), 'numtxqueues', '1', 'numrxqueues', '1'];
    const peerNs =
      op.peerNetns.kind === 'host'
        ? []
        : ['netns', op.peerNetns.kind === 'named' ? op.peerNetns.name : op.peerNetns.path];
    return {
      argv: ipIn(
        op.netns,
        'link',
        'add',
        op.name,
        ...each,
        'type',
        'veth',
        'peer',
        'name',
        op.peer,
        ...opt(op.peerMac, 'address', op.peerMac ?? ''),
        ...each,
        ...peerNs,
      ),
    };
  },
  'link.add-vxlan': (op) => ({
    argv: ipIn(
      op.netns,
      'link',
      'add',
      op.name,
      ...opt(op.mac, 'address', op.mac ?? ''),
      ...opt(op.mtu, 'mtu', String(op.mtu)),
      'type',
      'vxlan',
      'id',
      String(op.vni),
      'local',
      op.local,
      ...opt(op.group, 'group', op.group ?? ''),
      ...opt(op.dev, 'dev', op.dev ?? ''),
      'dstport',
      String(op.port),
      ...opt(!op.learning, 'nolearning'),
    ),
  }),
  'link.add-ipip': (op) => ({
    argv: ipIn(
      op.netns,
      'link',
      'add',
      op.name,
      ...opt(op.mtu, 'mtu', String(op.mtu)),
      'type',
      'ipip',
      'local',
      op.local,
    ),
  }),
  'link.set': (op) => ({
    argv: ipIn(
      op.netns,
      'link',
      'set',
      op.name,
      ...opt(op.master, 'master', op.master ?? ''),
      ...opt(op.mtu, 'mtu', String(op.mtu)),
      ...opt(op.mac, 'address', op.mac ?? ''),
      ...opt(op.up !== undefined, op.up ? 'up' : 'down'),
    ),
  }),
  'link.del': (op) => ({ argv: ipIn(op.netns, 'link', 'del', op.name) }),
  // `ip link set … type bridge_slave` is `bridge link set … hairpin` in a form `ip -batch` accepts.
  'bridge.port': (op) => ({
    argv: ipIn(
      op.netns,
      'link',
      'set',
      'dev',
      op.dev,
      'type',
      'bridge_slave',
      'hairpin',
      op.hairpin ? 'on' : 'off',
    ),
  }),
  'addr.add': (op) => ({ argv: ipIn(op.netns, 'addr', 'replace', op.cidr, 'dev', op.dev) }),
  'route.replace': (op) => ({
    argv: ipIn(
      op.netns,
      'route',
      'replace',
      op.dst,
      ...opt(op.via, 'via', op.via ?? ''),
      ...opt(op.dev, 'dev', op.dev ?? ''),
      ...opt(op.onlink, 'onlink'),
      ...opt(op.src, 'src', op.src ?? ''),
      ...opt(op.mtu, 'mtu', String(op.mtu)),
      ...opt(op.proto, 'proto', String(op.proto)),
    ),
  }),
  'route.del': (op) => ({
    argv: ipIn(
      op.netns,
      'route',
      'del',
      op.dst,
      ...opt(op.dev, 'dev', op.dev ?? ''),
      ...opt(op.proto, 'proto', String(op.proto)),
    ),
  }),
  'neigh.replace': (op) => ({
    argv: ipIn(op.netns, 'neigh', 'replace', op.ip, 'lladdr', op.mac, 'dev', op.dev, 'nud', 'permanent'),
  }),
  'neigh.del': (op) => ({ argv: ipIn(op.netns, 'neigh', 'del', op.ip, 'dev', op.dev) }),
  'fdb.append': (op) => ({ argv: bridgeIn(op.netns, 'fdb', 'append', op.mac, 'dev', op.dev, 'dst', op.dst) }),
  'fdb.replace': (op) => ({
    argv: bridgeIn(op.netns, 'fdb', 'replace', op.mac, 'dev', op.dev, 'dst', op.dst, 'self', 'permanent'),
  }),
  'fdb.del': (op) => ({
    argv: bridgeIn(op.netns, 'fdb', 'del', op.mac, 'dev', op.dev, ...opt(op.dst, 'dst', op.dst ?? '')),
  }),
  'sysctl.set': (op) => ({
    argv: execIn(op.netns, 'sysctl', '-q', ...opt(op.ifPresent, '-e'), '-w', `${op.key}=${op.value}`),
  }),
  'nft.apply': (op) => ({ argv: execIn(op.netns, 'nft', '-f', '-'), stdin: op.script }),
  'nft.tx': (op) => ({
    argv: execIn(op.netns, 'nft', '-f', '-'),
    stdin: renderNftTx(op.tx),
    netfilter: netfilterRequest(netnsPathOf(op.netns), op.tx, (i) =>
      renderNftTx(op.tx.slice(i, i + 1)).trim(),
    ),
  }),
  // Exit status 1 with "0 flow entries have been deleted" is success for a sync: see exec isNothingToDelete.
  'conntrack.delete': (op) => ({
    argv: execIn(
      op.netns,
      'conntrack',
      '-D',
      '-p',
      op.protocol,
      ...opt(op.origDst, '--orig-dst', op.origDst ?? ''),
      ...opt(op.origDstPort, '--orig-port-dst', String(op.origDstPort)),
      '--reply-src',
      op.replySrc,
    ),
  }),
  'nft.policy': (op) => {
    const tx = !op.next ? policyRemoveTx() : op.prev ? policyDiffTx(op.prev, op.next) : policyFullTx(op.next);
    let text: string | undefined;
    return {
      argv: netIn(op.netns, 'nft', '-f', '-'),
      // Rendered when read (a dry run, explain, `nft -f`): the netlink path does not need the text.
      get stdin() {
        text ??= tx.length ? renderNftTx(tx) : '';
        return text;
      },
      netfilter: netfilterRequest(
        netnsPathOf(op.netns),
        tx,
        (i) => renderNftTx(tx.slice(i, i + 1)).trim(),
        (_table, name) => policySet(name),
      ),
    };
  },
  // One conntrack process per node: -R reads one command per line from the file (conntrackDeletions), and a
  // line matching nothing is not an error. (conntrack cannot read -R from a pipe.)
  'conntrack.delete-flows': (op) => ({ argv: netIn(op.netns, 'conntrack', '-R', op.file) }),
  'iptables.restore': (op) => ({
    argv: execIn(op.netns, 'iptables-restore', '--noflush'),
    stdin: op.script,
  }),
  'file.write': (op) => ({ argv: ['install', '-D', '-m', '0644', '/dev/stdin', op.path], stdin: op.content }),
  'pod.pause': (op) => ({
    // -f fork, -p pid, -n net, -u uts, -i ipc, -m mount (+ private /proc), -C cgroup: the seed's `unshare -Cunimpf`.
    // --kill-child makes the pod's PID 1 die with this process, so one SIGKILL tears the whole pod down.
    argv: ['unshare', '--fork', '--kill-child', '--pid', ...PAUSE_REST],
    daemon: { pidVar: op.pid, log: op.log, tag: `${op.pod}/pause`, newNetns: true },
    // A spawner makes the PID namespace on its thread: `sleep` itself is the pod's PID 1, with no unshare
    // parent waiting for it (killing PID 1 ends the pod's PID namespace, as --kill-child did).
    direct: { pidNs: 'new', argv: ['unshare', ...PAUSE_REST] },
  }),
  'pod.hostname': (op) => ({
    argv: ['nsenter', '--target', pidArg(op.pid), '--uts', 'hostname', op.hostname],
    direct: { hostname: { uts: pidArg(op.pid, '/proc/', '/ns/uts'), name: op.hostname } },
  }),
  'pod.mount-overlay': (op) => ({
    argv: [
      'nsenter',
      '--target',
      pidArg(op.pid),
      '--mount',
      'mount',
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${op.lower},upperdir=${op.upper},workdir=${op.work}`,
      op.merged,
    ],
  }),
  'pod.container': (op) => {
    const program = [
      ...(op.container.chroot ? ['chroot', op.container.chroot] : []),
      ...op.container.command,
    ];
    const enter = ['nsenter', '--target', pidArg(op.pid), '--net', '--uts', '--ipc', '--mount'] as const;
    return {
      argv: [...enter, pidArg(op.pid, '--pid=/proc/', '/ns/pid_for_children'), ...program],
      daemon: { log: op.container.log, tag: `${op.pod}/${op.container.name}` },
      // A spawner enters the pod's namespaces on its thread (PID, then nsenter's ipc, uts, net, mount), so
      // the container starts in them with neither an nsenter exec nor a waiting nsenter parent.
      direct: {
        pidNs: pidArg(op.pid, '/proc/', '/ns/pid_for_children'),
        enter: { pid: pidArg(op.pid), ns: ['ipc', 'uts', 'net', 'mnt'] },
        argv: program as [string, ...string[]],
      },
    };
  },
};

/** The pause process's namespaces after the PID one (-n net, -u uts, -i ipc, -m mount with a private /proc, -C cgroup). */
const PAUSE_REST = ['--mount-proc', '--net', '--uts', '--ipc', '--mount', '--cgroup', 'sleep', 'infinity'];

/** Renders one op to the exact command that realizes it, carrying the op's note as its explanation. */
export function render(op: Op): Command {
  const r = renderers[op.kind] as (o: Op) => Omit<Command, 'note'>;
  const cmd = r(op);
  return op.note ? { ...cmd, note: op.note } : cmd;
}

/** The content of a conntrack.delete-flows op's file: one `-D` command per flow. */
export function conntrackDeletions(op: Extract<Op, { kind: 'conntrack.delete-flows' }>): string {
  return op.flows
    .map(
      (f) =>
        `-D -p ${f.protocol}${f.src ? ` --orig-src ${f.src}` : ''} --reply-src ${f.replySrc} --reply-port-src ${f.replyPort}\n`,
    )
    .join('');
}
