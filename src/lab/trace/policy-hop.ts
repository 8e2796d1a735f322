import { Ip } from '../../net/ip.js';
import { allowed, type Decision, type Endpoint, type PolicyWorld } from '../../plan/policy/evaluate.js';
import { chainName } from '../../plan/policy/model.js';
import { POLICY_TABLE } from '../../render/policy-nft.js';
import type { ExpectedPath } from './expect.js';
import type { MatchedRule, Visit } from './visits.js';

/**
 * Which NetworkPolicy a traced packet met (pure). The `inet podnet-policy` table names its policies in the
 * rules themselves: a pod's deny rule increments one counter per isolating policy (`deny-<dir>-<ns>/<name>`)
 * and its comment names the pod. The allow rules look up sets that merge every policy of the pod, so the
 * kernel cannot tell which policy allowed a packet: that name comes from the evaluator, and says so.
 */

export interface HopPolicy {
  readonly verdict: 'dropped' | 'allowed';
  /** The side that decided: the source pod's egress or the destination pod's ingress. */
  readonly direction?: 'ingress' | 'egress';
  /** `namespace/name` of the pod whose chain decided. */
  readonly pod?: string;
  /** dropped: every policy isolating the pod (none allowed it); allowed: the policies whose rules allow it. */
  readonly policies: string[];
  /** Where `policies` comes from: the deny rule's counters (observed) or the evaluator (the sets merge). */
  readonly namedBy: 'rule' | 'evaluator' | 'none';
  /** allowed: the evaluator's rules, `ns/name ingress[i]`. */
  readonly rules?: string[];
  /** The nftables rule the packet matched. */
  readonly table: string;
  readonly chain: string;
  readonly handle?: number;
  readonly rule: string;
}

/** The evaluator's decision for the probe's connection (after DNAT), when the lab has policies. */
export interface PolicyContext {
  readonly world: PolicyWorld;
  readonly decision?: Decision;
}

const COUNTER = /counter name "?deny-(ingress|egress)-([^"\s]+)"?/g;
const COMMENT = /comment "([^"]*)"/;

const isPolicyRule = (r: MatchedRule) => r.family === POLICY_TABLE.family && r.table === POLICY_TABLE.name;

/** The pod a chain `ingress-<id>` / `egress-<id>` belongs to, from the world. */
function podOfChain(ctx: PolicyContext | undefined, dir: 'ingress' | 'egress', chain: string) {
  const p = ctx?.world.pods.find((x) => chainName(dir, x) === chain);
  return p ? `${p.namespace}/${p.name}` : undefined;
}

/** What the policy table did to the packet in one visit, if it decided anything. */
export function policyOf(v: Visit, ctx?: PolicyContext): HopPolicy | undefined {
  const rules = v.rules.filter(isPolicyRule);
  const base = (r: MatchedRule) => ({
    table: `${r.family} ${r.table}`,
    chain: r.chain,
    ...(r.handle !== undefined ? { handle: r.handle } : {}),
    rule: r.rule,
  });
  const drop = rules.find((r) => /^(drop|reject)/.test(r.verdict));
  if (drop) {
    const counted = [...drop.rule.matchAll(COUNTER)];
    const dir = (counted[0]?.[1] ?? /^(ingress|egress)-/.exec(drop.chain)?.[1]) as
      | 'ingress'
      | 'egress'
      | undefined;
    const pod = /^(?:ingress|egress) of (\S+):/.exec(COMMENT.exec(drop.rule)?.[1] ?? '')?.[1];
    return {
      verdict: 'dropped',
      ...(dir ? { direction: dir } : {}),
      ...((pod ?? (dir && podOfChain(ctx, dir, drop.chain)))
        ? { pod: pod ?? podOfChain(ctx, dir!, drop.chain)! }
        : {}),
      policies: counted.map((m) => m[2]!),
      namedBy: counted.length ? 'rule' : 'none',
      ...base(drop),
    };
  }
  // Allowed: a pod's chain returned by one of its allow rules (the last such decision of the visit).
  const ret = [...rules].reverse().find((r) => r.verdict === 'return' && /^(ingress|egress)-/.test(r.chain));
  if (!ret) return undefined;
  const dir = ret.chain.startsWith('ingress-') ? 'ingress' : 'egress';
  const side = ctx?.decision?.[dir];
  const refs = side?.allowed ? side.allowedBy : [];
  const pod = podOfChain(ctx, dir, ret.chain);
  return {
    verdict: 'allowed',
    direction: dir,
    ...(pod ? { pod } : {}),
    policies: [...new Set(refs.map((r) => r.policy))],
    namedBy: refs.length ? 'evaluator' : 'none',
    ...(refs.length ? { rules: refs.map((r) => `${r.policy} ${r.direction}[${r.rule}]`) } : {}),
    ...base(ret),
  };
}

/** "none of its rules allows it" / "none of their rules allows it". */
export const noneOf = (policies: readonly string[]): string =>
  `none of ${policies.length > 1 ? 'their' : 'its'} rules allows it`;

/** The hop's action line for a policy decision. */
export function policyAction(p: HopPolicy): string {
  const at = `rule ${p.table} chain ${p.chain}${p.handle !== undefined ? ` handle ${p.handle}` : ''}`;
  const side = p.direction && p.pod ? `${p.direction} of ${p.pod}` : undefined;
  const plural = p.policies.length > 1 ? 'policies' : 'policy';
  if (p.verdict === 'dropped') {
    if (!p.policies.length) return `DROPPED by ${at}: ${p.rule}`;
    return `DROPPED by ${plural} ${p.policies.join(', ')} (${side ? `${side}: isolated, ${noneOf(p.policies)}; ` : ''}${at})`;
  }
  const note = COMMENT.exec(p.rule)?.[1] ?? p.rule;
  if (!p.policies.length) return `allowed by ${at} (${note})${side ? ` for the ${side}` : ''}`;
  return `allowed by ${plural} ${p.policies.join(', ')} (${side ? `${side}: ` : ''}${at}, ${note}; the set merges the pod's policies, the evaluator names ${p.rules?.join(', ')})`;
}

/** The evaluator's view of the probe: client → the endpoint it reached (after DNAT), on its port. */
export function policyContext(
  world: PolicyWorld,
  client: string,
  endpoint: { ip: string; port: number } | undefined,
  proto: 'tcp' | 'udp' | 'icmp',
): PolicyContext | undefined {
  if (!world.policies.length) return undefined;
  const end = (ip: string): Endpoint | undefined => {
    const a = Ip.tryParse(ip);
    if (!a) return undefined;
    const pod = world.pods.find((p) => p.ip.equals(a));
    return pod ? { pod } : { ip: a };
  };
  const src = end(client);
  const dst = endpoint ? end(endpoint.ip) : undefined;
  // ICMP has no port: policies with ports never allow it, the evaluator's TCP view would mislead.
  if (!src || !dst || !endpoint || proto === 'icmp') return { world };
  return { world, decision: allowed(world, src, dst, endpoint.port, proto === 'tcp' ? 'TCP' : 'UDP') };
}

/** Where the kernel's policy verdict differs from the evaluator's (each one a finding). */
export function policyFindings(
  ctx: PolicyContext | undefined,
  hops: readonly { place: string; policy?: HopPolicy }[],
  delivered: boolean,
): string[] {
  const d = ctx?.decision;
  if (!d) return [];
  const dropped = hops.find((h) => h.policy?.verdict === 'dropped');
  if (dropped && d.allowed)
    return [`${dropped.place}: a policy rule dropped it, but the evaluator allows it (${d.reason})`];
  if (!d.allowed && delivered) return [`delivered, but the evaluator denies it (${d.reason})`];
  return [];
}

/**
 * The expected path when the evaluator denies the connection: it ends at the node whose policy chain drops it
 * (the client's node for an egress denial, the endpoint's for an ingress one), and there is no reply.
 */
export function policyExpected(
  path: ExpectedPath,
  ctx: PolicyContext | undefined,
  nodeNs: (node: string) => string,
  clientNode: string | undefined,
  endpointNode: string | undefined,
): ExpectedPath {
  const d = ctx?.decision;
  if (!d || d.allowed) return path;
  const side = d.egress && !d.egress.allowed ? d.egress : d.ingress;
  const node = side === d.egress ? clientNode : endpointNode;
  if (!side || !node) return path;
  const ns = nodeNs(node);
  const i =
    side === d.egress
      ? path.request.findIndex((s) => s.ns === ns && s.layer === 'inner')
      : path.request.map((s) => s.ns === ns && s.layer === 'inner').lastIndexOf(true);
  if (i < 0) return path;
  const st = path.request[i]!;
  const why = `dropped by ${side.isolatedBy.length > 1 ? 'policies' : 'policy'} ${side.isolatedBy.join(', ')} (${side === d.egress ? 'egress' : 'ingress'} of ${side.pod}: no rule allows it)`;
  return { ...path, request: [...path.request.slice(0, i), { ...st, expect: why }], reply: [] };
}
