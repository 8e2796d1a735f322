/**
 * Parsing `conntrack -E` lines (conntrack-tools 1.4.7): a connection's original tuple (as the first packet
 * entered) and its reply tuple (what a reply must look like). When they are not mirror images, the kernel
 * NATs the connection: reply source ≠ original destination is DNAT, reply destination ≠ original source is
 * SNAT (masquerade).
 */

/** One direction of a connection; for ICMP, `sport` is the echo id and `dport` 0. */
export interface Tuple {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
}

export interface ConntrackEvent {
  readonly event: 'NEW' | 'UPDATE' | 'DESTROY';
  readonly proto: string;
  readonly orig: Tuple;
  readonly reply: Tuple;
}

const EVENT = /^\s*(?:\[\d+\.\d+\]\s*)?\[(NEW|UPDATE|DESTROY)\]\s+(\w+)\s/;

export function parseConntrackEvent(line: string): ConntrackEvent | undefined {
  const m = EVENT.exec(line);
  if (!m) return undefined;
  const kv = [...line.matchAll(/\b(src|dst|sport|dport|id)=(\S+)/g)].map((x) => [x[1]!, x[2]!] as const);
  const tuples: Record<string, string>[] = [];
  for (const [k, v] of kv) {
    if (k === 'src') tuples.push({});
    const t = tuples[tuples.length - 1];
    if (t) t[k] = v;
  }
  if (tuples.length < 2) return undefined;
  const tuple = (t: Record<string, string>): Tuple => ({
    src: t.src ?? '',
    dst: t.dst ?? '',
    sport: Number(t.sport ?? t.id ?? 0),
    dport: Number(t.dport ?? 0),
  });
  return {
    event: m[1] as ConntrackEvent['event'],
    proto: m[2]!,
    orig: tuple(tuples[0]!),
    reply: tuple(tuples[1]!),
  };
}

/** The NAT a connection gets: where its destination was translated to, and its source. */
export function natOf(e: ConntrackEvent): { dnat?: Tuple; snat?: Tuple } {
  const out: { dnat?: Tuple; snat?: Tuple } = {};
  // ICMP echo: one id for both directions (kept in sport), no ports.
  const icmp = e.proto === 'icmp';
  const replySport = icmp ? 0 : e.reply.sport;
  const replyDport = icmp ? e.reply.sport : e.reply.dport;
  if (e.reply.src !== e.orig.dst || replySport !== e.orig.dport)
    out.dnat = { ...e.orig, dst: e.reply.src, dport: replySport };
  if (e.reply.dst !== e.orig.src || replyDport !== e.orig.sport)
    out.snat = { ...e.orig, src: e.reply.dst, sport: replyDport };
  return out;
}
