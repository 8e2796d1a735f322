/**
 * rtnetlink messages as bytes: building requests and reading answers (linux/netlink.h, linux/rtnetlink.h,
 * linux/if_link.h). Pure: no sockets here. Only what podnet's CNI path sends is spelled out; every number is
 * named after its kernel constant so a reader can look it up.
 */

export const NLMSG = { ERROR: 2, DONE: 3 } as const;
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  NEWROUTE: 24,
} as const;
export const NLM_F = {
  REQUEST: 0x1,
  ACK: 0x4,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  /** In an NLMSG_ERROR: the echoed request was cut to its header (NETLINK_CAP_ACK). */
  CAPPED: 0x100,
  /** In an NLMSG_ERROR: extended-ack attributes follow (NETLINK_EXT_ACK). */
  ACK_TLVS: 0x200,
} as const;
export const IFLA = {
  ADDRESS: 1,
  IFNAME: 3,
  MTU: 4,
  MASTER: 10,
  LINKINFO: 18,
  NET_NS_FD: 28,
  EXT_MASK: 29,
} as const;
export const IFLA_INFO = { KIND: 1, DATA: 2, SLAVE_KIND: 4, SLAVE_DATA: 5 } as const;
export const VETH_INFO_PEER = 1;
export const IFLA_BRPORT_MODE = 4; // hairpin
export const IFA = { ADDRESS: 1, LOCAL: 2 } as const;
export const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PREFSRC: 7, METRICS: 8 } as const;
export const RTAX_MTU = 2;
export const AF_INET = 2;
export const IFF_UP = 0x1;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3; // what `ip route` uses unless told otherwise
export const RT_SCOPE = { UNIVERSE: 0, LINK: 253 } as const;
export const RTN_UNICAST = 1;
export const RTNH_F_ONLINK = 4;
/** RTEXT_FILTER_SKIP_STATS: a link answer without its statistics (smaller, cheaper). */
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;
/** Set by the kernel on nested attributes in answers; iproute2 does not set it in requests, nor do we. */
const NLA_F_NESTED = 1 << 15;
const NLMSGERR_ATTR_MSG = 1;

/** A netlink attribute: bytes, or nested attributes. */
export interface Attr {
  readonly type: number;
  readonly value: Buffer | readonly Attr[];
}

const align4 = (n: number) => (n + 3) & ~3;

export const u8 = (type: number, v: number): Attr => ({ type, value: Buffer.from([v]) });
export function u32(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return { type, value: b };
}
/** A NUL-terminated string, as the kernel expects for names and kinds. */
export const str = (type: number, s: string): Attr => ({ type, value: Buffer.from(`${s}\0`) });
export const ipv4 = (type: number, dotted: string): Attr => ({
  type,
  value: Buffer.from(dotted.split('.').map(Number)),
});
export function mac(type: number, text: string): Attr {
  return { type, value: Buffer.from(text.split(':').map((h) => Number.parseInt(h, 16))) };
}
export const nested = (type: number, attrs: readonly Attr[]): Attr => ({ type, value: attrs });

/** Bytes an attribute list takes on the wire (each attribute: 4-byte header + payload, padded to 4). */
function attrsLength(attrs: readonly Attr[]): number {
  let n = 0;
  for (const a of attrs)
    n += 4 + align4(Buffer.isBuffer(a.value) ? a.value.length : attrsLength(a.value as readonly Attr[]));
  return n;
}

/** Writes attributes into `buf` at `at` (zero-filled, long enough); returns the end. One allocation per message. */
function writeAttrs(buf: Buffer, at: number, attrs: readonly Attr[]): number {
  for (const a of attrs) {
    const start = at;
    if (Buffer.isBuffer(a.value)) {
      a.value.copy(buf, start + 4);
      at = start + 4 + a.value.length;
    } else at = writeAttrs(buf, start + 4, a.value as readonly Attr[]);
    buf.writeUInt16LE(at - start, start);
    buf.writeUInt16LE(a.type, start + 2);
    at = align4(at);
  }
  return at;
}

export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  const buf = Buffer.alloc(attrsLength(attrs));
  writeAttrs(buf, 0, attrs);
  return buf;
}

/** struct ifinfomsg (16 bytes). */
export function ifinfomsg(o: { index?: number; flags?: number; change?: number } = {}): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(0, 0); // AF_UNSPEC
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE(o.flags ?? 0, 8);
  b.writeUInt32LE(o.change ?? 0, 12);
  return b;
}

/** An ifinfomsg followed by attributes: the payload of VETH_INFO_PEER (linux/veth.h). */
export function ifinfoWithAttrs(attrs: readonly Attr[]): Buffer {
  const buf = Buffer.alloc(16 + attrsLength(attrs));
  writeAttrs(buf, 16, attrs);
  return buf;
}

/** struct ifaddrmsg (8 bytes), IPv4. */
export function ifaddrmsg(prefixlen: number, index: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(AF_INET, 0);
  b.writeUInt8(prefixlen, 1);
  b.writeUInt32LE(index, 4);
  return b;
}

/** struct rtmsg (12 bytes), IPv4, main table. */
export function rtmsg(o: { dstLen: number; scope: number; flags?: number }): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(AF_INET, 0);
  b.writeUInt8(o.dstLen, 1);
  b.writeUInt8(RT_TABLE_MAIN, 4);
  b.writeUInt8(RTPROT_BOOT, 5);
  b.writeUInt8(o.scope, 6);
  b.writeUInt8(RTN_UNICAST, 7);
  b.writeUInt32LE(o.flags ?? 0, 8);
  return b;
}

/** One request: nlmsghdr + fixed header + attributes. */
export function encodeMessage(
  type: number,
  flags: number,
  seq: number,
  header: Buffer,
  attrs: readonly Attr[] = [],
): Buffer {
  const buf = Buffer.alloc(16 + align4(header.length) + attrsLength(attrs));
  buf.writeUInt32LE(buf.length, 0);
  buf.writeUInt16LE(type, 4);
  buf.writeUInt16LE(flags, 6);
  buf.writeUInt32LE(seq, 8); // bytes 12..15, the port id, stay 0: the kernel fills in ours
  header.copy(buf, 16);
  writeAttrs(buf, 16 + align4(header.length), attrs);
  return buf;
}

export interface Message {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly payload: Buffer;
}

/** Splits a datagram into its messages. */
export function decodeMessages(buf: Buffer): Message[] {
  const out: Message[] = [];
  let at = 0;
  while (at + 16 <= buf.length) {
    const len = buf.readUInt32LE(at);
    if (len < 16 || at + len > buf.length) throw new Error(`malformed netlink message at byte ${at}`);
    out.push({
      type: buf.readUInt16LE(at + 4),
      flags: buf.readUInt16LE(at + 6),
      seq: buf.readUInt32LE(at + 8),
      payload: buf.subarray(at + 16, at + len),
    });
    at += align4(len);
  }
  return out;
}

/** Top-level attributes after a fixed header of `skip` bytes (nested ones are left as bytes). */
export function decodeAttrs(buf: Buffer, skip = 0): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let at = align4(skip);
  while (at + 4 <= buf.length) {
    const len = buf.readUInt16LE(at);
    if (len < 4 || at + len > buf.length) break;
    out.set(buf.readUInt16LE(at + 2) & ~NLA_F_NESTED, buf.subarray(at + 4, at + len));
    at += align4(len);
  }
  return out;
}

/** An NLMSG_ERROR answer: errno 0 is the ACK; otherwise the error and the kernel's own words, if it sent them. */
export function decodeError(m: Message): { errno: number; extack?: string } {
  const errno = -m.payload.readInt32LE(0) || 0; // the kernel sends -errno; 0 is the ACK (not -0)
  if (!(m.flags & NLM_F.ACK_TLVS)) return { errno };
  // After the error code: the request's header (only the header with NLM_F_CAPPED), then the TLVs.
  const echoed = m.flags & NLM_F.CAPPED ? 16 : m.payload.readUInt32LE(4);
  const msg = decodeAttrs(m.payload, 4 + echoed).get(NLMSGERR_ATTR_MSG);
  return msg ? { errno, extack: msg.toString('utf8').replace(/\0.*$/s, '') } : { errno };
}

/** The ifindex in an RTM_NEWLINK answer. */
export const ifindexOf = (m: Message): number => m.payload.readInt32LE(4);
