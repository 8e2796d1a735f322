import { ConfigError, type ConfigIssue } from '../errors.js';
import { ifnameProblem } from '../net/ifname.js';
import { Cidr, Ip } from '../net/ip.js';
import type { ClusterSpec, ContainerSpec, NodeSpec, PodSpec } from './cluster.js';
import { defaultClusterDoc } from './defaults.js';
import { type SourceDoc, splitDocuments } from './documents.js';
import { attachEndpointSlices, readEndpointSlices } from './endpoint-slice.js';
import { checkPolicyDocs, podId } from './policy/cluster-docs.js';
import { clusterDocSchema, k8sPodSchema } from './schema.js';
import { checkServices, parseServiceManifest } from './service-manifest.js';
import { type DocWhere, formatPath, parsePath, strictParse, suggest } from './strict.js';

type Doc = Record<string, unknown>;

/** The kinds a cluster file may hold, with the apiVersion each must carry. */
const KINDS: Readonly<Record<string, string>> = {
  Cluster: 'podnet.dev/v1alpha1',
  Pod: 'v1',
  Service: 'v1',
  Namespace: 'v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  EndpointSlice: 'discovery.k8s.io/v1',
};

/**
 * Reads a cluster file: one `kind: Cluster` document (YAML or JSON) plus any number of plain Kubernetes
 * `kind: Pod` and `kind: Service` documents. Without a Cluster document the default (seed) topology is used with
 * the file's pods. Throws ConfigError listing every problem found, each with its path, value and position.
 */
export function parseClusterFile(text: string, source = 'cluster spec'): ClusterSpec {
  const { docs, issues } = splitDocuments(text, source);
  return parseClusterDocs(docs, source, issues);
}

/**
 * Same as parseClusterFile for already-decoded documents (e.g. from the agent's datastore). `known` are
 * problems already found in the file (documents that are not mappings), listed with the others.
 */
export function parseClusterDocs(
  docs: readonly SourceDoc[],
  source = 'cluster spec',
  known: readonly ConfigIssue[] = [],
): ClusterSpec {
  const issues: ConfigIssue[] = [...known];
  try {
    return checkDocs(docs, issues, source);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(inFileOrder(positioned(e.issues, docs)), source);
    throw e;
  }
}

/**
 * Problems in the order of the file (flags and whole-file problems first), each once: a kind or apiVersion
 * refused by the kind check is not repeated by the kind's schema.
 */
function inFileOrder(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  const once = issues.filter((i) => {
    if (!/: (kind|apiVersion)$/.test(i.path)) return true;
    if (seen.has(i.path)) return false;
    seen.add(i.path);
    return true;
  });
  return once
    .map((i, n) => ({ i, n }))
    .sort((a, b) => (a.i.line ?? 0) - (b.i.line ?? 0) || (a.i.column ?? 0) - (b.i.column ?? 0) || a.n - b.n)
    .map((x) => x.i);
}

/** Adds line and column to issues whose path was built as text, from the document their prefix names. */
function positioned(issues: readonly ConfigIssue[], docs: readonly SourceDoc[]): ConfigIssue[] {
  const sorted = [...docs].filter((d) => d.at && d.locate).sort((a, b) => b.at.length - a.at.length);
  return issues.map((i) => {
    if (i.line !== undefined) return i;
    const d = sorted.find((x) => i.path.startsWith(x.at));
    const p = d?.locate?.(parsePath(i.path.slice(d.at.length)), i.atKey);
    return p ? { ...i, line: p.line, column: p.column } : i;
  });
}

function checkDocs(docs: readonly SourceDoc[], issues: ConfigIssue[], source: string): ClusterSpec {
  for (const d of docs) {
    const kind = d.doc.kind;
    if (kind === undefined) {
      issues.push({
        path: `${d.at}kind`,
        message: 'is missing',
        hint: `one of: ${Object.keys(KINDS).join(', ')}`,
        ...d.locate?.([]),
      });
    } else if (typeof kind !== 'string' || !(kind in KINDS)) {
      const near = typeof kind === 'string' ? suggest(kind, Object.keys(KINDS)) : undefined;
      issues.push({
        path: `${d.at}kind`,
        message: `${JSON.stringify(kind)} is not supported${near ? `; did you mean '${near}'?` : ''}`,
        hint: 'use kind: Cluster (apiVersion podnet.dev/v1alpha1), kind: Pod, Service or Namespace (v1), kind: NetworkPolicy (networking.k8s.io/v1), kind: EndpointSlice (discovery.k8s.io/v1)',
        ...d.locate?.(['kind']),
      });
    } else if (d.doc.apiVersion !== KINDS[kind]) {
      issues.push({
        path: `${d.at}apiVersion`,
        message: `${d.doc.apiVersion === undefined ? 'is missing' : `${JSON.stringify(d.doc.apiVersion)} is not allowed`} for kind ${kind}`,
        hint: `use apiVersion: ${KINDS[kind]}`,
        ...d.locate?.(['apiVersion']),
      });
    }
  }
  const clusters = docs.filter((d) => d.doc.kind === 'Cluster');
  const pods = docs.filter((d) => d.doc.kind === 'Pod');
  const serviceDocs = docs.filter((d) => d.doc.kind === 'Service');
  for (const extra of clusters.slice(1))
    issues.push({
      path: `${extra.at}kind`,
      message: 'a file may hold only one Cluster document',
      hint: `the first is ${clusters[0]!.at.replace(/: $/, '')}`,
      ...extra.locate?.(['kind']),
    });

  // Without a Cluster document, the file's Pods and Services join the default (seed) cluster.
  const clusterDoc: SourceDoc = clusters[0] ?? {
    doc: defaultClusterDoc() as unknown as Doc,
    at: 'default cluster: ',
  };
  const c = strictParse(clusterDocSchema, clusterDoc.doc, clusterDoc);
  if (!c.ok) issues.push(...c.issues);

  const extraPods: { pod: PodSpec; at: string }[] = [];
  for (const d of pods) {
    const p = strictParse(k8sPodSchema, d.doc, d);
    if (!p.ok) {
      issues.push(...p.issues);
      continue;
    }
    const m = p.data.metadata;
    const ipPath = `${d.at}${formatPath(['metadata', 'annotations', 'podnet.dev/ip'])}`;
    const ns = m.namespace ?? 'default';
    const ports = p.data.spec.containers.flatMap((k) => k.ports ?? []);
    extraPods.push({
      at: d.at,
      pod: {
        name: podId(ns, m.name),
        ...(m.namespace ? { namespace: m.namespace } : {}),
        ...(ports.length
          ? {
              ports: ports.map((x) => ({
                containerPort: x.containerPort,
                protocol: x.protocol,
                ...(x.name ? { name: x.name } : {}),
              })),
            }
          : {}),
        node: p.data.spec.nodeName,
        labels: m.labels ?? {},
        containers: p.data.spec.containers.map((k) => ({
          name: k.name,
          command: [...(k.command ?? []), ...(k.args ?? [])],
          rootfs: 'host',
        })),
        ...(m.annotations?.['podnet.dev/ip']
          ? { ip: parseIpOr(m.annotations['podnet.dev/ip'], ipPath, issues) }
          : {}),
      },
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
  // Top-level Services are checked now, so their problems are listed beside every other document's.
  const topServices = serviceDocs.flatMap((d) => {
    const svc = parseServiceManifest(d.doc, d, issues);
    return svc ? [{ svc, at: d.at }] : [];
  });
  // Namespaces, NetworkPolicies and EndpointSlices too, for the same reason.
  const policyDocs = checkPolicyDocs(docs, issues);
  const slices = readEndpointSlices(docs, issues);
  if (issues.length || !c.ok) throw new ConfigError(issues, source);

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
    services: withEndpoints.map((x) => x.svc),
    proxy: s.proxy,
    egressMasquerade: s.egressMasquerade,
    outside: s.outside,
    ...policyDocs,
  };
}

function parseIpOr(text: string, path: string, issues: ConfigIssue[]): Ip | undefined {
  const ip = Ip.tryParse(text);
  if (!ip) issues.push({ path, message: `'${text}' is not a valid IPv4 address` });
  return ip;
}
