import {
  AF_BRIDGE,
  AF_INET,
  type Attr,
  be16,
  IFLA,
  IFLA_INFO,
  IFLA_VXLAN,
  ifinfomsg,
  ipv4,
  kind,
  mac,
  NDA,
  NLM_F,
  NTF_SELF,
  NUD_NOARP,
  NUD_PERMANENT,
  ndmsg,
  nested,
  RTM,
  str,
  u8,
  u32,
} from '../exec/netlink/codec.js';
import type { Op } from '../plan/ops.js';

/** One rtnetlink request, before its nlmsghdr (the socket adds REQUEST|ACK and the sequence number). */
export interface Request {
  readonly type: number;
  readonly flags: number;
  readonly header: Uint8Array;
  readonly attrs: readonly Attr[];
}

/** Looks up the index of a link in the op's namespace (throws when there is none, as `ip` fails). */
export type IndexOf = (name: string) => number;

/**
 * The requests iproute2 6.1 sends for the lab's node entries: the same attributes in the same order, so the
 * bytes match what `strace` shows for the rendered command (src/apply/netlink-messages.test.ts holds such captures).
 * Pure: indices come from `indexOf`.
 */
export function vxlanRequest(op: Extract<Op, { kind: 'link.add-vxlan' }>, indexOf: IndexOf): Request {
  // `ip link add … type vxlan` always sends LEARNING; LINK only with `dev`, GROUP only with `group`.
  const data: Attr[] = [
    ...(op.dev ? [u32(IFLA_VXLAN.LINK, indexOf(op.dev))] : []),
    u32(IFLA_VXLAN.ID, op.vni),
    ipv4(IFLA_VXLAN.LOCAL, op.local),
    ...(op.group ? [ipv4(IFLA_VXLAN.GROUP, op.group)] : []),
    u8(IFLA_VXLAN.LEARNING, op.learning ? 1 : 0),
    be16(IFLA_VXLAN.PORT, op.port),
  ];
  return {
    type: RTM.NEWLINK,
    flags: NLM_F.CREATE | NLM_F.EXCL,
    header: ifinfomsg(),
    attrs: [
      ...(op.mac ? [mac(IFLA.ADDRESS, op.mac)] : []),
      ...(op.mtu ? [u32(IFLA.MTU, op.mtu)] : []),
      str(IFLA.IFNAME, op.name),
      nested(IFLA.LINKINFO, [kind(IFLA_INFO.KIND, 'vxlan'), nested(IFLA_INFO.DATA, data)]),
    ],
  };
}

/** `ip neigh replace IP lladdr MAC dev DEV nud permanent`. */
export function neighRequest(op: Extract<Op, { kind: 'neigh.replace' }>, indexOf: IndexOf): Request {
  return {
    type: RTM.NEWNEIGH,
    flags: NLM_F.CREATE | NLM_F.REPLACE,
    header: ndmsg({ family: AF_INET, index: indexOf(op.dev), state: NUD_PERMANENT }),
    attrs: [ipv4(NDA.DST, op.ip), mac(NDA.LLADDR, op.mac)],
  };
}

/**
 * `bridge fdb replace MAC dev DEV dst IP self permanent` and `bridge fdb append MAC dev DEV dst IP`: both are
 * NOARP|PERMANENT entries of the device itself (NTF_SELF), bridge's defaults; append adds a destination.
 */
export function fdbRequest(
  op: Extract<Op, { kind: 'fdb.replace' | 'fdb.append' }>,
  indexOf: IndexOf,
): Request {
  return {
    type: RTM.NEWNEIGH,
    flags: NLM_F.CREATE | (op.kind === 'fdb.append' ? NLM_F.APPEND : NLM_F.REPLACE),
    header: ndmsg({
      family: AF_BRIDGE,
      index: indexOf(op.dev),
      state: NUD_NOARP | NUD_PERMANENT,
      flags: NTF_SELF,
    }),
    attrs: [mac(NDA.LLADDR, op.mac), ipv4(NDA.DST, op.dst)],
  };
}
