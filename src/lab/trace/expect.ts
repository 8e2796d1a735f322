import type { Cluster } from '../../model/resolve.js';
import { vxlanDevice } from '../../plan/cross-node/vxlan.js';
import type { LabNames } from '../names.js';
import type { TraceEndpoint, TraceRequest } from './target.js';

/**
 * The path podnet's model says a probe takes (pure): the namespaces it crosses in order, each with what
 * should happen there. The trace prints it beside what it saw; a station without an observation, or an
 * observation without a station, is a finding.
 */

export interface Station {
  readonly ns: string;
  /** For people: `pod c`, `node-2`, `switch`, `router`, `outside`. */
  readonly place: string;
  readonly layer: 'inner' | 'outer';
  readonly expect: string;
}

export interface ExpectedPath {
  readonly request: Station[];
  readonly reply: Station[];
  /** Why no path exists in the model (e.g. no cross-node backend), when none does. */
  readonly unreachable?: string;
}

/** The expected path to one endpoint (the one the trace saw chosen, or the first candidate). */
export function expectedPath(
  cluster: Cluster,
  names: LabNames,
  req: TraceRequest,
  endpoint: TraceEndpoint | undefined,
): ExpectedPath {
  const { client, target } = req;
  const spec = cluster.spec;
  const st: Station[] = [];
  const nodeSt = (node: string, expect: string, layer: 'inner' | 'outer' = 'inner') =>
    st.push({ ns: names.nodeNs(node), place: node, layer, expect });
  const nodeIp = (n: string) => cluster.nodes.find((x) => x.name === n)?.ip.toString() ?? '?';
  let unreachable: string | undefined;
  const at = (port: number) =>
    target.proto === 'icmp' ? "delivered to the kernel's echo responder" : `delivered to :${port}`;

  /** Node to node on the underlay (node addresses: never encapsulated). */
  const underlay = (from: string, to: string, why: string) => {
    st.push({ ns: names.switchNs, place: 'switch', layer: 'inner', expect: `bridged ${from} → ${to}` });
    nodeSt(to, why);
  };
  /** Node to node for pod addresses: the cross-node backend. */
  const overlay = (from: string, to: string, then: string) => {
    if (spec.crossNode === 'vxlan') {
      nodeSt(
        from,
        `encapsulated: VXLAN VNI ${spec.vxlan.vni}, ${nodeIp(from)} → ${nodeIp(to)}:${spec.vxlan.port}`,
        'outer',
      );
      st.push({ ns: names.switchNs, place: 'switch', layer: 'outer', expect: `bridged ${from} → ${to}` });
      nodeSt(to, `decapsulated by ${vxlanDevice(cluster)} (VNI ${spec.vxlan.vni})`, 'outer');
      nodeSt(to, then);
    } else if (spec.crossNode === 'host-gw') {
      underlay(from, to, then);
    } else {
      unreachable ??= `crossNode is '${spec.crossNode}': podnet builds no path between nodes`;
    }
  };

  if (spec.sameNode === 'veth' && client.kind === 'pod' && endpoint?.node) {
    st.push({
      ns: names.podNs(client.name),
      place: `pod ${client.name}`,
      layer: 'inner',
      expect: 'sent by eth0',
    });
    st.push({
      ns: names.podNs(endpoint.pod),
      place: `pod ${endpoint.pod}`,
      layer: 'inner',
      expect: at(endpoint.port),
    });
    return { request: st, reply: reverse(st) };
  }

  let cur = client.node;
  if (client.kind === 'pod') {
    st.push({
      ns: names.podNs(client.name),
      place: `pod ${client.name}`,
      layer: 'inner',
      expect: 'sent by eth0 to the gateway',
    });
  }
  const eps = target.endpoints.map((e) => e.pod).join(', ') || 'none';
  const dnat =
    target.kind === 'clusterip'
      ? `DNAT ${target.ip}:${target.port} to one of ${eps} (${target.service!.id})`
      : '';
  if (target.kind === 'nodeport') {
    const np = target.nodePortNode!;
    const masq = client.kind === 'pod' ? ', masqueraded to the node (egress)' : '';
    if (client.kind === 'pod') nodeSt(cur, `routed to ${target.ip} by eth0${masq}`);
    else nodeSt(cur, `sent by eth0 to ${target.ip}`);
    const local = target.service?.nodePortLocal;
    underlay(
      cur,
      np,
      `DNAT NodePort ${target.port} to one of ${eps}${local ? ' (externalTrafficPolicy Local: no masquerade)' : ', masqueraded to the node'}`,
    );
    cur = np;
  } else if (target.kind === 'outside') {
    nodeSt(
      cur,
      `routed by the default route via the router${client.kind === 'pod' ? ', masqueraded to the node' : ''}`,
    );
    st.push({ ns: names.switchNs, place: 'switch', layer: 'inner', expect: `bridged ${cur} → router` });
    st.push({ ns: names.nodeNs('router'), place: 'router', layer: 'inner', expect: 'routed by ext0' });
    st.push({ ns: names.podNs('outside'), place: 'outside', layer: 'inner', expect: at(target.port) });
    return { request: st, reply: reverse(st), ...(unreachable ? { unreachable } : {}) };
  } else {
    const ep = endpoint;
    const where = ep?.node === cur ? `to ${ep.pod} by ${spec.bridge}` : `to node ${ep?.node ?? '?'}`;
    nodeSt(cur, [dnat, `routed ${where}`].filter(Boolean).join('; '));
  }
  if (endpoint?.node && endpoint.node !== cur) {
    overlay(cur, endpoint.node, `routed to ${endpoint.pod} by ${spec.bridge}`);
  }
  if (endpoint)
    st.push({
      ns: names.podNs(endpoint.pod),
      place: `pod ${endpoint.pod}`,
      layer: 'inner',
      expect: at(endpoint.port),
    });
  else unreachable ??= `${target.label} has no endpoints`;
  return { request: st, reply: reverse(st), ...(unreachable ? { unreachable } : {}) };
}

/** The reply retraces the request (the lab's routing is symmetric; conntrack undoes the NAT on the way). */
function reverse(st: readonly Station[]): Station[] {
  return [...st].reverse().map((s) => ({ ...s, expect: 'the reply, back the same way' }));
}
