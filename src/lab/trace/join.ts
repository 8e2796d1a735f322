import { type ConntrackEvent, natOf } from '../../observe/conntrack-events.js';
import type { TracedPacket } from '../../observe/nft-trace.js';
import type { TraceRequest } from './target.js';
import { endsOf, type Visit } from './visits.js';

/**
 * Which observed visits belong to this probe (pure). The trace rules also mark other connections to the same
 * endpoints, so visits are joined by their 5-tuple: the probe's own (client:sport → target), every address the
 * connection is translated to on the way (the NAT conntrack reported in each namespace, followed hop by hop,
 * and the DNAT seen inside a visit), and the candidate endpoints. Outer VXLAN packets carry the inner tuple
 * only in bytes the rules matched, so they are kept as marked.
 */
export function joinVisits(
  req: TraceRequest,
  sport: number,
  visits: readonly Visit[],
  conntrack: readonly ConntrackEvent[],
): Visit[] {
  const icmp = req.target.proto === 'icmp';
  const key = (ip: string | undefined, port: number | undefined) => `${ip}:${icmp ? 0 : (port ?? 0)}`;
  const known = new Set<string>([
    key(req.client.ip, sport),
    key(req.target.ip, req.target.port),
    ...req.target.endpoints.map((e) => key(e.ip, e.port)),
  ]);
  const ids = new Set<number>([sport]);
  // Follow the NAT chain: a connection whose original source is known adds its translated source.
  for (let changed = true; changed; ) {
    changed = false;
    for (const e of conntrack) {
      const src = key(e.orig.src, e.orig.sport);
      if (!known.has(src) && !(icmp && ids.has(e.orig.sport) && known.has(key(e.orig.src, 0)))) continue;
      const { snat, dnat } = natOf(e);
      for (const k of [
        ...(snat ? [key(snat.src, snat.sport)] : []),
        ...(dnat ? [key(dnat.dst, dnat.dport)] : []),
      ])
        if (!known.has(k)) {
          known.add(k);
          changed = true;
        }
      if (icmp && snat && !ids.has(snat.sport)) {
        ids.add(snat.sport);
        changed = true;
      }
    }
  }
  const ours = (p: TracedPacket, dir: 'request' | 'reply'): boolean => {
    if (p.proto === 'icmp' && p.icmpType && p.icmpType !== 'echo-request' && p.icmpType !== 'echo-reply')
      return known.has(key(p.daddr, 0)) || [...known].some((k) => k.startsWith(`${p.daddr}:`));
    if (icmp)
      return (
        p.icmpId !== undefined &&
        ids.has(p.icmpId) &&
        known.has(key(dir === 'request' ? p.saddr : p.daddr, 0))
      );
    const [a, b] =
      dir === 'request'
        ? [key(p.saddr, p.sport), key(p.daddr, p.dport)]
        : [key(p.daddr, p.dport), key(p.saddr, p.sport)];
    return known.has(a) && known.has(b);
  };
  if (icmp) for (const ip of [req.client.ip, req.target.ip]) known.add(key(ip, 0));
  return visits.filter((v) => {
    if (v.layer === 'outer') return true;
    const { first, last } = endsOf(v);
    return ours(first, v.direction) || ours(last, v.direction);
  });
}

/** A TCP visit that carries the connection's first packet (SYN, SYN-ACK, or the server's RST). */
export function isOpening(v: Visit, proto: string): boolean {
  if (proto !== 'tcp' || v.layer === 'outer') return true;
  const f = endsOf(v).first;
  if (f.proto !== 'tcp') return true;
  // The probe's own RST when it closes is a request too; SYN-ACK (0x12) and a server's RST are replies.
  return v.direction === 'reply' || /syn/.test(f.tcpFlags ?? '');
}
