import { exec } from '../../exec/process-runner.js';
import type { Cluster } from '../../model/resolve.js';
import { Ip } from '../../net/ip.js';
import { vtepMac } from '../../plan/cross-node/vxlan.js';
import { planMtu } from '../../plan/mtu.js';
import { bridgeArgv, ipArgv, netIn } from '../../render/netns.js';
import type { LabNames } from '../names.js';
import type { Station } from './expect.js';
import { type Hop, routeFor, routeText } from './hops.js';
import { type HopPolicy, noneOf } from './policy-hop.js';
import type { TraceRequest } from './target.js';

/**
 * Where the probe stopped and why, read from the kernel at that place: the rule that dropped it, the route
 * that is missing, the neighbour or VXLAN FDB entry that is missing, the MTU that is too small. A black hole
 * is an answer, not an error: this returns one sentence naming the node, and the entry at fault.
 */

interface RawRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  type?: string;
  flags?: string[];
}

const ipj = async (ns: string, ...args: string[]) => {
  const r = await exec(ipArgv(ns, '-j', ...args));
  try {
    return r.exitCode === 0 ? (JSON.parse(r.stdout || '[]') as unknown[]) : [];
  } catch {
    return [];
  }
};

/** Routes of a namespace's main table, with their type (blackhole, unreachable…). */
export async function readRoutes(ns: string): Promise<RawRoute[]> {
  return (await ipj(ns, 'route', 'show')) as RawRoute[];
}

/** The hook of a base chain in a namespace (`nft -j list chains`), or undefined when it cannot be read. */
async function hookOf(ns: string, family: string, table: string, chain: string): Promise<string | undefined> {
  const r = await exec(netIn({ kind: 'named', name: ns }, 'nft', '-j', 'list', 'chains', family) as string[]);
  try {
    const items = (
      JSON.parse(r.stdout) as { nftables: { chain?: { table: string; name: string; hook?: string } }[] }
    ).nftables;
    return items.find((i) => i.chain?.table === table && i.chain.name === chain)?.chain?.hook;
  } catch {
    return undefined;
  }
}

export interface Diagnosis {
  readonly answer: string;
  readonly node?: string;
  readonly kind: 'drop' | 'no-route' | 'route-type' | 'no-neighbour' | 'no-fdb' | 'mtu' | 'lost' | 'refused';
  /** kind 'drop' by a NetworkPolicy: the policies named (as on the hop). */
  readonly policy?: HopPolicy;
}

/** The prefix the model routes a destination by: the pod CIDR of the node it lives on, else the address. */
function prefixFor(cluster: Cluster, ip: string): string {
  const a = Ip.tryParse(ip);
  const n = a && cluster.nodes.find((x) => x.podCIDR.contains(a));
  return n ? n.podCIDR.toString() : `${ip}/32`;
}

export async function diagnose(o: {
  cluster: Cluster;
  names: LabNames;
  req: TraceRequest;
  stoppedAfter?: Hop;
  missing?: Station;
  icmpErrors: Hop[];
  clientNs: string;
  probeError?: string;
}): Promise<Diagnosis | undefined> {
  const { cluster, stoppedAfter: h, missing } = o;
  const mtu = o.icmpErrors.find((x) => x.actions.some((a) => /frag/.test(a)));
  if (mtu) {
    const link = (await ipj(o.clientNs, 'link', 'show', 'eth0'))[0] as { mtu?: number } | undefined;
    const want = planMtu(cluster.spec).pod;
    const said = mtu.actions.find((a) => /frag/.test(a)) ?? '';
    return {
      kind: 'mtu',
      node: mtu.place,
      answer: `${said.replace(/^ICMP /, 'ICMP ')} reached the client: ${o.req.client.name}'s eth0 has MTU ${link?.mtu ?? '?'}, the model sets ${want}${link?.mtu !== undefined && link.mtu > want ? ' (too large: packets that fit it do not fit the path)' : ''}`,
    };
  }
  if (h?.drop) {
    const d = h.drop;
    const p = h.policy?.verdict === 'dropped' ? h.policy : undefined;
    // The hook: the base chain's, read from the kernel (a jumped-to chain has none of its own).
    const base = ('base' in d && d.base) || d.chain;
    const hook = await hookOf(h.ns, d.family, d.table, base);
    const where = `${hook ? `hook ${hook}, ` : ''}${d.family} table ${d.table}, chain ${d.chain}${base !== d.chain ? ` (from ${base})` : ''}${'handle' in d && d.handle !== undefined ? `, rule handle ${d.handle}` : ''}`;
    if (p?.policies.length)
      return {
        kind: 'drop',
        node: h.place,
        policy: p,
        answer: `dropped at ${h.place} by ${p.policies.length > 1 ? 'policies' : 'policy'} ${p.policies.join(', ')}${p.pod ? ` (${p.direction} of ${p.pod}: isolated, ${noneOf(p.policies)})` : ''}, ${where}`,
      };
    return {
      kind: 'drop',
      node: h.place,
      answer: `dropped at ${h.place}, ${where}: ${d.rule}`,
    };
  }
  if (!missing) return undefined;
  const dst = h?.dst?.ip ?? o.req.target.ip;
  if (!h) {
    // Nothing seen at all: the client could not send (its own routing refused it).
    const routes = await readRoutes(o.clientNs);
    const r = routeFor(routes.map(toState), dst);
    return {
      kind: r ? 'lost' : 'no-route',
      node: o.req.client.name,
      answer: r
        ? `${o.req.client.name} never sent it${o.probeError ? ` (${o.probeError})` : ''}`
        : `no route in ${o.req.client.kind} ${o.req.client.name} for ${dst}${o.probeError ? ` (${o.probeError})` : ''}`,
    };
  }
  const routes = await readRoutes(h.ns);
  const r = routes.length ? routeForRaw(routes, dst) : undefined;
  // Routed, but not by the route the model gives this destination (the model's one is missing).
  const want = prefixFor(cluster, dst);
  const home = cluster.nodes.find((n) => n.podCIDR.toString() === want);
  if (h.route && home && home.name !== h.place && !h.route.startsWith(want) && h.layer === 'inner')
    return {
      kind: 'no-route',
      node: h.place,
      answer: `no route on ${h.place} for ${want} (${home.name}'s pods): it took ${h.route}, and ${home.name} never saw it`,
    };
  const routed = h.actions.some(
    (a) => a.startsWith('routed by') || a.startsWith('encapsulated') || a.startsWith('sent by'),
  );
  if (!routed && h.layer === 'inner' && !h.delivered) {
    if (!r)
      return {
        kind: 'no-route',
        node: h.place,
        answer: `no route on ${h.place} for ${prefixFor(cluster, dst)} (the packet to ${dst} entered by ${h.in ?? '?'} and went nowhere)`,
      };
    if (r.type && r.type !== 'unicast')
      return {
        kind: 'route-type',
        node: h.place,
        answer: `route on ${h.place} for ${r.dst} is of type ${r.type}: ${r.type} ${routeText(toState(r))}`,
      };
  }
  if (h.out?.startsWith('vxlan') && missing.layer === 'outer' && missing.ns === h.ns) {
    const via = r?.gateway;
    const neigh = via
      ? ((await ipj(h.ns, 'neigh', 'show', via, 'dev', h.out))[0] as { lladdr?: string } | undefined)
      : undefined;
    const peer = cluster.nodes.find((n) => n.podCIDR.toString() === prefixFor(cluster, dst));
    if (!neigh?.lladdr)
      return {
        kind: 'no-neighbour',
        node: h.place,
        answer: `no neighbour entry on ${h.place} for ${via ?? dst} on ${h.out}: the VTEP MAC of ${peer?.name ?? 'the peer'} is unknown`,
      };
    const fdb = (await exec(bridgeArgv(h.ns, '-j', 'fdb', 'show', 'dev', h.out))).stdout;
    const entries = (fdb.trim() ? JSON.parse(fdb) : []) as { mac: string; dst?: string }[];
    if (!entries.some((e) => e.mac === neigh.lladdr && e.dst)) {
      const who = cluster.nodes.find((n) => vtepMac(n.name) === neigh.lladdr);
      return {
        kind: 'no-fdb',
        node: h.place,
        answer: `vxlan FDB on ${h.place} has no entry for ${who ? `${who.name}'s` : 'the'} VTEP (MAC ${neigh.lladdr}): ${h.out} cannot tell which node to send it to`,
      };
    }
  }
  // Left by a pod's eth0 and lost on the way: a pod MTU other than the model's drops large packets at the peer.
  if (h.ns.startsWith(o.names.podNs('')) && h.out === 'eth0') {
    const link = (await ipj(h.ns, 'link', 'show', 'eth0'))[0] as
      | { mtu?: number; link_index?: number }
      | undefined;
    const want = planMtu(cluster.spec).pod;
    if (link?.mtu !== undefined && link.mtu !== want) {
      const node = missing.place;
      const peers = (await ipj(missing.ns, 'link', 'show')) as {
        ifindex: number;
        ifname: string;
        mtu: number;
      }[];
      const peer = peers.find((x) => x.ifindex === link.link_index);
      return {
        kind: 'mtu',
        node: h.place,
        answer: `${h.place}'s eth0 has MTU ${link.mtu}, the model sets ${want}${peer ? `; its peer ${peer.ifname} on ${node} has ${peer.mtu}` : ''}: the ${h.length ?? '?'}-byte packet fits the pod's MTU but not the path, and ${node} never saw it`,
      };
    }
  }
  return {
    kind: 'lost',
    node: h.place,
    answer: `left ${h.place}${h.out ? ` by ${h.out}` : ''} and never reached ${missing.place}${r ? ` (route ${routeText(toState(r))})` : ''}`,
  };
}

function routeForRaw(routes: RawRoute[], ip: string): RawRoute | undefined {
  const st = routes.map(toState);
  const best = routeFor(st, ip);
  return best ? routes[st.indexOf(best)] : undefined;
}

const toState = (r: RawRoute) => ({
  dst: r.dst,
  ...(r.gateway ? { gateway: r.gateway } : {}),
  ...(r.dev ? { dev: r.dev } : {}),
  flags: r.flags ?? [],
});
