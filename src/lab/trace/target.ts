import { ConfigError, type ConfigIssue } from '../../errors.js';
import type { Cluster } from '../../model/resolve.js';
import { buildProxyModel, type ProxyServicePort } from '../../plan/services/model.js';
import { IDENTITY_PORTS } from '../plan.js';

/**
 * What `podnet lab trace FROM TO[:PORT]` traces, decided from the lab's model (pure): the client, the address
 * the probe is sent to, and every place the packet may end up (a service's endpoints, a NodePort's).
 */

export type TraceProto = 'tcp' | 'udp' | 'icmp';

/** The probe's sender: a pod (its namespace) or a node (the node's own namespace). */
export interface TraceClient {
  readonly kind: 'pod' | 'node';
  readonly name: string;
  readonly node: string;
  readonly ip: string;
}

/** A place the probe may be delivered to. */
export interface TraceEndpoint {
  readonly ip: string;
  readonly port: number;
  /** A pod name, or 'outside' for the lab's outside host. */
  readonly pod: string;
  /** The node it runs on (absent for the outside host). */
  readonly node?: string;
}

export interface TraceTarget {
  readonly kind: 'pod' | 'clusterip' | 'nodeport' | 'outside';
  /** How the user named it, resolved: `pod b`, `service default/web:http`, `NodePort 30080 on node-1`. */
  readonly label: string;
  readonly proto: TraceProto;
  /** Where the probe is sent. */
  readonly ip: string;
  readonly port: number;
  readonly endpoints: readonly TraceEndpoint[];
  /** The service port (ClusterIP and NodePort targets). */
  readonly service?: ProxyServicePort;
  /** NodePort: the node whose address the probe is sent to. */
  readonly nodePortNode?: string;
}

export interface TraceRequest {
  readonly client: TraceClient;
  readonly target: TraceTarget;
}

/** The outside host's address and port (docs/services.md, "The lab's outside world"). */
export const OUTSIDE_HOST = { ip: '203.0.113.10', port: 80 } as const;

const SERVICE_REF = /^([a-z0-9][a-z0-9.-]*)\/([a-z0-9][a-z0-9-]*)(?::([A-Za-z0-9-]+))?$/;
const HOST_PORT = /^([^:/]+)(?::(\d{1,5}))?$/;

/** Resolves FROM and TO against the cluster; every problem at once (ConfigError, exit 2). */
export function resolveTrace(
  cluster: Cluster,
  from: string,
  to: string,
  proto: string | undefined,
): TraceRequest {
  const issues: ConfigIssue[] = [];
  const bad = (path: string, message: string, hint?: string) =>
    issues.push({ path, message, ...(hint ? { hint } : {}) });
  if (proto !== undefined && !['tcp', 'udp', 'icmp'].includes(proto))
    bad('--proto', `'${proto}' is not a protocol podnet traces`, 'use tcp, udp or icmp');
  const client = resolveClient(cluster, from, bad);
  const target = resolveTarget(cluster, to, proto as TraceProto | undefined, bad);
  if (issues.length || !client || !target) throw new ConfigError(issues, 'command line');
  if (target.kind === 'nodeport' && client.kind === 'node' && client.node === target.nodePortNode)
    bad('TO', `'${to}' is a NodePort on ${client.node} itself`, 'trace it from another node or a pod');
  if (issues.length) throw new ConfigError(issues, 'command line');
  return { client, target };
}

function resolveClient(
  cluster: Cluster,
  from: string,
  bad: (p: string, m: string, h?: string) => void,
): TraceClient | undefined {
  const pod = cluster.pods.find((p) => p.name === from);
  if (pod) return { kind: 'pod', name: pod.name, node: pod.node, ip: pod.ip.toString() };
  const node = cluster.nodes.find((n) => n.name === from);
  if (node) return { kind: 'node', name: node.name, node: node.name, ip: node.ip.toString() };
  bad(
    'FROM',
    `'${from}' is neither a pod nor a node of the lab`,
    `pods: ${cluster.pods.map((p) => p.name).join(', ')}; nodes: ${cluster.nodes.map((n) => n.name).join(', ')}`,
  );
  return undefined;
}

function resolveTarget(
  cluster: Cluster,
  to: string,
  proto: TraceProto | undefined,
  bad: (p: string, m: string, h?: string) => void,
): TraceTarget | undefined {
  const ports = buildProxyModel(cluster, '').services;
  const podEp = (ip: string, port: number): TraceEndpoint | undefined => {
    const p = cluster.pods.find((x) => x.ip.toString() === ip);
    return p ? { ip, port, pod: p.name, node: p.node } : undefined;
  };
  const endpointsOf = (eps: readonly { ip: string; port: number }[]) =>
    eps.flatMap((e) => podEp(e.ip, e.port) ?? []);
  const service = (s: ProxyServicePort): TraceTarget | undefined => {
    if (proto === 'icmp') {
      bad('--proto', `a ClusterIP answers no ICMP (${s.id} is ${s.protocol})`, `use --proto ${s.protocol}`);
      return undefined;
    }
    if (proto && proto !== s.protocol) bad('--proto', `service port ${s.id} is ${s.protocol}, not ${proto}`);
    return {
      kind: 'clusterip',
      label: `service ${s.id}`,
      proto: s.protocol,
      ip: s.clusterIP,
      port: s.port,
      endpoints: endpointsOf(s.endpoints),
      service: s,
    };
  };
  const ref = SERVICE_REF.exec(to);
  if (ref) {
    const [, ns, name, portName] = ref as unknown as [string, string, string, string | undefined];
    const of = ports.filter((s) => s.id.startsWith(`${ns}/${name}:`));
    if (!of.length) {
      bad('TO', `no service '${ns}/${name}' in the lab`, `services: ${names(ports)}`);
      return undefined;
    }
    const pick = portName
      ? of.filter((s) => s.id === `${ns}/${name}:${portName}` || String(s.port) === portName)
      : of;
    if (pick.length !== 1) {
      bad(
        'TO',
        `service '${ns}/${name}' has ${portName ? `no port '${portName}'` : 'several ports'}`,
        `ports: ${names(of)}`,
      );
      return undefined;
    }
    return service(pick[0]!);
  }
  const hp = HOST_PORT.exec(to);
  if (!hp) {
    bad('TO', `'${to}' is not a pod, a service (ns/name:port), IP:PORT, NODE:NODEPORT or 'outside'`);
    return undefined;
  }
  const host = hp[1]!;
  const port = hp[2] === undefined ? undefined : Number(hp[2]);
  if (port !== undefined && (port < 1 || port > 65535)) bad('TO', `port ${port} is not in 1-65535`);
  const l4 = proto ?? 'tcp';
  if (host === 'outside' || host === OUTSIDE_HOST.ip) {
    if (!cluster.spec.outside)
      bad('TO', 'the lab has no outside host', "set 'outside: true' in the cluster spec (docs/services.md)");
    const p = port ?? OUTSIDE_HOST.port;
    return {
      kind: 'outside',
      label: `the outside host ${OUTSIDE_HOST.ip}`,
      proto: l4,
      ip: OUTSIDE_HOST.ip,
      port: p,
      endpoints: [{ ip: OUTSIDE_HOST.ip, port: p, pod: 'outside' }],
    };
  }
  const pod = cluster.pods.find((p) => p.name === host || p.ip.toString() === host);
  if (pod) {
    const p = port ?? IDENTITY_PORTS.web;
    return {
      kind: 'pod',
      label: `pod ${pod.name}`,
      proto: l4,
      ip: pod.ip.toString(),
      port: p,
      endpoints: [{ ip: pod.ip.toString(), port: p, pod: pod.name, node: pod.node }],
    };
  }
  const svc = ports.filter((s) => s.clusterIP === host && (port === undefined || s.port === port));
  if (svc.length === 1) return service(svc[0]!);
  if (svc.length > 1) {
    bad('TO', `'${to}' names several service ports`, `give the port: ${names(svc)}`);
    return undefined;
  }
  const node = cluster.nodes.find((n) => n.name === host || n.ip.toString() === host);
  if (node) {
    const np = ports.filter((s) => s.nodePort !== undefined && (port === undefined || s.nodePort === port));
    if (np.length !== 1) {
      bad(
        'TO',
        `'${to}' is node ${node.name} but ${port === undefined ? 'no NodePort was given' : `no service has NodePort ${port}`}`,
        `NodePorts: ${ports.flatMap((s) => (s.nodePort ? [`${s.nodePort} (${s.id})`] : [])).join(', ') || 'none'}`,
      );
      return undefined;
    }
    const s = np[0]!;
    if (proto && proto !== s.protocol)
      bad('--proto', `NodePort ${s.nodePort} is ${s.protocol}, not ${proto}`);
    return {
      kind: 'nodeport',
      label: `NodePort ${s.nodePort} of service ${s.id} on ${node.name}`,
      proto: s.protocol,
      ip: node.ip.toString(),
      port: s.nodePort!,
      endpoints: endpointsOf(
        buildProxyModel(cluster, node.name).services.find((x) => x.id === s.id)?.nodePortEndpoints ?? [],
      ),
      service: s,
      nodePortNode: node.name,
    };
  }
  bad(
    'TO',
    `'${to}' is not a pod, a ClusterIP, a node or the outside host of the lab`,
    `pods: ${cluster.pods.map((p) => p.name).join(', ')}; services: ${names(ports)}`,
  );
  return undefined;
}

const names = (ps: readonly ProxyServicePort[]) =>
  ps.map((s) => `${s.id} (${s.clusterIP}:${s.port})`).join(', ') || 'none';
