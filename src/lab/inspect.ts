import { exec } from '../exec/process-runner.js';
import type { Command } from '../exec/runner.js';
import type { Cluster } from '../model/resolve.js';
import { Cidr } from '../net/ip.js';
import {
  type FdbState,
  type NeighState,
  overheadOf,
  parseBridgeFdb,
  parseIpNeigh,
  parseWire,
  WIRE_FIELDS,
  type WirePacket,
} from '../observe/cross-node-json.js';
import { parseIpRoute, type RouteState } from '../observe/ip-json.js';
import { backendOf } from '../plan/cross-node/index.js';
import { ENCAP_OVERHEAD, planMtu } from '../plan/mtu.js';
import { readFdb, readNeighbours, readRoutes, wireCapture, wirePing } from '../render/observe.js';
import type { LoadedLab } from './load.js';
import { LabNames } from './names.js';
import { hostRunner } from './runners.js';

/** What one node holds for reaching other nodes' pods. */
export interface NodeInspection {
  readonly node: string;
  readonly ip: string;
  readonly podCIDR: string;
  readonly device?: string;
  /** Routes into the cluster CIDR other than the node's own pod CIDR. */
  readonly routes: RouteState[];
  /** The tunnel device's own FDB entries (`self`): MAC → remote VTEP. */
  readonly fdb: FdbState[];
  /** Neighbour entries on the tunnel device. */
  readonly neigh: NeighState[];
}

/** One packet captured on the underlay switch, as tshark decoded it. */
export interface WireMeasurement {
  readonly from: string;
  readonly to: string;
  readonly filter: string;
  readonly packet?: WirePacket;
  readonly overhead?: number;
  readonly expected: number;
  readonly error?: string;
}

export interface Inspection {
  readonly lab: string;
  readonly crossNode: string;
  readonly learning?: string;
  readonly mtu: { readonly underlay: number; readonly pod: number };
  readonly nodes: NodeInspection[];
  readonly wire?: WireMeasurement;
}

const reader = hostRunner();
/** A read whose failure (a device gone) reads as nothing. */
const j = (cmd: Command): Promise<string> =>
  reader.run(cmd).then(
    (r) => r.stdout,
    () => '',
  );

/**
 * Reads back, per node, the routes, FDB and neighbour entries the cross-node backend installed (`ip -j`,
 * `bridge -j`), and measures the encapsulation overhead from a packet captured with tshark on the switch.
 */
export async function inspectLab(l: LoadedLab, opts: { wire?: boolean } = {}): Promise<Inspection> {
  const c = l.cluster;
  const names = new LabNames(l.state.lab);
  const dev = backendOf(c)?.device(c);
  const nodes = await Promise.all(
    c.nodes.map(async (n): Promise<NodeInspection> => {
      const ns = names.node(n.name);
      const [routes, fdb, neigh] = await Promise.all([
        j(readRoutes(ns)),
        dev ? j(readFdb(ns, dev)) : Promise.resolve(''),
        dev ? j(readNeighbours(ns, dev)) : Promise.resolve(''),
      ]);
      return {
        node: n.name,
        ip: n.ip.toString(),
        podCIDR: n.podCIDR.toString(),
        ...(dev ? { device: dev } : {}),
        routes: parseIpRoute(routes).filter((r) => {
          const d = Cidr.tryParse(r.dst, false) ?? Cidr.tryParse(`${r.dst}/32`, false);
          return d !== undefined && c.spec.clusterCIDR.contains(d.network) && !d.equals(n.podCIDR);
        }),
        fdb: parseBridgeFdb(fdb).filter((f) => f.flags.includes('self') && f.dst !== undefined),
        neigh: parseIpNeigh(neigh),
      };
    }),
  );
  const mtu = planMtu(c.spec);
  return {
    lab: l.state.lab,
    crossNode: c.spec.crossNode,
    ...(c.spec.crossNode === 'vxlan' ? { learning: c.spec.vxlan.learning } : {}),
    mtu: { underlay: mtu.underlay, pod: mtu.pod },
    nodes,
    ...(opts.wire === false ? {} : await measureWire(l, names).then((w) => (w ? { wire: w } : {}))),
  };
}

/**
 * The capture filter that sees exactly the probe's cross-node packets on the underlay: the backend's
 * encapsulation, and large (the probe pings carry 1000 bytes; ARP and IPv6 chatter flooded over multicast
 * VXLAN are small).
 */
export function wireFilter(c: Cluster, dstPod: string): string {
  switch (c.spec.crossNode) {
    case 'vxlan':
      return `udp dst port ${c.spec.vxlan.port} and greater 1000`;
    case 'ipip':
      return 'ip proto 4 and greater 1000';
    default:
      return `icmp and dst host ${dstPod} and greater 1000`;
  }
}

/** Captures pod-to-pod pings between two nodes on the switch and decodes them with tshark. */
async function measureWire(l: LoadedLab, names: LabNames): Promise<WireMeasurement | undefined> {
  const c = l.cluster;
  if (c.spec.crossNode === 'none') return undefined;
  const src = c.pods[0];
  const dst = src && c.pods.find((p) => p.node !== src.node);
  if (!src || !dst) return undefined;
  const filter = wireFilter(c, dst.ip.toString());
  const base = {
    from: src.name,
    to: dst.name,
    filter,
    expected: ENCAP_OVERHEAD[c.spec.crossNode],
  };
  const ping = (count: number, interval: string) =>
    exec(wirePing(names.podNs(src.name), count, interval, dst.ip.toString()));
  await ping(1, '0.2'); // neighbours and (multicast) FDB learnt before the capture
  let captured = false;
  const capture = exec(wireCapture(names.switchNs, filter, WIRE_FIELDS)).finally(() => {
    captured = true;
  });
  // tshark needs a moment before it captures (seconds on a loaded machine): keep pinging until it has its
  // packets or its own timeout ends it.
  const pinger = (async () => {
    await new Promise((r) => setTimeout(r, 1500));
    while (!captured) await ping(5, '0.1');
  })();
  const [cap] = await Promise.all([capture, pinger]);
  const packets = parseWire(cap.stdout).filter((p) => p.ipLens.length > 0);
  const packet = packets.sort((a, b) => b.ipLens.length - a.ipLens.length || b.frameLen - a.frameLen)[0];
  if (!packet)
    return {
      ...base,
      error: `no packet captured (tshark exit ${cap.exitCode}: ${cap.stderr.trim().split('\n').pop() ?? ''})`,
    };
  return { ...base, packet, overhead: overheadOf(packet) };
}

/** The inspection as text: per node, then the wire. */
export function formatInspection(r: Inspection): string {
  const lines: string[] = [];
  lines.push(
    `lab ${r.lab}: crossNode ${r.crossNode}${r.learning ? ` (${r.learning})` : ''}, MTU underlay ${r.mtu.underlay} / pods ${r.mtu.pod}`,
  );
  for (const n of r.nodes) {
    lines.push(
      '',
      `${n.node} (${n.ip}, pods ${n.podCIDR})${n.device ? ` device ${n.device}` : ''}: ${n.routes.length} route(s), ${n.fdb.length} FDB, ${n.neigh.length} neighbour(s)`,
    );
    for (const rt of n.routes)
      lines.push(
        `  route ${rt.dst}${rt.gateway ? ` via ${rt.gateway}` : ''}${rt.dev ? ` dev ${rt.dev}` : ''}${rt.flags.length ? ` ${rt.flags.join(' ')}` : ''}`,
      );
    for (const f of n.fdb)
      lines.push(`  fdb   ${f.mac} dst ${f.dst}${f.state ? ` ${f.state}` : ' (learnt)'}`);
    for (const x of n.neigh) lines.push(`  neigh ${x.ip} lladdr ${x.mac ?? '?'} ${x.state.join(' ')}`);
  }
  if (r.wire) {
    const w = r.wire;
    lines.push(
      '',
      `on the wire (${w.from} -> ${w.to}, captured on the switch with tshark, filter '${w.filter}'):`,
    );
    if (w.error || !w.packet) lines.push(`  ${w.error ?? 'nothing captured'}`);
    else {
      const p = w.packet;
      lines.push(
        `  frame ${p.frameLen} bytes; IP headers (outer first): ${p.src.map((s, i) => `${s} > ${p.dst[i]} len ${p.ipLens[i]} proto ${p.ipProto[i]}`).join(' | ')}`,
      );
      if (p.udpDstPort !== undefined)
        lines.push(`  UDP dst port ${p.udpDstPort}${p.vni !== undefined ? `, VNI ${p.vni}` : ''}`);
      lines.push(`  encapsulation overhead: ${w.overhead} bytes (expected ${w.expected})`);
    }
  }
  return lines.join('\n');
}
