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
}

/**
 * The tracked connections a policy change denies (pure): each flow whose client and server are judged again
 * by the evaluator on the new world. Deleting their conntrack entries cuts them: the next packet is a new
 * connection to the forward chain (TCP is picked up mid-stream), and the policy drops it.
 */
export function planPolicyCuts(world: PolicyWorld, netns: Netns, flows: readonly TrackedFlow[]): Op[] {
  const byIp = new Map(world.pods.map((p) => [p.ip.value, p]));
  const endpoint = (text: string): Endpoint | undefined => {
    const ip = Ip.tryParse(text);
    if (!ip) return undefined;
    const pod = byIp.get(ip.value);
    return pod ? { pod } : { ip };
  };
  const ops: Op[] = [];
  const seen = new Set<string>();
  for (const f of flows) {
    const src = endpoint(f.src);
    const dst = endpoint(f.replySrc);
    if (!src || !dst || (!('pod' in src) && !('pod' in dst))) continue;
    const d = allowed(world, src, dst, f.replyPort, f.protocol.toUpperCase() as Protocol);
    const key = `${f.protocol} ${f.src} ${f.replySrc}:${f.replyPort}`;
    if (d.allowed || seen.has(key)) continue;
    seen.add(key);
    ops.push({
      kind: 'conntrack.delete-flow',
      netns,
      protocol: f.protocol,
      src: f.src,
      replySrc: f.replySrc,
      replyPort: f.replyPort,
      note: `cut ${key}: ${d.reason}`,
    });
  }
  return ops;
}
