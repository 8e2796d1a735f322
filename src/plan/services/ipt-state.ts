import type { ProxyState } from '../node/model.js';
import type { Netns, Op } from '../ops.js';
import { iptablesJumps, renderIptables } from './iptables.js';
import type { ProxyModel } from './model.js';

/** The iptables proxy's objects compared with what a model leaves, and their repair (the PODNET- chains). */

type IptState = Extract<ProxyState, { kind: 'iptables' }>;

const iptComment = (rule: string) => /--comment (?:"([^"]*)"|(\S+))/.exec(rule)?.slice(1).find(Boolean) ?? '';

/** Rules (by comment) of every chain an iptables-restore script declares or appends to. */
export function iptStateOfScript(script: string): ProxyState {
  const chains: Record<string, string[]> = {};
  // UDP DNAT targets by service id, and ClusterIPs by service id (comments `<id> -> pod`, `<id> cluster IP`).
  const udpTargets: { id: string; endpoint: string }[] = [];
  const clusterIPs = new Map<string, string>();
  let table = '';
  for (const line of script.split('\n')) {
    const c = iptComment(line).replace(/^podnet: /, '');
    const dnat = / -p udp .*-j DNAT --to-destination ([\d.]+):\d+/.exec(line);
    if (dnat && c.includes(' -> ')) udpTargets.push({ id: c.split(' -> ')[0]!, endpoint: dnat[1]! });
    const vip = / -d ([\d.]+)\/32 /.exec(line);
    if (vip && c.endsWith(' cluster IP')) clusterIPs.set(c.slice(0, -' cluster IP'.length), vip[1]!);
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) chains[`${table}/${line.slice(1).split(' ')[0]}`] ??= [];
    else if (line.startsWith('-A ')) {
      const key = `${table}/${line.split(' ')[1]}`;
      const rules = chains[key] ?? [];
      rules.push(iptComment(line));
      chains[key] = rules;
    }
  }
  const udp = udpTargets.flatMap((u) =>
    clusterIPs.has(u.id) ? [{ clusterIP: clusterIPs.get(u.id)!, endpoint: u.endpoint }] : [],
  );
  return { kind: 'iptables', chains, ...(udp.length ? { udp } : {}) };
}

export const same = (a: readonly string[] = [], b: readonly string[] = []) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

export function missingComment(seen: readonly string[], want: readonly string[]): string {
  const gone = want.filter((c) => c && !seen.includes(c));
  return gone.length ? ` (missing: ${gone.map((c) => `'${c}'`).join(', ')})` : '';
}

/** Each chain that differs in one drift line, repaired by one full iptables-restore over what is there. */
export function iptDrift(
  node: string,
  netns: Netns,
  seen: IptState,
  want: ProxyModel,
  exp: IptState,
): { what: string; ops: readonly Op[] }[] {
  const bad = Object.keys(exp.chains).filter((c) => !same(seen.chains[c], exp.chains[c]));
  const extra = Object.keys(seen.chains).filter((c) => !(c in exp.chains));
  if (!bad.length && !extra.length) return [];
  const what = [
    ...bad.map((c) =>
      seen.chains[c]
        ? `iptables chain ${c} has ${seen.chains[c]!.length} podnet rule(s), want ${exp.chains[c]!.length}${missingComment(seen.chains[c]!, exp.chains[c]!)}`
        : `iptables chain ${c} missing`,
    ),
    ...extra.map((c) => `iptables chain ${c} not desired`),
  ].join('; ');
  return [
    { what, ops: [iptRepair(node, netns, seen, want, exp), ...staleUdpIptables(node, netns, seen, want)] },
  ];
}

/** UDP flows to endpoints the observed iptables rules DNAT to but the model no longer has: flushed. */
function staleUdpIptables(node: string, netns: Netns, seen: ProxyState, want: ProxyModel): Op[] {
  if (seen.kind !== 'iptables' || !seen.udp?.length) return [];
  const keep = new Set(
    want.services
      .filter((s) => s.protocol === 'udp')
      .flatMap((s) => s.endpoints.map((e) => `${s.clusterIP} ${e.ip}`)),
  );
  return seen.udp
    .filter((u) => !keep.has(`${u.clusterIP} ${u.endpoint}`))
    .map(
      (u): Op => ({
        kind: 'conntrack.delete',
        netns,
        protocol: 'udp',
        origDst: u.clusterIP,
        replySrc: u.endpoint,
        note: `${node}: forget UDP flows from ${u.clusterIP} to removed endpoint ${u.endpoint}, or clients keep sending into the void`,
      }),
    );
}

const BUILTIN = new Set(['PREROUTING', 'OUTPUT', 'POSTROUTING', 'INPUT', 'FORWARD']);

/** A full iptables sync over what is there: chains redeclared (flushed), jumps added only where missing. */
function iptRepair(node: string, netns: Netns, seen: ProxyState, want: ProxyModel, exp: ProxyState): Op {
  const full = renderIptables(want).split('\n');
  const out: string[] = [];
  let table = '';
  for (const line of full) {
    if (line.startsWith('*')) table = line.slice(1);
    if (line === 'COMMIT') {
      // Chains not desired: all flushed first, then deleted (one may still jump to another until flushed).
      const gone = Object.keys(seen.chains)
        .filter((c) => c.startsWith(`${table}/`) && !(c in exp.chains))
        .map((c) => c.slice(table.length + 1));
      out.push(...gone.map((n) => `:${n} - [0:0]`), ...gone.map((n) => `-X ${n}`));
    }
    if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1]!;
      if (BUILTIN.has(chain) && (seen.chains[`${table}/${chain}`] ?? []).includes(iptComment(line))) continue;
    }
    out.push(line);
  }
  return {
    kind: 'iptables.restore',
    netns,
    script: out.join('\n'),
    note: `${node}: service proxy (kube-proxy's iptables layout, PODNET- chains), full repair with one iptables-restore --noflush`,
  };
}

export function iptRemoveObserved(seen: ProxyState): string {
  const byTable = new Map<string, string[]>();
  for (const c of Object.keys(seen.chains)) {
    const [table, name] = c.split('/') as [string, string];
    if (!byTable.has(table)) byTable.set(table, []);
    if (!BUILTIN.has(name)) byTable.get(table)!.push(name);
  }
  const out: string[] = [];
  for (const [table, chains] of byTable) {
    out.push(`*${table}`);
    for (const j of iptablesJumps())
      if (j.table === table && (seen.chains[`${table}/${j.chain}`] ?? []).includes(iptComment(j.rule)))
        out.push(j.rule.replace(/^-A /, '-D '));
    out.push(...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-X ${c}`), 'COMMIT');
  }
  return `${out.join('\n')}\n`;
}
