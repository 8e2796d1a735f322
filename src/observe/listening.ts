import type { NativeKernel } from '../exec/netlink/native.js';
import { RouteSocket } from '../exec/netlink/socket.js';

/** sock_diag (linux/sock_diag.h, linux/inet_diag.h): what `ss -ltn` sends. */
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_DUMP = 0x300;
const AF = { INET: 2, INET6: 10 } as const;
const IPPROTO_TCP = 6;
const TCP_LISTEN = 10;

/** struct inet_diag_req_v2 for one family's TCP sockets in LISTEN (its inet_diag_sockid all zero: any). */
function listenRequest(family: number): Uint8Array {
  const req = new Uint8Array(56);
  const dv = new DataView(req.buffer);
  req[0] = family;
  req[1] = IPPROTO_TCP;
  dv.setUint32(4, 1 << TCP_LISTEN, true); // idiag_states
  return req;
}

/**
 * The TCP ports listening in the network namespace of `netnsPath` (IPv4 and IPv6), asked over sock_diag in that
 * namespace: the kernel walks only the listening sockets, where reading /proc/PID/net/tcp walks every
 * connection bucket of the host (milliseconds per read, which a lab's readiness wait paid per pod and round).
 * `want`: stop after the first family when it already lists all of them.
 */
export function listeningTcpPortsIn(
  native: NativeKernel,
  netnsPath: string,
  want: readonly number[] = [],
): Set<number> {
  const ports = new Set<number>();
  const s = RouteSocket.open(native, netnsPath, 'diag');
  try {
    for (const family of [AF.INET6, AF.INET]) {
      const answers = s.request('ss -ltn', SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, listenRequest(family));
      for (const m of answers) {
        // struct inet_diag_msg: family, state, timer, retrans, then inet_diag_sockid (source port first, big-endian).
        if (m.payload.length >= 6 && m.payload[1] === TCP_LISTEN)
          ports.add((m.payload[4]! << 8) | m.payload[5]!);
      }
      if (want.length && want.every((p) => ports.has(p))) break;
    }
  } finally {
    s.close();
  }
  return ports;
}
