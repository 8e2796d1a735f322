import type { ConfigIssue } from '../errors.js';
import { ConfigError } from '../errors.js';
import { ifnameProblem } from '../net/ifname.js';
import { Cidr, Ip } from '../net/ip.js';
import type { ClusterSpec, ContainerSpec, NodeSpec, PodSpec } from './cluster.js';
import type { SourceDoc } from './documents.js';
import { attachEndpointSlices, type ReadSlice } from './endpoint-slice.js';
import type * as z from './mini-schema.js';
import type { checkPolicyDocs } from './policy/cluster-docs.js';
import type { clusterDocSchema } from './schema.js';
import type { ServiceSpec } from './service.js';
import { checkServices, parseServiceManifest } from './service-manifest.js';
import { type DocWhere, formatPath } from './strict.js';

/** A cluster file's documents, each read strictly (parse.ts), for the checks across them. */
export interface ReadDocs {
  readonly cluster: z.output<ReturnType<typeof clusterDocSchema>>;
  /** The Cluster document, or the default cluster the file's objects join. */
  readonly clusterDoc: SourceDoc;
  /** Kubernetes Pods (k8s-pods.ts). */
  readonly extraPods: readonly { pod: PodSpec; at: string }[];
  /** Top-level Kubernetes Services. */
  readonly topServices: readonly { svc: ServiceSpec; at: string }[];
  readonly policyDocs: ReturnType<typeof checkPolicyDocs>;
  readonly slices: readonly ReadSlice[];
}

/**
 * The semantic checks of a cluster across its documents (addresses and ranges, node and pod names, modes that
 * need a topology, Services and their endpoints), and the ClusterSpec they give. Throws a ConfigError listing
 * every problem, each with the path as written in the file.
 */
export function checkCluster(d: ReadDocs, issues: ConfigIssue[], source: string): ClusterSpec {
  const { clusterDoc, extraPods, topServices, policyDocs, slices } = d;
  const s = d.cluster.spec;
  const at = clusterDoc.at;
  const cidr = (text: string, path: string) => {
    const v = Cidr.tryParse(text);
    if (!v)
      issues.push({
        path: `${at}${path}`,
        message: `'${text}' is not a valid IPv4 CIDR`,
        hint: 'write a.b.c.d/n with the host bits zero',
      });
    return v;
  };
  const clusterCIDR = cidr(s.clusterCIDR, 'spec.clusterCIDR');
  const serviceCIDR = cidr(s.serviceCIDR, 'spec.serviceCIDR');
  const underlay = cidr(s.underlay.subnet, 'spec.underlay.subnet');
  const ranges: [string, Cidr | undefined][] = [
    ['spec.clusterCIDR', clusterCIDR],
    ['spec.serviceCIDR', serviceCIDR],
    ['spec.underlay.subnet', underlay],
  ];
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const [pa, a] = ranges[i]!;
      const [pb, b] = ranges[j]!;
      if (a && b && a.overlaps(b))
        issues.push({
          path: `${at}${pb}`,
          message: `'${b}' overlaps ${pa} '${a}'`,
          hint: 'pod, service and node networks must not overlap',
        });
    }
  }
  if (clusterCIDR && s.nodeCIDRMaskSize < clusterCIDR.prefix) {
    issues.push({
      path: `${at}spec.nodeCIDRMaskSize`,
      message: `${s.nodeCIDRMaskSize} is shorter than the cluster CIDR's /${clusterCIDR.prefix}`,
      hint: `use ${clusterCIDR.prefix} to 30`,
    });
  }
  const bridgeProblem = ifnameProblem(s.bridge);
  if (bridgeProblem) issues.push({ path: `${at}spec.bridge`, message: `'${s.bridge}' ${bridgeProblem}` });

  const nodes: NodeSpec[] = [];
  const nodeNames = new Set<string>();
  const nodeIps = new Map<number, string>();
  s.nodes.forEach((n, i) => {
    const path = `${at}spec.nodes[${i}]`;
    if (nodeNames.has(n.name))
      issues.push({ path: `${path}.name`, message: `'${n.name}' is used by another node` });
    nodeNames.add(n.name);
    const ip = parseIpOr(n.ip, `${path}.ip`, issues);
    if (ip && underlay) {
      if (!underlay.contains(ip))
        issues.push({
          path: `${path}.ip`,
          message: `'${n.ip}' is outside the underlay subnet '${underlay}'`,
        });
      else if (
        ip.equals(underlay.network) ||
        ip.equals(underlay.broadcast) ||
        ip.equals(underlay.network.add(1))
      ) {
        issues.push({
          path: `${path}.ip`,
          message: `'${n.ip}' is reserved in '${underlay}' (network, broadcast or the .1 gateway)`,
        });
      }
      const other = nodeIps.get(ip.value);
      if (other)
        issues.push({ path: `${path}.ip`, message: `'${n.ip}' is already the address of node '${other}'` });
      nodeIps.set(ip.value, n.name);
    }
    let podCIDR: Cidr | undefined;
    if (n.podCIDR !== undefined) {
      podCIDR = cidr(n.podCIDR, `spec.nodes[${i}].podCIDR`);
      if (
        podCIDR &&
        clusterCIDR &&
        (!clusterCIDR.contains(podCIDR.network) || podCIDR.prefix < clusterCIDR.prefix)
      ) {
        issues.push({
          path: `${path}.podCIDR`,
          message: `'${podCIDR}' is not inside the cluster CIDR '${clusterCIDR}'`,
        });
      }
    }
    if (ip)
      nodes.push({
        name: n.name,
        ip,
        ...(podCIDR ? { podCIDR } : {}),
        ...(n.segment ? { segment: n.segment } : {}),
      });
  });
  if (s.crossNode === 'host-gw') {
    const segments = new Map<string, string[]>();
    for (const n of s.nodes) {
      const seg = n.segment ?? '(underlay)';
      segments.set(seg, [...(segments.get(seg) ?? []), n.name]);
    }
    if (segments.size > 1)
      issues.push({
        path: `${at}spec.crossNode`,
        message: `'host-gw' needs every node on one L2 segment, but the nodes are on ${segments.size}: ${[...segments].map(([k, v]) => `${k} (${v.join(', ')})`).join('; ')}`,
        hint: 'host-gw routes to a node by its underlay address as next hop, which must be directly reachable; use vxlan or ipip across segments',
      });
  }
  const group = parseIpOr(s.vxlan.group, `${at}spec.vxlan.group`, issues);
  if (group && !Cidr.parse('224.0.0.0/4').contains(group))
    issues.push({
      path: `${at}spec.vxlan.group`,
      message: `'${s.vxlan.group}' is not an IPv4 multicast address`,
      hint: 'use one of 224.0.0.0/4, e.g. 239.1.1.1 (administratively scoped)',
    });

  // Where each pod field is in the user's file: podnet's own pod list, or a Kubernetes Pod's fields.
  const allPods = [
    ...s.pods.map((p, i) => {
      const base = `${at}spec.pods[${i}]`;
      const f = {
        name: `${base}.name`,
        node: `${base}.node`,
        ip: `${base}.ip`,
        containers: `${base}.containers`,
      };
      return { p, f };
    }),
    ...extraPods.map(({ pod, at: a }) => {
      const ip = `${a}${formatPath(['metadata', 'annotations', 'podnet.dev/ip'])}`;
      const f = {
        name: `${a}metadata.name`,
        node: `${a}spec.nodeName`,
        ip,
        containers: `${a}spec.containers`,
      };
      return { p: pod, f };
    }),
  ];
  const podNames = new Set<string>();
  const podOut: PodSpec[] = [];
  for (const { p, f } of allPods) {
    if (podNames.has(p.name)) issues.push({ path: f.name, message: `'${p.name}' is used by another pod` });
    podNames.add(p.name);
    if (!nodeNames.has(p.node))
      issues.push({
        path: f.node,
        message: `'${p.node}' is not a node of this cluster`,
        hint: `nodes: ${[...nodeNames].join(', ')}`,
      });
    let ip: Ip | undefined;
    if ('ip' in p && typeof p.ip === 'string') ip = parseIpOr(p.ip, f.ip, issues);
    else if (p.ip instanceof Ip) ip = p.ip;
    const cnames = new Set<string>();
    p.containers.forEach((k, i) => {
      if (cnames.has(k.name))
        issues.push({
          path: `${f.containers}[${i}].name`,
          message: `'${k.name}' is used by another container of this pod`,
        });
      cnames.add(k.name);
    });
    podOut.push({
      name: p.name,
      node: p.node,
      labels: p.labels,
      containers: p.containers as ContainerSpec[],
      ...(ip ? { ip } : {}),
      ...('namespace' in p && p.namespace ? { namespace: p.namespace } : {}),
      ...('ports' in p && p.ports ? { ports: p.ports } : {}),
    });
  }

  if (s.sameNode === 'veth') {
    const onNodes = new Set(podOut.map((p) => p.node));
    if (podOut.length !== 2 || onNodes.size !== 1) {
      issues.push({
        path: `${at}spec.sameNode`,
        message: `'veth' joins exactly two pods on one node with a direct veth pair; this spec has ${podOut.length} pod(s) on ${onNodes.size} node(s)`,
        hint: 'use sameNode: bridge for any other topology (seed §3.2)',
      });
    }
    if (s.crossNode !== 'none')
      issues.push({
        path: `${at}spec.crossNode`,
        message: `'${s.crossNode}' needs sameNode: bridge (pods route through the node's bridge gateway)`,
      });
  }

  const services = [
    ...s.services.map((doc, i) => ({
      doc,
      where: {
        at: `${at}spec.services[${i}].`,
        locate: (p: readonly PropertyKey[], key?: boolean) =>
          clusterDoc.locate?.(['spec', 'services', i, ...p], key),
      } as DocWhere,
    })),
  ].flatMap(({ doc, where }) => {
    const svc = parseServiceManifest(doc, where, issues);
    return svc ? [{ svc, at: where.at }] : [];
  });
  services.push(...topServices);
  if (serviceCIDR) checkServices(services, serviceCIDR, issues);
  // Selector-less Services take their endpoints from the file's EndpointSlices.
  const withEndpoints = attachEndpointSlices(slices, services, nodeNames, serviceCIDR, issues);

  if (issues.length || !clusterCIDR || !serviceCIDR || !underlay || !group)
    throw new ConfigError(issues, source);
  return {
    name: d.cluster.metadata.name,
    clusterCIDR,
    serviceCIDR,
    nodeCIDRMaskSize: s.nodeCIDRMaskSize,
    underlay: { subnet: underlay, mtu: s.underlay.mtu },
    sameNode: s.sameNode,
    crossNode: s.crossNode,
    vxlan: { vni: s.vxlan.vni, port: s.vxlan.port, learning: s.vxlan.learning, group },
    bridge: s.bridge,
    nodes,
    pods: podOut,
    services: withEndpoints.map((x) => x.svc),
    proxy: s.proxy,
    egressMasquerade: s.egressMasquerade,
    outside: s.outside,
    ...policyDocs,
  };
}

/** `text` as an address, or undefined with a problem at `path`. */
export function parseIpOr(text: string, path: string, issues: ConfigIssue[]): Ip | undefined {
  const ip = Ip.tryParse(text);
  if (!ip) issues.push({ path, message: `'${text}' is not a valid IPv4 address` });
  return ip;
}
