/** Parsers (pure) for what the cross-node backends install: `ip -j neigh`, `bridge -j fdb`, and tshark fields. */

export interface NeighState {
  readonly ip: string;
  readonly dev?: string;
  readonly mac?: string;
  readonly state: string[];
}

/** `ip -j neigh show …` → entries. */
export function parseIpNeigh(json: string): NeighState[] {
  if (!json.trim()) return [];
  const data = JSON.parse(json) as { dst: string; dev?: string; lladdr?: string; state?: string[] }[];
  return data.map((n) => ({
    ip: n.dst,
    ...(n.dev ? { dev: n.dev } : {}),
    ...(n.lladdr ? { mac: n.lladdr } : {}),
    state: n.state ?? [],
  }));
}

export interface FdbState {
  readonly mac: string;
  /** The remote VTEP (underlay address, or the multicast group) for the VXLAN device's own entries. */
  readonly dst?: string;
  /** 'self' (the VXLAN device's table) and/or 'master' (the bridge's). */
  readonly flags: string[];
  readonly master?: string;
  readonly state: string;
}

/** `bridge -j fdb show …` → entries. */
export function parseBridgeFdb(json: string): FdbState[] {
  if (!json.trim()) return [];
  const data = JSON.parse(json) as {
    mac: string;
    dst?: string;
    flags?: string[];
    master?: string;
    state?: string;
  }[];
  return data.map((f) => ({
    mac: f.mac,
    ...(f.dst ? { dst: f.dst } : {}),
    flags: f.flags ?? [],
    ...(f.master ? { master: f.master } : {}),
    state: f.state ?? '',
  }));
}

/** One captured packet as tshark decoded it (`-T fields -E separator=/t` with the fields of WIRE_FIELDS). */
export interface WirePacket {
  readonly frameLen: number;
  /** Every IPv4 header's total length, outermost first (two for tunnelled packets). */
  readonly ipLens: number[];
  /** Every IPv4 header's source/destination, outermost first. */
  readonly src: string[];
  readonly dst: string[];
  readonly ipProto: number[];
  readonly udpDstPort?: number;
  readonly vni?: number;
}

/** The fields `parseWire` expects, in order. */
export const WIRE_FIELDS = [
  'frame.len',
  'ip.len',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'udp.dstport',
  'vxlan.vni',
];

/** tshark `-T fields` lines (tab-separated, repeated fields comma-joined) → packets. */
export function parseWire(text: string): WirePacket[] {
  const nums = (s: string | undefined) => (s ? s.split(',').map(Number) : []);
  const strs = (s: string | undefined) => (s ? s.split(',') : []);
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [frame, len, src, dst, proto, port, vni] = l.split('\t');
      return {
        frameLen: Number(frame),
        ipLens: nums(len),
        src: strs(src),
        dst: strs(dst),
        ipProto: nums(proto),
        ...(port ? { udpDstPort: Number(port.split(',')[0]) } : {}),
        ...(vni ? { vni: Number(vni.split(',')[0]) } : {}),
      };
    });
}

/**
 * The encapsulation overhead of a packet: what the outer headers add over the inner IP packet (outer IP total
 * length minus inner IP total length); 0 for a packet with one IP header (routed as it is).
 */
export function overheadOf(p: WirePacket): number {
  if (p.ipLens.length < 2) return 0;
  return p.ipLens[0]! - p.ipLens[p.ipLens.length - 1]!;
}
