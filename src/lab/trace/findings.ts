import type { Cluster } from '../../model/resolve.js';
import type { ExpectedPath } from './expect.js';
import type { Hop } from './hops.js';
import type { TraceRequest } from './target.js';

/** What a trace found different from the model (pure), and the tshark capture of `--capture`. */

/** One VXLAN packet on the underlay as tshark decoded it (outer, then inner headers). */
export interface WireVxlan {
  readonly outer: {
    readonly src: string;
    readonly dst: string;
    readonly sport: number;
    readonly dport: number;
  };
  readonly vni: number;
  readonly inner: {
    readonly src: string;
    readonly dst: string;
    readonly sport?: number;
    readonly dport?: number;
  };
}

export const WIRE = [
  'ip.src',
  'ip.dst',
  'udp.srcport',
  'udp.dstport',
  'vxlan.vni',
  'tcp.srcport',
  'tcp.dstport',
];

export function wireOf(rows: readonly string[][]): WireVxlan[] {
  return rows.flatMap(([src, dst, sp, dp, vni, ts, td]) => {
    const s = (src ?? '').split(',');
    const d = (dst ?? '').split(',');
    if (s.length < 2 || !vni) return [];
    const ports = (x?: string) => (x ? Number(x.split(',').pop()) : undefined);
    const isp = ports(ts) ?? (sp?.includes(',') ? ports(sp) : undefined);
    const idp = ports(td) ?? (dp?.includes(',') ? ports(dp) : undefined);
    return [
      {
        outer: { src: s[0]!, dst: d[0]!, sport: Number(sp?.split(',')[0]), dport: Number(dp?.split(',')[0]) },
        vni: Number(vni.split(',')[0]),
        inner: {
          src: s[s.length - 1]!,
          dst: d[d.length - 1]!,
          ...(isp ? { sport: isp } : {}),
          ...(idp ? { dport: idp } : {}),
        },
      },
    ];
  });
}

/** `--capture`: each encapsulation hop must match a packet tshark saw (same outer addresses, ports and VNI). */
export function wireFindings(wire: readonly WireVxlan[], hops: readonly Hop[]): string[] {
  return hops.flatMap((h) => {
    if (!h.vxlan || !h.seen) return [];
    const hit = wire.some(
      (w) =>
        w.outer.src === h.vxlan!.src &&
        w.outer.dst === h.vxlan!.dst &&
        w.outer.sport === h.vxlan!.sport &&
        w.vni === h.vxlan!.vni,
    );
    return hit
      ? []
      : [
          `${h.place} (outer): tshark saw no VXLAN packet ${h.vxlan.src}:${h.vxlan.sport} → ${h.vxlan.dst} VNI ${h.vxlan.vni}`,
        ];
  });
}

/** What the model expected and the trace did not see, or saw otherwise. */
export function findingsOf(
  cluster: Cluster,
  req: TraceRequest,
  request: Hop[],
  reply: Hop[],
  expected: ExpectedPath,
): string[] {
  const f: string[] = [];
  if (expected.unreachable) f.push(`the model has no path: ${expected.unreachable}`);
  for (const h of [...request, ...reply]) {
    if (!h.onPath) f.push(`seen off the expected path: ${h.place} (${h.layer}) ${h.actions.join('; ')}`);
    if (h.dnat && req.target.endpoints.length && !req.target.endpoints.some((e) => e.ip === h.dnat!.to.ip))
      f.push(`${h.place} DNATed to ${h.dnat.to.ip}, which is not an endpoint of ${req.target.label}`);
    if (h.vxlan) {
      if (h.vxlan.vni !== cluster.spec.vxlan.vni)
        f.push(`${h.place}: VNI ${h.vxlan.vni}, the model says ${cluster.spec.vxlan.vni}`);
      const ips = new Set(cluster.nodes.map((n) => n.ip.toString()));
      if (!ips.has(h.vxlan.src) || !ips.has(h.vxlan.dst))
        f.push(
          `${h.place}: outer ${h.vxlan.src} → ${h.vxlan.dst} is not between two nodes' underlay addresses`,
        );
    }
  }
  const missingReq = request.filter((h) => !h.seen);
  if (missingReq.length)
    f.push(`expected but not seen: ${missingReq.map((h) => `${h.place} (${h.layer})`).join(', ')}`);
  const missingRep = reply.filter((h) => !h.seen);
  if (missingRep.length)
    f.push(`reply expected but not seen at: ${missingRep.map((h) => `${h.place} (${h.layer})`).join(', ')}`);
  return f;
}
