import type { Protocol } from '../../model/policy/types.js';
import { Ip } from '../../net/ip.js';
import type { Netns, Op } from '../ops.js';
import { allowed, type Endpoint, type PolicyWorld } from './evaluate.js';

/** A connection tracked on a node: the original source, and the reply's source (the server, after DNAT). */
export interface TrackedFlow {
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly src: string;
  readonly replySrc: string;
  readonly replyPort: number;
  /** TCP state (ESTABLISHED, TIME_WAIT, ...); absent for other protocols. */
  readonly state?: string;
}

/** TCP states of connections already over: nothing to cut. */
const OVER = new Set(['TIME_WAIT', 'CLOSE']);

/**
 * The tracked connections a policy change denies (pure): each flow whose client and server are judged again
 * by the evaluator on the new world. Deleting their conntrack entries cuts them: the next packet is a new
 * connection to the forward chain (TCP is picked up mid-stream), and the policy drops it.
 */
export function planPolicyCuts(
  world: PolicyWorld,
  netns: Netns,
  flows: readonly TrackedFlow[],
  /** The world before the change: when given, only flows it allowed are cut (the newly denied ones). */
  before?: PolicyWorld,
  /** Where the deletions are written for `conntrack -R`. */
  file = '/run/podnet/conntrack-cuts',
): Op[] {
  const byIp = new Map(world.pods.map((p) => [p.ip.value, p]));
  const endpoint = (text: string): Endpoint | undefined => {
    const ip = Ip.tryParse(text);
    if (!ip) return undefined;
    const pod = byIp.get(ip.value);
    return pod ? { pod } : { ip };
  };
  type Out = Extract<Op, { kind: 'conntrack.delete-flows' }>['flows'][number];
  // Per server (protocol, address, port): the clients whose flows are cut, and whether any flow there stays.
  const servers = new Map<string, { cut: Map<string, Out>; keeps: boolean }>();
  for (const f of flows) {
    const src = endpoint(f.src);
    const dst = endpoint(f.replySrc);
    if (!src || !dst || (!('pod' in src) && !('pod' in dst)) || OVER.has(f.state ?? '')) continue;
    const server = `${f.protocol} ${f.replySrc}:${f.replyPort}`;
    const entry = servers.get(server) ?? { cut: new Map<string, Out>(), keeps: false };
    servers.set(server, entry);
    const proto = f.protocol.toUpperCase() as Protocol;
    const d = allowed(world, src, dst, f.replyPort, proto);
    if (d.allowed || (before && !allowedIn(before, f, proto))) {
      entry.keeps = true;
      continue;
    }
    entry.cut.set(f.src, {
      protocol: f.protocol,
      src: f.src,
      replySrc: f.replySrc,
      replyPort: f.replyPort,
      why: d.reason,
    });
  }
  // One deletion per server when none of its flows stays (conntrack filters once per line, over the table).
  const out: Out[] = [];
  let connections = 0;
  for (const { cut, keeps } of servers.values()) {
    connections += cut.size;
    if (cut.size === 0) continue;
    if (keeps) out.push(...cut.values());
    else {
      const { src: _, ...rest } = [...cut.values()][0]!;
      out.push({ ...rest, why: `${cut.size} client(s): ${rest.why}` });
    }
  }
  if (out.length === 0) return [];
  return [
    {
      kind: 'conntrack.delete-flows',
      netns,
      file,
      flows: out,
      connections,
      note: `cut ${connections} connection(s) the change denies: ${out
        .slice(0, 3)
        .map((f) => `${f.protocol} ${f.src ?? '*'} -> ${f.replySrc}:${f.replyPort}`)
        .join(', ')}${out.length > 3 ? ', ...' : ''}`,
    },
  ];
}

/** Whether a flow was allowed in another world (the same addresses, judged there). */
function allowedIn(w: PolicyWorld, f: TrackedFlow, proto: Protocol): boolean {
  const byIp = new Map(w.pods.map((p) => [p.ip.value, p]));
  const end = (text: string): Endpoint => {
    const ip = Ip.parse(text);
    const pod = byIp.get(ip.value);
    return pod ? { pod } : { ip };
  };
  return allowed(w, end(f.src), end(f.replySrc), f.replyPort, proto).allowed;
}
