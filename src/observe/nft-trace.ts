/**
 * Parsing `nft monitor trace` output (nft 1.0.6). Each line is one event of one traced packet in one
 * namespace: a `packet:` line when the packet enters a base chain (its interfaces and headers at that hook),
 * then `rule … (verdict …)` lines for the rules it matched and a `policy` line when the chain ends.
 */

/** The headers nft printed for a packet at one base chain. */
export interface TracedPacket {
  readonly iif?: string;
  readonly oif?: string;
  readonly saddr?: string;
  readonly daddr?: string;
  readonly proto?: string;
  readonly sport?: number;
  readonly dport?: number;
  readonly length?: number;
  /** IP identification: the same packet keeps it across hops (joins a namespace's events into one visit). */
  readonly ipId?: number;
  readonly ttl?: number;
  readonly tcpFlags?: string;
  readonly icmpType?: string;
  readonly icmpId?: number;
  readonly icmpCode?: string;
  /** ICMP "fragmentation needed": the next hop's MTU. */
  readonly mtu?: number;
  /** VXLAN: the first 12 bytes after the UDP header, which nft prints raw (8 bytes VXLAN header, 4 inner MAC). */
  readonly vni?: number;
}

export interface TraceEvent {
  readonly id: string;
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  readonly kind: 'packet' | 'rule' | 'policy' | 'return';
  readonly packet?: TracedPacket;
  /** For rule events: the rule as nft prints it (without the verdict). */
  readonly rule?: string;
  /** `accept`, `drop`, `continue`, `jump X`, `goto X`, `return`… */
  readonly verdict?: string;
  readonly handle?: number;
}

const HEAD =
  /^trace id ([0-9a-f]+) (\S+) (\S+) (\S+) (packet|rule|policy|verdict|unknown|return)\b:?\s?(.*)$/;

export function parseTraceLine(line: string): TraceEvent | undefined {
  const m = HEAD.exec(line.trimEnd());
  if (!m) return undefined;
  const [, id, family, table, chain, what, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const base = { id, family, table, chain };
  if (what === 'packet') return { ...base, kind: 'packet', packet: parsePacket(rest) };
  if (what === 'policy') return { ...base, kind: 'policy', verdict: rest.trim() };
  if (what === 'rule') {
    const v = /^(.*) \(verdict ([^)]*)\)(?: handle (\d+))?$/.exec(rest) ?? /^(.*)$/.exec(rest)!;
    const handleM = /# handle (\d+)/.exec(rest);
    const rule = (v[1] ?? '').replace(/\s*# handle \d+/, '').trim();
    const handle = v[3] ? Number(v[3]) : handleM ? Number(handleM[1]) : undefined;
    return {
      ...base,
      kind: 'rule',
      rule,
      verdict: v[2] ?? 'continue',
      ...(handle !== undefined ? { handle } : {}),
    };
  }
  return { ...base, kind: 'return', verdict: rest.trim() };
}

function field(text: string, re: RegExp): string | undefined {
  return re.exec(text)?.[1];
}

function num(text: string, re: RegExp): number | undefined {
  const v = field(text, re);
  return v === undefined ? undefined : Number(v);
}

export function parsePacket(text: string): TracedPacket {
  const proto = field(text, /\bip protocol (\w+)/) ?? field(text, /\b(tcp|udp|icmp) (?:sport|type)\b/);
  const l4 = proto === 'tcp' || proto === 'udp' ? proto : undefined;
  const p: Record<string, unknown> = {
    iif: field(text, /\biif "([^"]+)"/),
    oif: field(text, /\boif "([^"]+)"/),
    saddr: field(text, /\bip saddr (\S+)/),
    daddr: field(text, /\bip daddr (\S+)/),
    proto,
    length: num(text, /\bip length (\d+)/),
    ipId: num(text, /\bip id (\d+)/),
    ttl: num(text, /\bip ttl (\d+)/),
  };
  if (l4) {
    p.sport = num(text, new RegExp(`\\b${l4} sport (\\d+)`));
    p.dport = num(text, new RegExp(`\\b${l4} dport (\\d+)`));
  }
  if (proto === 'tcp') p.tcpFlags = field(text, /\btcp flags == (\S+)/);
  if (proto === 'icmp') {
    p.icmpType = field(text, /\bicmp type (\S+)/);
    p.icmpId = num(text, /\bicmp id (\d+)/);
    p.icmpCode = field(text, /\bicmp code (\S+)/);
    p.mtu = num(text, /\bicmp mtu (\d+)/);
  }
  const raw = field(text, /@th,64,96 0x([0-9a-f]+)/);
  if (proto === 'udp' && raw) {
    const hex = raw.padStart(24, '0');
    if (hex.startsWith('08')) p.vni = Number.parseInt(hex.slice(8, 14), 16);
  }
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as TracedPacket;
}
