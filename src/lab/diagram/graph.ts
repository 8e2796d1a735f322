import type { Cluster } from '../../model/resolve.js';
import { vxlanDevice } from '../../plan/cross-node/vxlan.js';
import { buildProxyModel } from '../../plan/services/model.js';
import { labHostVeth } from '../plan.js';

/**
 * The lab's topology as a graph (pure): boxes for the switch, the router and the outside host, every node
 * (a box holding its uplink, bridge, tunnel device and pods), every service port; edges for the cables
 * (veths), the tunnels between nodes and service-to-endpoint links. Laid out by elkjs (layout.ts), drawn as
 * SVG by render/diagram-svg.ts; a trace's hops are mapped onto its boxes (`traceAnchors`).
 */

export interface Box {
  readonly id: string;
  readonly kind:
    | 'node'
    | 'pod'
    | 'bridge'
    | 'uplink'
    | 'tunnel'
    | 'switch'
    | 'router'
    | 'outside'
    | 'service';
  readonly lines: readonly string[];
  readonly children?: readonly Box[];
}

export interface Link {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly kind: 'veth' | 'cable' | 'tunnel' | 'service';
  readonly label?: string;
}

export interface TopologyGraph {
  readonly title: string;
  readonly boxes: readonly Box[];
  readonly links: readonly Link[];
}

export const ids = {
  node: (n: string) => `node:${n}`,
  pod: (p: string) => `pod:${p}`,
  bridge: (n: string) => `bridge:${n}`,
  uplink: (n: string) => `uplink:${n}`,
  tunnel: (n: string) => `tunnel:${n}`,
  switch: 'switch',
  router: 'router',
  outside: 'outside',
  service: (id: string) => `svc:${id}`,
};

export function topologyGraph(cluster: Cluster, lab: string): TopologyGraph {
  const spec = cluster.spec;
  const boxes: Box[] = [];
  const links: Link[] = [];
  const tunnel = spec.crossNode === 'vxlan' ? vxlanDevice(cluster) : undefined;
  boxes.push({ id: ids.switch, kind: 'switch', lines: ['switch sw0', `underlay ${spec.underlay.subnet}`] });
  for (const n of cluster.nodes) {
    const pods = cluster.pods.filter((p) => p.node === n.name);
    const children: Box[] = [
      { id: ids.uplink(n.name), kind: 'uplink', lines: ['eth0', n.ip.toString()] },
      ...(spec.sameNode === 'bridge'
        ? [
            {
              id: ids.bridge(n.name),
              kind: 'bridge' as const,
              lines: [spec.bridge, `${n.gateway}/${n.podCIDR.prefix}`],
            },
          ]
        : []),
      ...(tunnel
        ? [
            {
              id: ids.tunnel(n.name),
              kind: 'tunnel' as const,
              lines: [tunnel, `VNI ${spec.vxlan.vni}, VTEP ${n.podCIDR.network}`],
            },
          ]
        : []),
      ...pods.map((p) => ({
        id: ids.pod(p.name),
        kind: 'pod' as const,
        lines: [`pod ${p.name}`, `${p.ip}/${p.prefix}`],
      })),
    ];
    boxes.push({ id: ids.node(n.name), kind: 'node', lines: [`${n.name}  pods ${n.podCIDR}`], children });
    links.push({
      id: `cable:${n.name}`,
      from: ids.uplink(n.name),
      to: ids.switch,
      kind: 'cable',
      label: `sw-${n.name}`,
    });
    for (const p of pods)
      if (spec.sameNode === 'bridge')
        links.push({
          id: `veth:${p.name}`,
          from: ids.pod(p.name),
          to: ids.bridge(n.name),
          kind: 'veth',
          label: labHostVeth(cluster, p.name),
        });
    if (tunnel)
      links.push({
        id: `tunnel-up:${n.name}`,
        from: ids.tunnel(n.name),
        to: ids.uplink(n.name),
        kind: 'tunnel',
      });
  }
  if (spec.sameNode === 'veth') {
    const [a, b] = cluster.pods;
    if (a && b)
      links.push({
        id: 'veth-pair',
        from: ids.pod(a.name),
        to: ids.pod(b.name),
        kind: 'veth',
        label: 'veth pair',
      });
  }
  if (tunnel)
    cluster.nodes.forEach((a, i) => {
      for (const b of cluster.nodes.slice(i + 1))
        links.push({
          id: `vxlan:${a.name}:${b.name}`,
          from: ids.tunnel(a.name),
          to: ids.tunnel(b.name),
          kind: 'tunnel',
          label: `UDP ${spec.vxlan.port}`,
        });
    });
  if (spec.outside) {
    boxes.push({ id: ids.router, kind: 'router', lines: ['router', '192.168.64.1 | 203.0.113.1'] });
    boxes.push({ id: ids.outside, kind: 'outside', lines: ['outside host', '203.0.113.10:80'] });
    links.push({ id: 'cable:router', from: ids.router, to: ids.switch, kind: 'cable', label: 'sw-router' });
    links.push({ id: 'cable:outside', from: ids.outside, to: ids.router, kind: 'cable', label: 'ext0' });
  }
  for (const s of buildProxyModel(cluster, '').services) {
    boxes.push({
      id: ids.service(s.id),
      kind: 'service',
      lines: [
        `service ${s.id}`,
        `${s.clusterIP}:${s.port}/${s.protocol}${s.nodePort ? `  NodePort ${s.nodePort}` : ''}`,
      ],
    });
    for (const e of s.endpoints)
      links.push({
        id: `ep:${s.id}:${e.pod}`,
        from: ids.service(s.id),
        to: ids.pod(e.pod),
        kind: 'service',
        label: `:${e.port}`,
      });
  }
  return {
    title: `lab ${lab}: ${cluster.nodes.length} node(s), ${cluster.pods.length} pod(s), same node ${spec.sameNode}, cross node ${spec.crossNode}`,
    boxes,
    links,
  };
}

/** The box a trace hop happened in: a pod, a node's bridge (or the node), its tunnel device, the switch. */
export function anchorOf(cluster: Cluster, place: string, layer: 'inner' | 'outer'): string | undefined {
  if (place === 'switch') return ids.switch;
  if (place === 'router') return ids.router;
  if (place === 'outside') return ids.outside;
  if (place.startsWith('pod ')) return ids.pod(place.slice(4));
  const n = cluster.nodes.find((x) => x.name === place);
  if (!n) return undefined;
  if (layer === 'outer') return ids.tunnel(n.name);
  return cluster.spec.sameNode === 'bridge' ? ids.bridge(n.name) : ids.node(n.name);
}
