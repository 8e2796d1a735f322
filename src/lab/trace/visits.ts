import { parseTraceLine, type TracedPacket, type TraceEvent } from '../../observe/nft-trace.js';

/**
 * From `nft monitor trace` lines to visits (pure): one visit is one packet's passage through one namespace —
 * every hook it was seen at, in order, and the rules of other tables it matched there (NAT, filters). The
 * trace id is not enough to join a namespace's events (the kernel gives a bridged packet a new one when it
 * enters the IP layer), so a visit is keyed by what the packet itself carries: direction, layer (inner, or
 * the outer VXLAN packet) and the IP identification field.
 */

export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

/** The packet as one hook saw it. */
export interface SeenAt {
  readonly family: string;
  readonly hook: Hook;
  readonly packet: TracedPacket;
}

/** A rule of another table the packet matched (our own marking rules are left out). */
export interface MatchedRule {
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  readonly rule: string;
  readonly verdict: string;
  readonly handle?: number;
}

export interface Visit {
  readonly ns: string;
  readonly direction: 'request' | 'reply';
  readonly layer: 'inner' | 'outer';
  readonly seen: SeenAt[];
  readonly rules: MatchedRule[];
  /** A chain's policy that ended the packet (`drop`), when no rule did. */
  policyDrop?: { family: string; table: string; chain: string };
}

/** Our trace chains and the hooks they sit at (render/trace.ts). */
const OUR_CHAINS: Readonly<Record<string, Hook>> = {
  'trace-pre': 'prerouting',
  'trace-out': 'output',
  'seen-in': 'input',
  'seen-fwd': 'forward',
  'seen-post': 'postrouting',
};

/** Splits one namespace's monitor lines into visits, in the order they began. */
export function visitsOf(
  ns: string,
  lines: readonly string[],
  ourTable: string,
  vxlanPort?: number,
): Visit[] {
  const visits: Visit[] = [];
  const byKey = new Map<string, Visit>();
  // The visit a trace id's rule lines belong to: the one of its latest packet line.
  const current = new Map<string, { visit: Visit | undefined; ours: boolean }>();
  for (const line of lines) {
    const e = parseTraceLine(line);
    if (!e) continue;
    const ours = e.table === ourTable;
    if (e.kind === 'packet') {
      const p = e.packet!;
      const hook = ours ? OUR_CHAINS[e.chain] : undefined;
      const layer = isOuter(p, vxlanPort) ? 'outer' : 'inner';
      const key = `${layer}/${p.proto}/${p.ipId}/${p.length}`;
      let v = byKey.get(key);
      // The same packet entering again after it left (NodePort back to the client's node): a new visit.
      const left = v?.seen.some((s) => s.hook === 'postrouting' || s.hook === 'input');
      if ((!v || left) && hook && (hook === 'prerouting' || hook === 'output')) {
        v = { ns, direction: 'request', layer, seen: [], rules: [] };
        visits.push(v);
        byKey.set(key, v);
        current.set(e.id, { visit: v, ours: true });
        v.seen.push({ family: e.family, hook, packet: p });
        (v as { direction: string }).direction = '?';
        continue;
      }
      current.set(e.id, { visit: v, ours });
      if (v && hook) v.seen.push({ family: e.family, hook, packet: p });
      continue;
    }
    const cur = current.get(e.id);
    const v = cur?.visit;
    if (!v) continue;
    if (e.kind === 'rule' && ours) {
      const dir = /comment "(request|reply)"/.exec(e.rule ?? '')?.[1];
      if (dir && (v.direction as string) === '?') (v as { direction: string }).direction = dir;
      continue;
    }
    if (e.kind === 'rule' && !ours) v.rules.push(ruleOf(e));
    if (e.kind === 'policy' && /drop/.test(e.verdict ?? '') && !ours)
      v.policyDrop = { family: e.family, table: e.table, chain: e.chain };
  }
  return visits.filter((v) => (v.direction as string) !== '?');
}

function ruleOf(e: TraceEvent): MatchedRule {
  return {
    family: e.family,
    table: e.table,
    chain: e.chain,
    rule: e.rule ?? '',
    verdict: e.verdict ?? 'continue',
    ...(e.handle !== undefined ? { handle: e.handle } : {}),
  };
}

/** A VXLAN packet on the underlay: UDP to the VXLAN port, with a VXLAN header (flags 0x08) nft decoded. */
export function isOuter(p: TracedPacket, vxlanPort?: number): boolean {
  return vxlanPort !== undefined && p.proto === 'udp' && p.dport === vxlanPort && p.vni !== undefined;
}

/** The rule that dropped or rejected the packet, if one did, with the base chain it entered its table by. */
export function dropOf(v: Visit): (MatchedRule & { readonly base: string }) | undefined {
  const d = v.rules.find((r) => /^(drop|reject|stolen)/.test(r.verdict) || / reject( |$)/.test(r.rule));
  if (!d) return undefined;
  // Up the jumps (and gotos) the packet took in this table: the chain no rule jumped to is the base chain.
  let base = d.chain;
  for (let i = 0; i < 16; i++) {
    const from = v.rules.find(
      (r) =>
        r.table === d.table && r.family === d.family && /^(jump|goto) (\S+)/.exec(r.verdict)?.[2] === base,
    );
    if (!from || from.chain === base) break;
    base = from.chain;
  }
  return { ...d, base };
}

/** The first and last look at the packet in this namespace, and its interfaces in and out. */
export function endsOf(v: Visit): {
  first: TracedPacket;
  last: TracedPacket;
  iif?: string;
  oif?: string;
  port?: { in?: string; out?: string };
} {
  const inet = v.seen.filter((s) => s.family !== 'bridge');
  const br = v.seen.filter((s) => s.family === 'bridge');
  const first = (inet[0] ?? v.seen[0])!.packet;
  const last = (inet[inet.length - 1] ?? v.seen[v.seen.length - 1])!.packet;
  const iif = v.seen.find((s) => s.packet.iif)?.packet.iif;
  const oif = [...v.seen].reverse().find((s) => s.packet.oif)?.packet.oif;
  const bin = br.find((s) => s.packet.iif)?.packet.iif;
  const bout = [...br].reverse().find((s) => s.packet.oif)?.packet.oif;
  const inetIn = inet.find((s) => s.packet.iif)?.packet.iif;
  const inetOut = [...inet].reverse().find((s) => s.packet.oif)?.packet.oif;
  return {
    first,
    last,
    ...((inetIn ?? iif) ? { iif: inetIn ?? iif } : {}),
    ...((inetOut ?? oif) ? { oif: inetOut ?? oif } : {}),
    ...(bin || bout ? { port: { ...(bin ? { in: bin } : {}), ...(bout ? { out: bout } : {}) } } : {}),
  };
}

/** The IP-layer hooks the packet passed (the bridge family's hooks say only that it was bridged). */
export const hooksOf = (v: Visit): Set<Hook> =>
  new Set(v.seen.filter((s) => s.family !== 'bridge').map((s) => s.hook));
