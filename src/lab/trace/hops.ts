import type { RouteState } from '../../observe/ip-json.js';
import type { TracedPacket } from '../../observe/nft-trace.js';
import type { LabNames } from '../names.js';
import type { ExpectedPath, Station } from './expect.js';
import { type HopPolicy, type PolicyContext, policyAction, policyOf } from './policy-hop.js';
import type { TraceEndpoint, TraceRequest } from './target.js';
import { dropOf, endsOf, hooksOf, type MatchedRule, type Visit } from './visits.js';

/**
 * Numbered hops from the joined visits (pure): each visit becomes one hop — where (namespace, interfaces in
 * and out) and what happened (bridged, DNAT and why, routed by which route, masqueraded, encapsulated,
 * decapsulated, dropped by which rule, delivered) — placed along the expected path; a station the packet
 * never reached and a visit off the path are both findings.
 */

export interface Addr {
  readonly ip: string;
  readonly port?: number;
}

export interface Hop {
  readonly n: number;
  readonly place: string;
  readonly ns: string;
  readonly layer: 'inner' | 'outer';
  readonly seen: boolean;
  readonly in?: string;
  readonly out?: string;
  readonly actions: string[];
  /** What the model expected here ('' when the hop is off the expected path). */
  readonly expected: string;
  readonly onPath: boolean;
  readonly src?: Addr;
  readonly dst?: Addr;
  /** IP length of the packet as it left. */
  readonly length?: number;
  readonly dnat?: {
    readonly from: Addr;
    readonly to: Addr;
    readonly endpoint?: string;
    readonly rule?: string;
  };
  readonly snat?: { readonly from: Addr; readonly to: Addr };
  readonly route?: string;
  readonly vxlan?: {
    readonly vni: number;
    readonly src: string;
    readonly dst: string;
    readonly sport?: number;
    readonly dport?: number;
  };
  /** What ended the packet here; `base`: the base chain it entered the table by (its hook is the answer's). */
  readonly drop?:
    | (MatchedRule & { readonly base?: string })
    | { family: string; table: string; chain: string; rule: string };
  readonly delivered?: string;
  /** A NetworkPolicy decision here: the policy named, and the podnet-policy rule matched. */
  readonly policy?: HopPolicy;
}

export interface HopsInput {
  readonly names: LabNames;
  readonly req: TraceRequest;
  readonly visits: readonly Visit[];
  readonly expected: ExpectedPath;
  readonly routes: ReadonlyMap<string, readonly RouteState[]>;
  /** The listening socket a request was delivered to, by namespace. */
  readonly sockets: ReadonlyMap<string, string>;
  /** The client's namespace: where the reply reaches the probe's own socket. */
  readonly clientNs: string;
  readonly vxlanDevice?: string;
  /** The lab's policies and the evaluator's decision for the probe (names the allowing policy). */
  readonly policy?: PolicyContext;
}

export interface Hops {
  readonly request: Hop[];
  readonly reply: Hop[];
  /** The last visit of the request on the expected path, and the station it never reached. */
  readonly stoppedAfter?: Hop;
  readonly missing?: Station;
}

const addr = (ip?: string, port?: number): Addr => ({
  ip: ip ?? '?',
  ...(port !== undefined ? { port } : {}),
});
const fmt = (a: Addr) => (a.port !== undefined ? `${a.ip}:${a.port}` : a.ip);
const portOf = (p: TracedPacket, end: 's' | 'd') =>
  p.proto === 'icmp' ? (end === 's' ? p.icmpId : undefined) : end === 's' ? p.sport : p.dport;

/** Longest-prefix match over a namespace's main routing table (what the kernel's lookup picks here). */
export function routeFor(routes: readonly RouteState[], ip: string): RouteState | undefined {
  const n = toNum(ip);
  let best: RouteState | undefined;
  let bestLen = -1;
  for (const r of routes) {
    const [net, len] =
      r.dst === 'default' ? ['0.0.0.0', 0] : [r.dst.split('/')[0]!, Number(r.dst.split('/')[1] ?? 32)];
    const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
    if ((n & mask) >>> 0 === (toNum(net) & mask) >>> 0 && len > bestLen) {
      best = r;
      bestLen = len;
    }
  }
  return best;
}

export const routeText = (r: RouteState): string =>
  [r.dst, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : '', ...r.flags]
    .filter(Boolean)
    .join(' ');

const toNum = (ip: string) => ip.split('.').reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0);

/** Who a namespace is, for people. */
export function placeOf(names: LabNames, ns: string): string {
  if (ns === names.switchNs) return 'switch';
  if (ns === names.nodeNs('router')) return 'router';
  if (ns === names.podNs('outside')) return 'outside';
  const pre = names.podNs('');
  if (ns.startsWith(pre)) return `pod ${ns.slice(pre.length)}`;
  return ns.slice(names.prefix.length);
}

function describe(v: Visit, input: HopsInput): Omit<Hop, 'n' | 'expected' | 'onPath' | 'place'> {
  const { first, last, iif, oif, port } = endsOf(v);
  const hooks = hooksOf(v);
  const bridged = v.seen.some((s) => s.family === 'bridge');
  const actions: string[] = [];
  const out: Record<string, unknown> = {};
  const isPod = v.ns.startsWith(input.names.podNs(''));
  const inIf = port?.in ?? iif;
  const outIf = port?.out ?? oif;
  const natRule = v.rules.find((r) => /\bdnat\b/.test(r.rule) || /DNAT/.test(r.rule));
  if (v.layer === 'outer') {
    const vx = {
      vni: first.vni ?? -1,
      src: first.saddr ?? '?',
      dst: first.daddr ?? '?',
      sport: first.sport,
      dport: first.dport,
    };
    out.vxlan = vx;
    const line = `VNI ${vx.vni}, outer ${first.saddr}:${first.sport} → ${first.daddr}:${first.dport}`;
    if (hooks.has('output'))
      actions.push(`encapsulated by ${iif ?? input.vxlanDevice ?? 'the tunnel'}: ${line}`);
    else if (hooks.has('input'))
      actions.push(`decapsulated by ${input.vxlanDevice ?? 'the tunnel'}: ${line}`);
    else if (bridged) actions.push(`bridged ${port?.in ?? '?'} → ${port?.out ?? '?'}: ${line}`);
    else actions.push(`outer packet: ${line}`);
  } else {
    if (hooks.has('output') && !hooks.has('prerouting')) actions.push(`sent by ${oif ?? '?'}`);
    if (v.direction === 'reply' && (first.daddr !== last.daddr || first.dport !== last.dport)) {
      actions.push(
        `destination restored ${fmt(addr(first.daddr, portOf(first, 'd')))} → ${fmt(addr(last.daddr, portOf(last, 'd')))} (conntrack undoes the request's masquerade)`,
      );
    } else if (first.daddr !== last.daddr || first.dport !== last.dport) {
      const to = addr(last.daddr, portOf(last, 'd'));
      const ep = input.req.target.endpoints.find((e) => e.ip === to.ip);
      const svc = input.req.target.service;
      const why = [
        svc ? `service ${svc.id}` : '',
        ep ? `endpoint ${ep.pod}${ep.node ? ` on ${ep.node}` : ''}` : '',
        natRule
          ? `rule ${natRule.family} ${natRule.table} ${natRule.chain} handle ${natRule.handle}: ${natRule.rule}`
          : '',
      ].filter(Boolean);
      const chains = [
        ...new Set(
          v.rules
            .filter((r) => r.verdict.startsWith('goto') || r.verdict.startsWith('jump'))
            .map((r) => r.verdict.split(' ')[1]),
        ),
      ];
      out.dnat = {
        from: addr(first.daddr, portOf(first, 'd')),
        to,
        ...(ep ? { endpoint: ep.pod } : {}),
        ...(natRule ? { rule: `${natRule.table} ${natRule.chain} handle ${natRule.handle}` } : {}),
      };
      actions.push(
        `DNAT ${first.daddr}:${first.dport} → ${fmt(to)} (${why.join('; ')}${chains.length ? `; via ${chains.join(' → ')}` : ''})`,
      );
    }
    if (bridged && !hooks.has('forward') && !hooks.has('input'))
      actions.push(`bridged ${port?.in ?? '?'} → ${port?.out ?? '?'}`);
    else if (bridged && port?.in) actions.push(`bridged in by ${iif ?? '?'} from ${port.in}`);
    if (hooks.has('forward') && last.daddr) {
      const r = routeFor(input.routes.get(v.ns) ?? [], last.daddr);
      if (r) out.route = routeText(r);
      actions.push(
        `routed by ${r ? routeText(r) : '(no route found)'} → out ${oif ?? '?'}${port?.out ? ` (bridge port ${port.out})` : ''}`,
      );
    }
    if (first.saddr !== last.saddr || (first.proto !== 'icmp' && first.sport !== last.sport)) {
      const masq = v.rules.find((r) => /masquerade|snat|MASQUERADE/.test(r.rule));
      out.snat = { from: addr(first.saddr, portOf(first, 's')), to: addr(last.saddr, portOf(last, 's')) };
      const change = `${fmt(addr(first.saddr, portOf(first, 's')))} → ${fmt(addr(last.saddr, portOf(last, 's')))}`;
      actions.push(
        v.direction === 'reply' && !masq
          ? `source restored ${change} (conntrack undoes the request's DNAT)`
          : `masqueraded ${change}${masq ? ` (rule ${masq.table} ${masq.chain} handle ${masq.handle}: ${masq.rule})` : ''}`,
      );
    }
    if (first.proto === 'icmp' && first.icmpType && !/^echo/.test(first.icmpType))
      actions.push(
        `ICMP ${first.icmpType}${first.icmpCode ? ` (${first.icmpCode})` : ''}${first.mtu ? ` mtu ${first.mtu}` : ''} from ${first.saddr}`,
      );
    if (hooks.has('input')) {
      const sock =
        v.direction === 'reply' && v.ns === input.clientNs ? "the probe's socket" : input.sockets.get(v.ns);
      out.delivered = sock ?? 'a local socket';
      actions.push(`delivered to ${sock ?? (isPod ? 'a local socket' : 'the node itself')}`);
    }
  }
  const drop = dropOf(v);
  // A NetworkPolicy's verdict names the policy (and says the rule); any other drop names the rule.
  const pol = policyOf(v, input.policy);
  if (pol) {
    out.policy = pol;
    actions.push(policyAction(pol));
  }
  if (drop) {
    out.drop = drop;
    if (pol?.verdict !== 'dropped')
      actions.push(
        `DROPPED by ${drop.family} ${drop.table} chain ${drop.chain} handle ${drop.handle}: ${drop.rule}`,
      );
  } else if (v.policyDrop) {
    out.drop = { ...v.policyDrop, rule: 'policy drop' };
    actions.push(
      `DROPPED by the policy of ${v.policyDrop.family} ${v.policyDrop.table} chain ${v.policyDrop.chain}`,
    );
  }
  return {
    ns: v.ns,
    layer: v.layer,
    seen: true,
    ...(inIf ? { in: inIf } : {}),
    ...(outIf ? { out: outIf } : {}),
    actions,
    src: addr(last.saddr, portOf(last, 's')),
    dst: addr(last.daddr, portOf(last, 'd')),
    ...(last.length !== undefined ? { length: last.length } : {}),
    ...out,
  } as Omit<Hop, 'n' | 'expected' | 'onPath' | 'place'>;
}

/** Places the visits of one direction along its expected stations. */
function direction(
  dir: 'request' | 'reply',
  stations: readonly Station[],
  input: HopsInput,
): { hops: Hop[]; stoppedAfter?: Hop; missing?: Station } {
  const pool = input.visits.filter((v) => v.direction === dir);
  const used = new Set<Visit>();
  const hops: Hop[] = [];
  let stoppedAfter: Hop | undefined;
  let missing: Station | undefined;
  for (const st of stations) {
    const v = pool.find((x) => !used.has(x) && x.ns === st.ns && x.layer === st.layer);
    if (!v) {
      hops.push({
        n: 0,
        place: st.place,
        ns: st.ns,
        layer: st.layer,
        seen: false,
        actions: ['not seen'],
        expected: st.expect,
        onPath: true,
      });
      if (!missing) {
        missing = st;
        stoppedAfter = [...hops].reverse().find((h) => h.seen);
      }
      continue;
    }
    used.add(v);
    hops.push({ n: 0, place: st.place, expected: st.expect, onPath: true, ...describe(v, input) });
  }
  // Visits off the expected path: listed after the path, each one a finding.
  for (const v of pool)
    if (!used.has(v))
      hops.push({
        n: 0,
        place: placeOf(input.names, v.ns),
        expected: '',
        onPath: false,
        ...describe(v, input),
      });
  return { hops, ...(stoppedAfter ? { stoppedAfter } : {}), ...(missing ? { missing } : {}) };
}

export function buildHops(input: HopsInput): Hops {
  const req = direction('request', input.expected.request, input);
  const delivered = req.hops.some((h) => h.delivered && h.onPath);
  // Without a delivery there is no reply to expect; ICMP errors and resets sent back are still shown.
  const rep = direction('reply', delivered ? input.expected.reply : [], input);
  // A path the model expects to end in a drop (a policy's) has no missing station: the drop is where it stopped.
  const stoppedAfter = req.stoppedAfter ?? req.hops.find((h) => h.seen && h.onPath && h.drop);
  let n = 0;
  const number = (hs: Hop[]) => hs.map((h) => (h.seen ? { ...h, n: ++n } : h));
  return {
    request: number(req.hops),
    reply: number(rep.hops),
    ...(req.missing ? { missing: req.missing } : {}),
    ...(stoppedAfter ? { stoppedAfter } : {}),
  };
}

/** The endpoint the trace saw the probe reach (a DNAT target, or the pod it was delivered in). */
export function chosenEndpoint(
  req: TraceRequest,
  visits: readonly Visit[],
  names: LabNames,
): TraceEndpoint | undefined {
  const client = req.client.kind === 'pod' ? req.client.name : undefined;
  for (const e of req.target.endpoints)
    if (e.pod !== client && visits.some((v) => v.direction === 'request' && v.ns === names.podNs(e.pod)))
      return e;
  for (const v of visits) {
    if (v.direction !== 'request' || v.layer !== 'inner') continue;
    const { last } = endsOf(v);
    const e = req.target.endpoints.find((x) => x.ip === last.daddr);
    if (e) return e;
  }
  return undefined;
}
