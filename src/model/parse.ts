import { parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { ifnameProblem } from '../net/ifname.js';
import { Cidr, Ip } from '../net/ip.js';
import type { ClusterSpec, ContainerSpec, NodeSpec, PodSpec } from './cluster.js';
import { defaultClusterDoc } from './defaults.js';
import { clusterDocSchema, k8sPodSchema } from './schema.js';
import { checkServices, parseServiceManifest } from './service.js';

type Doc = Record<string, unknown>;

/**
 * Reads a cluster file: one `kind: Cluster` document (YAML or JSON) plus any number of plain Kubernetes
 * `kind: Pod` documents. Without a Cluster document the default (seed) topology is used with the file's pods.
 * Throws ConfigError listing every problem found, each with its path and value.
 */
export function parseClusterFile(text: string, source = 'cluster spec'): ClusterSpec {
  const issues: ConfigIssue[] = [];
  const docs: { doc: Doc; at: string }[] = [];
  const parsed = parseAllDocuments(text);
  const list = Array.isArray(parsed) ? parsed : [parsed];
  list.forEach((d, i) => {
    for (const e of d.errors)
      issues.push({
        path: `document ${i + 1}`,
        message: `is not valid YAML/JSON: ${e.message.split('\n')[0]}`,
      });
    const value = d.toJS() as unknown;
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      issues.push({ path: `document ${i + 1}`, message: 'must be a mapping with apiVersion and kind' });
      return;
    }
    docs.push({ doc: value as Doc, at: list.length > 1 ? `document ${i + 1}: ` : '' });
  });
  if (issues.length) throw new ConfigError(issues, source);
  return parseClusterDocs(docs, source);
}

/** Same as parseClusterFile for already-decoded documents (e.g. from the agent's datastore). */
export function parseClusterDocs(
  docs: readonly { doc: Doc; at: string }[],
  source = 'cluster spec',
): ClusterSpec {
  const issues: ConfigIssue[] = [];
  const clusters = docs.filter((d) => d.doc.kind === 'Cluster');
  const pods = docs.filter((d) => d.doc.kind === 'Pod');
  const serviceDocs = docs.filter((d) => d.doc.kind === 'Service');
  for (const d of docs) {
    if (d.doc.kind !== 'Cluster' && d.doc.kind !== 'Pod' && d.doc.kind !== 'Service') {
      issues.push({
        path: `${d.at}kind`,
        message: `${JSON.stringify(d.doc.kind)} is not supported`,
        hint: 'use kind: Cluster (apiVersion podnet.dev/v1alpha1), kind: Pod or kind: Service (v1)',
      });
    }
  }
  if (clusters.length > 1)
    issues.push({ path: clusters[1]!.at || 'kind', message: 'a file may hold only one Cluster document' });

  // Without a Cluster document, the file's Pods and Services join the default (seed) cluster.
  const clusterDoc = clusters[0] ?? { doc: defaultClusterDoc() as unknown as Doc, at: '' };
  const c = clusterDocSchema.safeParse(clusterDoc.doc);
  if (!c.success) issues.push(...zodIssues(c.error, clusterDoc.at, clusterDoc.doc));

  const extraPods: PodSpec[] = [];
  for (const d of pods) {
    const p = k8sPodSchema.safeParse(d.doc);
    if (!p.success) {
      issues.push(...zodIssues(p.error, d.at, d.doc));
      continue;
    }
    const m = p.data.metadata;
    extraPods.push({
      name: m.name,
      node: p.data.spec.nodeName,
      labels: m.labels ?? {},
      containers: p.data.spec.containers.map((k) => ({
        name: k.name,
        command: [...(k.command ?? []), ...(k.args ?? [])],
        rootfs: 'host',
      })),
      ...(m.annotations?.['podnet.dev/ip']
        ? {
            ip: parseIpOr(
              m.annotations['podnet.dev/ip'],
              `${d.at}metadata.annotations.podnet.dev/ip`,
              issues,
            ),
          }
        : {}),
    });
    p.data.spec.containers.forEach((k, i) => {
      if (![...(k.command ?? []), ...(k.args ?? [])].length) {
        issues.push({
          path: `${d.at}spec.containers[${i}].command`,
          message: 'is missing',
          hint: 'podnet runs no images: give the command to run',
        });
      }
    });
  }
  if (issues.length || !c.success) throw new ConfigError(issues, source);

  const s = c.data.spec;
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

  const allPods = [
    ...s.pods.map((p, i) => ({ p, path: `${at}spec.pods[${i}]` })),
    ...extraPods.map((p, i) => ({ p, path: `${pods[i]!.at}metadata` })),
  ];
  const podNames = new Set<string>();
  const podOut: PodSpec[] = [];
  for (const { p, path } of allPods) {
    if (podNames.has(p.name))
      issues.push({ path: `${path}.name`, message: `'${p.name}' is used by another pod` });
    podNames.add(p.name);
    if (!nodeNames.has(p.node))
      issues.push({
        path: `${path}.node`,
        message: `'${p.node}' is not a node of this cluster`,
        hint: `nodes: ${[...nodeNames].join(', ')}`,
      });
    let ip: Ip | undefined;
    if ('ip' in p && typeof p.ip === 'string') ip = parseIpOr(p.ip, `${path}.ip`, issues);
    else if (p.ip instanceof Ip) ip = p.ip;
    const cnames = new Set<string>();
    p.containers.forEach((k, i) => {
      if (cnames.has(k.name))
        issues.push({
          path: `${path}.containers[${i}].name`,
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
    ...s.services.map((doc, i) => ({ doc, at: `${at}spec.services[${i}].` })),
    ...serviceDocs.map((d) => ({ doc: d.doc as unknown, at: d.at })),
  ].flatMap(({ doc, at: where }) => {
    const svc = parseServiceManifest(doc, where, issues);
    return svc ? [{ svc, at: where }] : [];
  });
  if (serviceCIDR) checkServices(services, serviceCIDR, issues);

  if (issues.length || !clusterCIDR || !serviceCIDR || !underlay || !group)
    throw new ConfigError(issues, source);
  return {
    name: c.data.metadata.name,
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
    services: services.map((x) => x.svc),
    proxy: s.proxy,
    egressMasquerade: s.egressMasquerade,
    outside: s.outside,
  };
}

function parseIpOr(text: string, path: string, issues: ConfigIssue[]): Ip | undefined {
  const ip = Ip.tryParse(text);
  if (!ip) issues.push({ path, message: `'${text}' is not a valid IPv4 address` });
  return ip;
}

/** Turns zod's issues into ours, with dotted paths and the offending value quoted. */
function zodIssues(error: z.ZodError, at: string, root: unknown): ConfigIssue[] {
  return error.issues.map((i) => {
    const path = at + formatPath(i.path);
    if (i.code === 'unrecognized_keys') {
      return {
        path: path || '(top level)',
        message: `unknown field(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`,
        hint: 'see docs/spec.md for the fields podnet knows',
      };
    }
    const value = valueAt(root, i.path);
    const shown = value === undefined ? 'is missing' : `${JSON.stringify(value)}`;
    if (value === undefined) return { path, message: `${shown} (${i.message})` };
    return { path, message: `${shown} ${i.message.replace(/^Invalid input: /, 'is invalid: ')}` };
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((k, idx) => (typeof k === 'number' ? `[${k}]` : `${idx === 0 ? '' : '.'}${String(k)}`))
    .join('');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}
