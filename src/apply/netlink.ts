import { closeSync, writeSync } from 'node:fs';
import { KernelError } from '../errors.js';
import {
  type Attr,
  IFA,
  IFF_UP,
  IFLA,
  IFLA_BR_NF_CALL_IPTABLES,
  IFLA_BRPORT_MODE,
  IFLA_INFO,
  ifaddrmsg,
  ifinfomsg,
  ifinfoWithAttrs,
  ipv4,
  kind,
  mac,
  NLM_F,
  nested,
  RT_SCOPE,
  RTA,
  RTAX_MTU,
  RTM,
  RTNH_F_ONLINK,
  rtmsg,
  str,
  u8,
  u32,
  VETH_INFO_PEER,
} from '../exec/netlink/codec.js';
import { ENODEV } from '../exec/netlink/errno.js';
import type { NativeKernel } from '../exec/netlink/native.js';
import { NetfilterSender } from '../exec/netlink/nft-batch.js';
import { RouteSocket, withNetnsFd } from '../exec/netlink/socket.js';
import type { Runner } from '../exec/runner.js';
import { writeOwnSysctl } from '../exec/sysctl.js';
import type { Netns, Op, Plan } from '../plan/ops.js';
import { render } from '../render/index.js';
import { applyError, runOp } from './apply.js';
import { fdbRequest, neighRequest, type Request, vxlanRequest } from './netlink-messages.js';

/**
 * Applies a plan from inside this process over rtnetlink, for the ops a CNI attachment is made of: no `ip`
 * process per namespace, so an ADD costs microseconds of kernel work instead of milliseconds of fork and exec.
 * Each op sends exactly what its rendered `ip` command sends (the same flags, defaults and attributes), so the
 * printed commands (`--dry-run`, the golden scripts) stay the explanation of what happens; nftables
 * transactions go as one nfnetlink batch (exec/netlink/nft-batch.ts). Ops it does not speak (conntrack,
 * processes, nftables it cannot encode) go to the fallback runner as their rendered commands.
 */
export class NetlinkApplier {
  private readonly sockets = new Map<string, RouteSocket>();
  private readonly netfilter: NetfilterSender;

  constructor(
    private readonly native: NativeKernel,
    private readonly fallback: Runner,
  ) {
    this.netfilter = new NetfilterSender(native);
  }

  /** Runs a plan phase by phase, op by op, with apply()'s error rule (applyError): same plans, same failures. */
  async apply(plan: Plan, onPhase?: (title: string, ms: number) => void): Promise<void> {
    const total = plan.reduce((n, p) => n + p.ops.length, 0);
    let index = 0;
    for (const phase of plan) {
      const started = onPhase ? process.uptime() * 1000 : 0;
      for (const op of phase.ops) {
        try {
          if (!this.applyOp(op)) await runOp(op, render(op), this.fallback);
        } catch (err) {
          const e = applyError(op, index, total, err);
          if (e) throw e;
        }
        index++;
      }
      onPhase?.(phase.title, process.uptime() * 1000 - started);
    }
  }

  /** Whether applyOp would take `op` (no side effect): the batching applier stops a group of `ip` lines there. */
  speaks(op: Op): boolean {
    switch (op.kind) {
      case 'link.add-bridge':
      case 'link.add-veth':
      case 'link.add-vxlan':
      case 'link.del':
      case 'bridge.port':
      case 'addr.add':
      case 'route.replace':
      case 'neigh.replace':
      case 'fdb.replace':
      case 'fdb.append':
        return true;
      case 'link.set':
        return !op.mac;
      case 'sysctl.set':
        // Other namespaces' /proc/sys/net is opened from inside them (the addon's sysctlFile).
        return op.netns.kind === 'host' || (op.key.startsWith('net.') && !!this.native.sysctlFile);
      case 'netns.add':
        return !!this.native.netnsAdd;
      default:
        return false;
    }
  }

  /** One op over netlink; false when it is not one this applier speaks. Throws KernelError on refusal. */
  applyOp(op: Op): boolean {
    if (op.kind === 'netns.add' && this.native.netnsAdd) {
      // iproute2's netns_add in this process: the same mounts and unshare, without the `ip` process.
      try {
        this.native.netnsAdd(op.name);
      } catch (e) {
        const errno = Number(/^ERRNO_(\d+)$/.exec((e as { code?: string }).code ?? '')?.[1] ?? 0);
        throw new KernelError(`ip netns add ${op.name}`, errno, (e as Error).message, 'system call');
      }
      return true;
    }
    if (!('netns' in op) || !this.speaks(op)) return false;
    const what = () => render(op).argv.join(' ');
    const send = (r: Request) => this.socket(op.netns).request(what, r.type, r.flags, r.header, r.attrs);
    const indexIn = (ns: Netns) => (name: string) => this.index(this.socket(ns), name, what);
    switch (op.kind) {
      case 'link.add-vxlan':
        send(vxlanRequest(op, indexIn(op.netns)));
        return true;
      case 'neigh.replace':
        send(neighRequest(op, indexIn(op.netns)));
        return true;
      case 'fdb.replace':
      case 'fdb.append':
        send(fdbRequest(op, indexIn(op.netns)));
        return true;
      case 'link.add-bridge':
        this.socket(op.netns).request(what, RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, ifinfomsg(), [
          str(IFLA.IFNAME, op.name),
          ...(op.mac ? [mac(IFLA.ADDRESS, op.mac)] : []),
          ...(op.mtu ? [u32(IFLA.MTU, op.mtu)] : []),
          nested(IFLA.LINKINFO, [
            kind(IFLA_INFO.KIND, 'bridge'),
            ...(op.nfCallIptables ? [nested(IFLA_INFO.DATA, [u8(IFLA_BR_NF_CALL_IPTABLES, 1)])] : []),
          ]),
        ]);
        return true;
      case 'link.set-bridge':
        this.socket(op.netns).request(what, RTM.NEWLINK, 0, ifinfomsg(), [
          str(IFLA.IFNAME, op.name),
          nested(IFLA.LINKINFO, [
            kind(IFLA_INFO.KIND, 'bridge'),
            nested(IFLA_INFO.DATA, [u8(IFLA_BR_NF_CALL_IPTABLES, op.nfCallIptables ? 1 : 0)]),
          ]),
        ]);
        return true;
      case 'link.add-veth': {
        const mtu = op.mtu ? [u32(IFLA.MTU, op.mtu)] : [];
        // One queue each way, asked for (render/index.ts says why).
        const queues = [u32(IFLA.NUM_TX_QUEUES, 1), u32(IFLA.NUM_RX_QUEUES, 1)];
        const add = (peerNsFd?: number) => {
          // VETH_INFO_PEER is an ifinfomsg followed by the peer's attributes (linux/veth.h).
          const peer = ifinfoWithAttrs([
            str(IFLA.IFNAME, op.peer),
            ...(op.peerMac ? [mac(IFLA.ADDRESS, op.peerMac)] : []),
            ...mtu,
            ...queues,
            ...(peerNsFd !== undefined ? [u32(IFLA.NET_NS_FD, peerNsFd)] : []),
          ]);
          this.socket(op.netns).request(what, RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, ifinfomsg(), [
            str(IFLA.IFNAME, op.name),
            ...mtu,
            ...queues,
            nested(IFLA.LINKINFO, [
              kind(IFLA_INFO.KIND, 'veth'),
              nested(IFLA_INFO.DATA, [{ type: VETH_INFO_PEER, value: peer }]),
            ]),
          ]);
        };
        if (op.peerNetns.kind === 'host') add();
        else withNetnsFd(pathOf(op.peerNetns), add);
        return true;
      }
      case 'link.set': {
        if (op.mac) return false;
        const s = this.socket(op.netns);
        const attrs: Attr[] = [str(IFLA.IFNAME, op.name)];
        if (op.master) attrs.push(u32(IFLA.MASTER, this.index(s, op.master, what)));
        if (op.mtu) attrs.push(u32(IFLA.MTU, op.mtu));
        const flags = op.up === undefined ? {} : { flags: op.up ? IFF_UP : 0, change: IFF_UP };
        s.request(what, RTM.NEWLINK, 0, ifinfomsg(flags), attrs);
        return true;
      }
      case 'link.del':
        // Whatever the deletion takes with it (a veth's peer, in another namespace) must be looked up anew.
        for (const s of this.sockets.values()) s.forgetLinks();
        this.socket(op.netns).request(what, RTM.DELLINK, 0, ifinfomsg(), [str(IFLA.IFNAME, op.name)]);
        return true;
      case 'bridge.port':
        this.socket(op.netns).request(what, RTM.NEWLINK, 0, ifinfomsg(), [
          str(IFLA.IFNAME, op.dev),
          nested(IFLA.LINKINFO, [
            kind(IFLA_INFO.SLAVE_KIND, 'bridge'),
            nested(IFLA_INFO.SLAVE_DATA, [u8(IFLA_BRPORT_MODE, op.hairpin ? 1 : 0)]),
          ]),
        ]);
        return true;
      case 'addr.add': {
        const s = this.socket(op.netns);
        const [ip, prefix] = splitCidr(op.cidr);
        s.request(
          what,
          RTM.NEWADDR,
          NLM_F.CREATE | NLM_F.REPLACE,
          ifaddrmsg(prefix, this.index(s, op.dev, what)),
          [ipv4(IFA.LOCAL, ip), ipv4(IFA.ADDRESS, ip)],
        );
        return true;
      }
      case 'route.replace': {
        const s = this.socket(op.netns);
        const [dst, dstLen] = op.dst === 'default' ? ['0.0.0.0', 0] : splitCidr(op.dst);
        const attrs: Attr[] = [];
        if (dstLen > 0) attrs.push(ipv4(RTA.DST, dst));
        if (op.via) attrs.push(ipv4(RTA.GATEWAY, op.via));
        if (op.dev) attrs.push(u32(RTA.OIF, this.index(s, op.dev, what)));
        if (op.src) attrs.push(ipv4(RTA.PREFSRC, op.src));
        if (op.mtu) attrs.push(nested(RTA.METRICS, [u32(RTAX_MTU, op.mtu)]));
        // As `ip route`: a route without a gateway is scope link, one with a gateway scope universe.
        const header = rtmsg({
          dstLen,
          scope: op.via ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK,
          flags: op.onlink ? RTNH_F_ONLINK : 0,
          ...(op.proto ? { protocol: op.proto } : {}),
        });
        s.request(what, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.REPLACE, header, attrs);
        return true;
      }
      case 'nft.tx':
      case 'nft.policy': {
        // One nfnetlink batch instead of `nft -f -` (false: something in it is not encoded; nft runs it).
        const req = render(op).netfilter;
        return req !== undefined && this.netfilter.send(req);
      }
      case 'sysctl.set':
        // /proc/sys/net shows the namespace of the thread that opens it: ours, or the op's through the addon.
        try {
          if (op.netns.kind === 'host') writeOwnSysctl(op.key, op.value);
          else writeNetnsSysctl(this.native, pathOf(op.netns), op.key, op.value, what);
        } catch (e) {
          // `sysctl -e`: a key its module would create, absent because the module is not loaded.
          const absent =
            (e as NodeJS.ErrnoException).code === 'ENOENT' ||
            (e instanceof KernelError && Math.abs(e.errno) === 2);
          if (!(op.ifPresent && absent)) throw e;
        }
        return true;
      default:
        return false;
    }
  }

  /** Whether namespace `ns` has a link called `name` (one GETLINK; no listing of every link). */
  hasLink(ns: Netns, name: string): boolean {
    return this.socket(ns).linkIndex(name) !== undefined;
  }

  /** The kind of link `name` in `ns` ('' when it has none, e.g. loopback), or undefined when it is absent. */
  linkKind(ns: Netns, name: string): string | undefined {
    return this.socket(ns).linkKind(name);
  }

  /**
   * Forgets the link indices looked up so far: a long-lived user (the node agent) calls it before each apply, since
   * a link deleted and made again by someone else since comes back with another index.
   */
  forgetLinks(): void {
    for (const s of this.sockets.values()) s.forgetLinks();
  }

  close(): void {
    this.netfilter.close();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  private socket(ns: Netns): RouteSocket {
    const key = ns.kind === 'host' ? '' : pathOf(ns);
    let s = this.sockets.get(key);
    if (!s) {
      s = RouteSocket.open(this.native, ns.kind === 'host' ? undefined : pathOf(ns));
      this.sockets.set(key, s);
    }
    return s;
  }

  private index(s: RouteSocket, name: string, what: () => string): number {
    const i = s.linkIndex(name);
    if (i === undefined) throw new KernelError(what(), ENODEV, `Cannot find device "${name}"`);
    return i;
  }
}

/** `sysctl -w` inside a namespace: what procps writes (the value and a newline) to the file opened there. */
function writeNetnsSysctl(
  native: NativeKernel,
  netnsPath: string,
  key: string,
  value: string,
  what: () => string,
): void {
  let fd: number;
  try {
    fd = withNetnsFd(netnsPath, (ns) =>
      native.sysctlFile!(ns, key.slice('net.'.length).replaceAll('.', '/')),
    );
  } catch (e) {
    const errno = Number(/^ERRNO_(\d+)$/.exec((e as { code?: string }).code ?? '')?.[1] ?? 0);
    throw new KernelError(what(), errno, `cannot open '${key}' (${(e as Error).message})`);
  }
  try {
    writeSync(fd, `${value}\n`);
  } catch (e) {
    const errno = -((e as { errno?: number }).errno ?? 0);
    throw new KernelError(what(), errno, `cannot set '${key}' to '${value}' (${(e as Error).message})`);
  } finally {
    closeSync(fd);
  }
}

const pathOf = (ns: Exclude<Netns, { kind: 'host' }>): string =>
  ns.kind === 'named' ? `/run/netns/${ns.name}` : ns.path;

/** "10.0.0.1/24" → ["10.0.0.1", 24]; a bare address is a /32, as for `ip`. */
function splitCidr(text: string): [string, number] {
  const [ip, len] = text.split('/');
  return [ip!, len === undefined ? 32 : Number(len)];
}
