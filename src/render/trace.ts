import type { Arg } from '../exec/runner.js';

/**
 * The temporary nftables tables `podnet lab trace` adds to each namespace on a probe's path, and the argv of
 * its observers. The trace mark (`meta nftrace`) does not survive a veth or a tunnel, so every namespace gets
 * its own table that marks the probe's packets as they enter (prerouting, and output for locally sent ones),
 * plus empty base chains at the other hooks, late (priority 1000), so the trace shows the packet at every hook
 * after NAT. Rule comments say which way a packet goes.
 */

/** What the trace rules match: the probe's own tuple, and where it may end up after NAT. */
export interface TraceMatch {
  readonly tag: string;
  readonly proto: 'tcp' | 'udp' | 'icmp';
  readonly client: string;
  /** Source port (or ICMP echo id) the probe binds. */
  readonly sport: number;
  /** Possible destinations after NAT (and before it): address and port (port ignored for icmp). */
  readonly dsts: readonly { readonly ip: string; readonly port: number }[];
  /** The VXLAN UDP port, when the lab has VXLAN: outer packets are matched on their inner headers. */
  readonly vxlanPort?: number;
}

export const TRACE_TABLE_PREFIX = 'podnet-trace-';
export const tableName = (tag: string): string => `${TRACE_TABLE_PREFIX}${tag}`;

const hex32 = (ip: string): string =>
  `0x${ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')}`;

/** Rules that set the trace mark, each commented with the direction it recognises. */
function markRules(m: TraceMatch): string[] {
  const set = (xs: string[]) => (xs.length === 1 ? xs[0]! : `{ ${xs.join(', ')} }`);
  const dstIps = [...new Set(m.dsts.map((d) => d.ip))];
  const out: string[] = [];
  const rule = (match: string, dir: 'request' | 'reply') =>
    out.push(`${match} meta nftrace set 1 comment "${dir}"`);
  if (m.proto === 'icmp') {
    rule(`ip saddr ${m.client} icmp type echo-request icmp id ${m.sport}`, 'request');
    rule(`ip daddr ${m.client} icmp type echo-reply icmp id ${m.sport}`, 'reply');
    rule(`ip daddr ${set(dstIps)} icmp type echo-request`, 'request');
    rule(`ip saddr ${set(dstIps)} icmp type echo-reply`, 'reply');
  } else {
    const first = m.proto === 'tcp' ? 'tcp flags & (syn | rst) != 0 ' : '';
    const pairs = `{ ${m.dsts.map((d) => `${d.ip} . ${d.port}`).join(', ')} }`;
    rule(`ip saddr ${m.client} ${m.proto} sport ${m.sport} ${first}`.trimEnd(), 'request');
    rule(`ip daddr ${m.client} ${m.proto} dport ${m.sport} ${first}`.trimEnd(), 'reply');
    rule(`meta l4proto ${m.proto} ip daddr . ${m.proto} dport ${pairs} ${first}`.trimEnd(), 'request');
    rule(`meta l4proto ${m.proto} ip saddr . ${m.proto} sport ${pairs} ${first}`.trimEnd(), 'reply');
  }
  // ICMP errors about the probe (unreachable, fragmentation needed, time exceeded) sent back to the client.
  rule(`ip daddr ${m.client} icmp type { destination-unreachable, time-exceeded }`, 'reply');
  if (m.vxlanPort !== undefined) {
    // The outer packet of a VXLAN-encapsulated probe: inner IPv4 header at transport offset 30 bytes
    // (8 UDP + 8 VXLAN + 14 Ethernet): inner saddr at bit 336, daddr at bit 368, inner ports at 400/416.
    // TCP: only the inner SYN, SYN-ACK and RST (inner TCP flags at bit 504: 50 bytes of headers + 13).
    const u = `udp dport ${m.vxlanPort}${m.proto === 'tcp' ? ' @th,504,8 & 0x06 != 0' : ''}`;
    const ids = m.proto === 'icmp' ? [432, 432] : [400, 416];
    rule(`${u} @th,336,32 ${hex32(m.client)} @th,${ids[0]},16 ${m.sport}`, 'request');
    rule(`${u} @th,368,32 ${hex32(m.client)} @th,${ids[1]},16 ${m.sport}`, 'reply');
    if (dstIps.length) {
      rule(`${u} @th,368,32 ${set(dstIps.map(hex32))}`, 'request');
      rule(`${u} @th,336,32 ${set(dstIps.map(hex32))}`, 'reply');
    }
  }
  return out;
}

/**
 * The nft script that creates the trace tables in one namespace: inet, and bridge where frames are bridged.
 * `bridgeOnly` (the underlay switch, an L2 device): no inet table, so frames the bridge hands to the IP hooks
 * (br_netfilter) are not mistaken for routed ones.
 */
export function traceTablesScript(m: TraceMatch, bridged: boolean, bridgeOnly = false): string {
  const t = tableName(m.tag);
  const marks = markRules(m);
  const chain = (name: string, hook: string, prio: number, rules: string[] = []) => [
    `  chain ${name} {`,
    `    type filter hook ${hook} priority ${prio}; policy accept;`,
    ...rules.map((r) => `    ${r}`),
    '  }',
  ];
  const lines = bridgeOnly
    ? []
    : [
        `table inet ${t} {`,
        ...chain('trace-pre', 'prerouting', -350, marks),
        ...chain('trace-out', 'output', -350, marks),
        ...chain('seen-in', 'input', 1000),
        ...chain('seen-fwd', 'forward', 1000),
        ...chain('seen-post', 'postrouting', 1000),
        '}',
      ];
  if (bridged)
    lines.push(
      `table bridge ${t} {`,
      ...chain('trace-pre', 'prerouting', -350, marks),
      ...chain('seen-fwd', 'forward', 1000),
      ...chain('seen-in', 'input', 1000),
      ...chain('seen-post', 'postrouting', 1000),
      '}',
    );
  return `${lines.join('\n')}\n`;
}

/** Deleting one trace's tables (whichever exist). */
export function traceCleanupScript(tag: string, bridged: boolean): string {
  const t = tableName(tag);
  const fams = bridged ? ['inet', 'bridge'] : ['inet'];
  return fams.map((f) => `add table ${f} ${t}\ndelete table ${f} ${t}\n`).join('');
}

/** The observer in one namespace; `setpriv --pdeathsig` ends it with podnet, even after SIGKILL. */
export function monitorArgv(netnsPath: string): [Arg, ...Arg[]] {
  return ['setpriv', '--pdeathsig', 'KILL', 'nsenter', `--net=${netnsPath}`, 'nft', '-a', 'monitor', 'trace'];
}

/** Connection events (with their NAT) in one namespace, ended with podnet like the monitor. */
export function conntrackEventsArgv(netnsPath: string, proto: string): [Arg, ...Arg[]] {
  return ['setpriv', '--pdeathsig', 'KILL', 'nsenter', `--net=${netnsPath}`, 'conntrack', '-E', '-p', proto];
}
