import type { Cidr } from '../../net/ip.js';
import { Ip } from '../../net/ip.js';

/**
 * Disjoint intervals for nftables interval sets. The kernel refuses overlapping elements in an interval set
 * (and a concatenated one), and an element can only be deleted as it was added, so podnet computes the
 * canonical disjoint form itself: the same input always gives the same elements, and a diff deletes exactly
 * what it added.
 */

/** An inclusive range of IPv4 addresses as unsigned 32-bit numbers. */
export type Range = readonly [number, number];

export const cidrRange = (c: Cidr): Range => [c.network.value, c.broadcast.value];

/** Sorted, merged (overlapping or adjacent ranges joined). */
export function mergeRanges(ranges: readonly Range[]): Range[] {
  let ordered = true;
  for (let i = 1; i < ranges.length && ordered; i++) ordered = ranges[i - 1]![0] <= ranges[i]![0];
  const sorted = ordered ? ranges : [...ranges].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out.at(-1);
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/** `cidr` minus the `except` CIDRs, as merged ranges. */
export function subtract(base: Range, holes: readonly Range[]): Range[] {
  const out: Range[] = [];
  let from = base[0];
  for (const [lo, hi] of mergeRanges(holes)) {
    if (hi < from || lo > base[1]) continue;
    if (lo > from) out.push([from, lo - 1]);
    from = Math.max(from, hi + 1);
  }
  if (from <= base[1]) out.push([from, base[1]]);
  return out;
}

/** An IPv4 range as nft writes it: `a.b.c.d`, `a.b.c.d/n` when it is a CIDR, else `lo-hi`. */
export function rangeText([lo, hi]: Range): string {
  if (lo === hi) return Ip.fromNumber(lo).toString();
  const size = hi - lo + 1;
  const prefix = 32 - Math.log2(size);
  if (Number.isInteger(prefix) && lo % size === 0) return `${Ip.fromNumber(lo)}/${prefix}`;
  return `${Ip.fromNumber(lo)}-${Ip.fromNumber(hi)}`;
}

/** One allowed (address range, protocol, port range) box of a concatenated set. */
export interface Box {
  readonly ips: Range;
  readonly proto: string;
  readonly ports: Range;
}

/**
 * Disjoint boxes covering the union of `boxes`: per protocol, the port axis is cut at every box edge, each
 * elementary port range gets the merged address ranges covering it, and neighbouring port ranges with the
 * same address ranges are joined again.
 */
export function disjointBoxes(boxes: readonly Box[]): Box[] {
  const out: Box[] = [];
  // Boxes with the same protocol and port range are one group whose addresses are merged once.
  const byProto = new Map<string, Map<number, { ports: Range; ips: Range[] }>>();
  for (const b of boxes) {
    let groups = byProto.get(b.proto);
    if (!groups) {
      groups = new Map();
      byProto.set(b.proto, groups);
    }
    const k = b.ports[0] * 65536 + b.ports[1];
    const g = groups.get(k);
    if (g) g.ips.push(b.ips);
    else groups.set(k, { ports: b.ports, ips: [b.ips] });
  }
  for (const proto of [...byProto.keys()].sort()) {
    const mine = [...byProto.get(proto)!.values()].map((g) => ({ ports: g.ports, ips: mergeRanges(g.ips) }));
    const cuts = [...new Set(mine.flatMap((g) => [g.ports[0], g.ports[1] + 1]))].sort((a, b) => a - b);
    let open: { ports: [number, number]; ips: Range[] } | undefined;
    const flush = () => {
      if (open) for (const ips of open.ips) out.push({ ips, proto, ports: open.ports });
      open = undefined;
    };
    for (let i = 0; i + 1 < cuts.length; i++) {
      const lo = cuts[i]!;
      const hi = cuts[i + 1]! - 1;
      const covering = mine.filter((g) => g.ports[0] <= lo && g.ports[1] >= hi);
      const ips = covering.length === 1 ? covering[0]!.ips : mergeRanges(covering.flatMap((g) => g.ips));
      if (open && open.ports[1] + 1 === lo && sameRanges(open.ips, ips)) open.ports[1] = hi;
      else {
        flush();
        if (ips.length) open = { ports: [lo, hi], ips };
      }
    }
    flush();
  }
  return out;
}

const sameRanges = (a: readonly Range[], b: readonly Range[]): boolean =>
  a === b || (a.length === b.length && a.every((r, i) => r[0] === b[i]![0] && r[1] === b[i]![1]));

/** A box as an element of `ipv4_addr . inet_proto . inet_service`. */
export function boxText(b: Box): string {
  const ports = b.ports[0] === b.ports[1] ? String(b.ports[0]) : `${b.ports[0]}-${b.ports[1]}`;
  return `${rangeText(b.ips)} . ${b.proto} . ${ports}`;
}

/** The inverse of rangeText. */
export function rangeOfText(t: string): Range {
  if (t.includes('/')) {
    const [ip, len] = t.split('/');
    const lo = Ip.parse(ip!).value;
    return [lo, lo + 2 ** (32 - Number(len)) - 1];
  }
  const [a, b] = t.split('-');
  return [Ip.parse(a!).value, Ip.parse(b ?? a!).value];
}
