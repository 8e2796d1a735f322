import { nftReplaceTable } from '../nft.js';
import type { Netns, Op } from '../ops.js';
import type { BridgeModel, MasqueradeModel, TunnelModel } from './model.js';

/** The ops that create or change a node's own devices and settings, each with its explanation (pure). */

/** br_netfilter's namespace-wide switch; a key only while the module is loaded (then 1 in every new namespace). */
export const BR_NETFILTER_ALL = 'net.bridge.bridge-nf-call-iptables';

/** Why a bridge asks for br_netfilter (the proxy's and NetworkPolicy's reason, in one line). */
const HOOKS_WHY =
  "its bridged frames pass the IP hooks (br_netfilter, this bridge only), as the service proxy (a same-node endpoint's reply un-DNATed) or NetworkPolicy (pod-to-pod frames at the forward hook) needs";

export function bridgeHooksOp(ns: Netns, node: string, b: BridgeModel): Op {
  const on = !!b.nfCallIptables;
  return {
    kind: 'link.set-bridge',
    netns: ns,
    name: b.name,
    nfCallIptables: on,
    note: `${node}: bridge ${b.name}: ${on ? HOOKS_WHY : 'its bridged frames skip the IP hooks (no service proxy or NetworkPolicy needs them)'}`,
  };
}

export function createBridge(ns: Netns, node: string, b: BridgeModel): Op[] {
  return [
    {
      kind: 'link.add-bridge',
      netns: ns,
      name: b.name,
      mtu: b.mtu,
      mac: b.mac,
      ...(b.nfCallIptables ? { nfCallIptables: true } : {}),
      note: `${node}: create bridge ${b.name} with a fixed MAC, the virtual switch every pod on this node plugs into${b.nfCallIptables ? `; ${HOOKS_WHY}` : ''}`,
    },
    ...[b.address, ...(b.moreAddresses ?? [])].filter(Boolean).map(
      (cidr): Op => ({
        kind: 'addr.add',
        netns: ns,
        dev: b.name,
        cidr,
        note: `${node}: give the bridge the pod CIDR's gateway address, pods' next hop off the node`,
      }),
    ),
    linkUp(ns, node, b.name, 'the bridge'),
  ];
}

export function sysctlOp(ns: Netns, node: string, key: string, value: string): Op {
  const why: Record<string, string> = {
    'net.ipv4.ip_forward': 'forward packets between interfaces (bridge <-> uplink)',
    [BR_NETFILTER_ALL]:
      value === '0'
        ? "br_netfilter off for the namespace's bridges: bridged frames skip the IP hooks unless their bridge asks (nf_call_iptables); nothing to do where br_netfilter is not loaded"
        : 'bridged frames of every bridge in the namespace pass the IP hooks (br_netfilter)',
  };
  const redirects = /^net\.ipv4\.conf\.(.+)\.send_redirects$/.exec(key)?.[1];
  return {
    kind: 'sysctl.set',
    netns: ns,
    key,
    value,
    ...(optionalSysctl(key, value) ? { ifPresent: true } : {}),
    note: `${node}: ${
      why[key] ??
      (redirects
        ? `no ICMP redirects from ${redirects === 'all' ? 'any interface' : `bridge ${redirects}`}: pods keep routing through their gateway`
        : `set ${key}`)
    }`,
  };
}

/** A setting that is already met where the kernel lacks the key: br_netfilter off, br_netfilter not loaded. */
export const optionalSysctl = (key: string, value: string): boolean =>
  key === BR_NETFILTER_ALL && value === '0';

/** What cannot change in place: a different value means delete and create again. */
export function tunnelKey(t: TunnelModel): string {
  if (t.kind === 'ipip') return `ipip local ${t.local}`;
  return `vxlan id ${t.vni} local ${t.local} dev ${t.dev} dstport ${t.port}${t.group ? ` group ${t.group}` : ''}${t.learning ? '' : ' nolearning'}${t.mac ? ` address ${t.mac}` : ''}`;
}

/** The observed device matches the wanted one (its MAC only when the model fixes one: multicast's is random). */
export const sameTunnel = (seen: TunnelModel, want: TunnelModel) =>
  seen.name === want.name &&
  tunnelKey(
    seen.kind === 'vxlan' && want.kind === 'vxlan' && !want.mac ? { ...seen, mac: undefined } : seen,
  ) === tunnelKey(want);

/** `ip link set NAME up`, explained as bringing `what` up (the bridge, the tunnel, a device by name). */
export const linkUp = (ns: Netns, node: string, name: string, what: string): Op => ({
  kind: 'link.set',
  netns: ns,
  name,
  up: true,
  note: `${node}: bring ${what} up`,
});

export const linkDel = (ns: Netns, node: string, name: string): Op => ({
  kind: 'link.del',
  netns: ns,
  name,
  note: `${node}: delete ${name}: not the desired device (its routes and entries go with it)`,
});

export function tunnelAddr(ns: Netns, node: string, t: TunnelModel, cidr: string): Op {
  return {
    kind: 'addr.add',
    netns: ns,
    dev: t.name,
    cidr,
    note:
      t.kind === 'vxlan'
        ? `${node}: the VTEP address, the network address of the node's pod CIDR`
        : `${node}: the tunnel's own address (the pod CIDR's network address), used when the node itself talks to remote pods`,
  };
}

export function createTunnel(ns: Netns, node: string, t: TunnelModel): Op[] {
  if (t.kind === 'ipip')
    return [
      {
        kind: 'link.add-ipip',
        netns: ns,
        name: t.name,
        local: t.local,
        mtu: t.mtu,
        note: `${node}: IP-in-IP device with local ${t.local} and no remote: one device reaches every node`,
      },
      tunnelAddr(ns, node, t, t.address),
      linkUp(ns, node, t.name, 'the tunnel'),
    ];
  const dev: Op = {
    kind: 'link.add-vxlan',
    netns: ns,
    name: t.name,
    vni: t.vni,
    local: t.local,
    dev: t.dev,
    port: t.port,
    ...(t.group ? { group: t.group } : {}),
    learning: t.learning,
    ...(t.mac ? { mac: t.mac } : {}),
    mtu: t.mtu,
    note: t.group
      ? `${node}: VXLAN device (VNI ${t.vni}, UDP ${t.port}) that floods unknown MACs to group ${t.group} and learns where each MAC lives`
      : `${node}: VXLAN device (VNI ${t.vni}, UDP ${t.port}), no learning: peers are programmed, one entry each`,
  };
  if (t.master)
    return [
      dev,
      {
        kind: 'link.set',
        netns: ns,
        name: t.name,
        master: t.master,
        up: true,
        note: `${node}: plug the VXLAN device into bridge ${t.master}: all nodes' bridges form one L2 segment`,
      },
    ];
  return [
    dev,
    ...(t.address ? [tunnelAddr(ns, node, t, t.address)] : []),
    linkUp(ns, node, t.name, 'the VXLAN device'),
  ];
}

/** The CNI plugin's egress masquerade: its own table, one postrouting rule per pod subnet. */
export function masqueradeOp(ns: Netns, m: MasqueradeModel): Op {
  const table = { family: 'ip' as const, table: m.table };
  const chain = 'postrouting';
  return {
    kind: 'nft.tx',
    netns: ns,
    tx: nftReplaceTable(
      table,
      [{ ...table, chain, base: { type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' } }],
      m.subnets.map((s) => ({
        ...table,
        chain,
        expr: `ip saddr ${s} ip daddr != ${s} masquerade`,
        comment: `podnet cni ${m.owner.replace(/^network /, '')}: pods leaving ${s}`,
      })),
    ),
    note: `${m.owner}: masquerade pod traffic that leaves the pod subnet (ipMasq)`,
  };
}

export function removeMasqueradeOp(ns: Netns, m: MasqueradeModel): Op {
  return {
    kind: 'nft.tx',
    netns: ns,
    tx: [{ verb: 'delete', table: { family: 'ip', table: m.table } }],
    note: `${m.owner}: no masquerade wanted: remove table ip ${m.table}`,
  };
}
