import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { KernelError } from '../../errors.js';
import {
  type Attr,
  decodeAttrs,
  decodeError,
  decodeMessages,
  encodeMessage,
  IFLA,
  IFLA_INFO,
  ifindexOf,
  ifinfomsg,
  type Message,
  NLM_F,
  NLMSG,
  RTEXT_FILTER_SKIP_STATS,
  RTM,
  str,
  u32,
} from './codec.js';
import { ENODEV } from './errno.js';
import type { NativeKernel } from './native.js';

/** strerror() for the answers podnet meets, worded as iproute2 prints them. */
const REASONS: Record<number, string> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  3: 'No such process',
  16: 'Device or resource busy',
  17: 'File exists',
  19: 'No such device',
  22: 'Invalid argument',
  34: 'Numerical result out of range',
  95: 'Operation not supported',
  101: 'Network is unreachable',
};
const reasonOf = (errno: number): string => {
  if (REASONS[errno]) return REASONS[errno];
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
};

/**
 * The read buffer of every socket in the process: each read is decoded, and what is kept copied, before the next
 * (sockets are used synchronously). One per socket cost a CNI ADD a 64 kB allocation for each namespace it enters.
 */
let readBuffer: Uint8Array | undefined;
function recvBuffer(): Uint8Array {
  readBuffer ??= new Uint8Array(64 * 1024);
  return readBuffer;
}

/**
 * A NETLINK_ROUTE socket in one network namespace, used synchronously: each request is written with NLM_F_ACK
 * and its answers are read until the kernel's acknowledgement. The kernel handles a request inside the write,
 * so the answer is already queued when we read: no event loop, no threads, a few microseconds per request.
 */
export class RouteSocket {
  private seq = Math.floor(Math.random() * 0x7fffffff);

  private constructor(private fd: number) {}

  /**
   * A socket in the namespace of `netnsPath` (a file on nsfs), or in our own when it is omitted; NETLINK_ROUTE,
   * NETLINK_NETFILTER for nftables requests, or NETLINK_SOCK_DIAG for socket lists (the same request/answer
   * discipline).
   */
  static open(
    native: NativeKernel,
    netnsPath?: string,
    family: 'route' | 'netfilter' | 'diag' = 'route',
  ): RouteSocket {
    const make = (fd: number) => {
      if (family === 'route') return native.routeSocket(fd);
      const open = family === 'netfilter' ? native.netfilterSocket : native.diagSocket;
      if (!open)
        throw new Error(`internal: this netlink addon has no ${family}Socket (rebuild native/netlink.c)`);
      return open.call(native, fd);
    };
    if (netnsPath === undefined) return new RouteSocket(make(-1));
    return withNetnsFd(netnsPath, (fd) => new RouteSocket(make(fd)));
  }

  /**
   * Sends one request and returns the answers that came before the acknowledgement (the link a GETLINK asked
   * for). A refusal throws KernelError naming `what` (the equivalent command, built only then) and the
   * kernel's reason.
   */
  request(
    what: string | (() => string),
    type: number,
    flags: number,
    header: Uint8Array,
    attrs: readonly Attr[] = [],
  ): Message[] {
    const r = this.exchange(type, flags, header, attrs);
    if (!('errno' in r)) return r.answers;
    throw new KernelError(
      typeof what === 'string' ? what : what(),
      r.errno,
      r.extack ? `${reasonOf(r.errno)} (${r.extack})` : reasonOf(r.errno),
    );
  }

  /** One request and its answers, or the kernel's refusal as a value (no exception for an expected "no"). */
  private exchange(
    type: number,
    flags: number,
    header: Uint8Array,
    attrs: readonly Attr[],
  ): { answers: Message[] } | { errno: number; extack?: string } {
    this.seq = (this.seq + 1) >>> 0;
    const seq = this.seq;
    writeSync(this.fd, encodeMessage(type, NLM_F.REQUEST | NLM_F.ACK | flags, seq, header, attrs));
    const answers: Message[] = [];
    for (;;) {
      const buf = recvBuffer();
      const n = readSync(this.fd, buf, 0, buf.length, null);
      for (const m of decodeMessages(buf.subarray(0, n))) {
        if (m.seq !== seq) continue; // a late answer to an earlier request; never expected, harmless
        if (m.type === NLMSG.ERROR) {
          const e = decodeError(m);
          return e.errno === 0 ? { answers } : e;
        }
        if (m.type === NLMSG.DONE) return { answers };
        answers.push({ ...m, payload: m.payload.slice() }); // copied: the read buffer is reused
      }
    }
  }

  /**
   * Writes a whole nfnetlink batch (many messages, one write: the kernel handles it inside the write) and reads
   * the answers until the one to `lastSeq`, the message that asked for an acknowledgement (or a refusal of the
   * whole batch, answered on `firstSeq`, its BATCH_BEGIN). Returns the first
   * refusal (its message's sequence number, errno and the kernel's words), or undefined when all was applied.
   */
  batch(
    bytes: Uint8Array,
    firstSeq: number,
    lastSeq: number,
  ): { seq: number; errno: number; reason: string } | undefined {
    writeSync(this.fd, bytes);
    let first: { seq: number; errno: number; reason: string } | undefined;
    for (;;) {
      const buf = recvBuffer();
      const n = readSync(this.fd, buf, 0, buf.length, null);
      for (const m of decodeMessages(buf.subarray(0, n))) {
        if (m.type !== NLMSG.ERROR) continue;
        const e = decodeError(m);
        if (e.errno !== 0 && !first)
          first = {
            seq: m.seq,
            errno: e.errno,
            reason: e.extack ? `${reasonOf(e.errno)} (${e.extack})` : reasonOf(e.errno),
          };
        // A refused BATCH_BEGIN (no CAP_NET_ADMIN: EPERM) is the only answer: the batch was not looked at.
        if (m.seq === lastSeq || (m.seq === firstSeq && e.errno !== 0)) return first;
      }
    }
  }

  /** A sequence number range of `n` for a batch (its messages are numbered from the returned one). */
  reserveSeq(n: number): number {
    if (this.seq + n + 1 > 0xffffffff) this.seq = 0;
    const first = (this.seq + 1) >>> 0;
    this.seq = (this.seq + n) >>> 0;
    return first;
  }

  /** Indices already looked up: an ADD names the bridge three times and the pod's interface twice. */
  private readonly indices = new Map<string, number>();

  /**
   * The index of a link of this namespace, or undefined when there is none by that name. Found indices are
   * remembered until forgetLinks(): call it after deleting links (a veth's deletion removes its peer too).
   */
  linkIndex(name: string): number | undefined {
    const known = this.indices.get(name);
    if (known !== undefined) return known;
    const r = this.exchange(RTM.GETLINK, 0, ifinfomsg(), [
      str(IFLA.IFNAME, name),
      u32(IFLA.EXT_MASK, RTEXT_FILTER_SKIP_STATS),
    ]);
    if ('errno' in r) {
      if (r.errno === ENODEV) return undefined;
      throw new KernelError(`ip link show ${name}`, r.errno, reasonOf(r.errno));
    }
    const index = r.answers[0] && ifindexOf(r.answers[0]);
    if (index !== undefined) this.indices.set(name, index);
    return index;
  }

  /**
   * The kind of a link of this namespace (`bridge`, `veth`, …; '' for a device without one, such as loopback
   * or a NIC), or undefined when there is none by that name.
   */
  linkKind(name: string): string | undefined {
    const r = this.exchange(RTM.GETLINK, 0, ifinfomsg(), [
      str(IFLA.IFNAME, name),
      u32(IFLA.EXT_MASK, RTEXT_FILTER_SKIP_STATS),
    ]);
    if ('errno' in r) {
      if (r.errno === ENODEV) return undefined;
      throw new KernelError(`ip -d link show ${name}`, r.errno, reasonOf(r.errno));
    }
    if (!r.answers[0]) return undefined;
    const info = decodeAttrs(r.answers[0].payload, 16).get(IFLA.LINKINFO);
    const kind = info && decodeAttrs(info).get(IFLA_INFO.KIND);
    // Kinds are ASCII; latin1 from a Buffer spares the first TextDecoder's set-up (~0.2 ms of a CNI ADD).
    return kind
      ? Buffer.from(kind.buffer, kind.byteOffset, kind.byteLength).toString('latin1').replace(/\0.*$/s, '')
      : '';
  }

  forgetLinks(): void {
    this.indices.clear();
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Runs `fn` with an open fd of a namespace file (for IFLA_NET_NS_FD or setns), closed afterwards. */
export function withNetnsFd<T>(path: string, fn: (fd: number) => T): T {
  const fd = openSync(path, 'r');
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}
