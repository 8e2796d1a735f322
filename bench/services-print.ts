import type { AgentChanges } from './services-agent.js';
import { agentChangeMs, printAgentChanges } from './services-agent.js';
import { type LabChanges, printLabChanges } from './services-lab.js';
import { fmtMs, median, table } from './stats.js';

/** The services bench's tables and target lines, one verdict per front door. */

export interface Row {
  n: number;
  nftFull: number[];
  nftChange: number[];
  /** CPU time (user + sys) of the full syncs. */
  nftFullCpu: number[];
  iptFullCpu?: number;
  iptTimedOut?: boolean;
  /** The same changes through a persistent libnftables session (round trip from Node). */
  nftSessionChange: number[];
  nftSessionFull?: number;
  /** Planning one change (renderNftDiff over the two models), in Node. */
  nftPlan: number[];
  /** The same transactions as one netlink batch each, sent from this process (encode + kernel), and the encode part. */
  nlFull: number[];
  nlEncode: number[];
  /** CPU time of this process (user + sys) over each netlink full sync: the kernel's work happens inside our write. */
  nlFullCpu: number[];
  nlChange: number[];
  /** The same changes' netlink part only (encode + send), without planning. */
  nlChangeSend: number[];
  /** planNftFull at this size (the transaction as data; shared by both paths). */
  planFull?: number;
  nftLatency?: { median: number; p95: number; errors: number };
  /** One endpoint change from the store event to the kernel (session): the agent's builder, and rebuilt whole. */
  agent?: AgentChanges;
  iptFull?: number;
  iptChange: number[];
  iptLatency?: { median: number; p95: number; errors: number };
  seed: { commands: number; measured?: number; sampleEmpty?: number; sampleFull?: number };
  lab?: LabChanges;
}

export function printServices(rows: readonly Row[], iptLimitS: number): void {
  const out: string[][] = [];
  for (const r of rows) {
    const seed =
      r.seed.sampleEmpty === undefined
        ? '-'
        : r.seed.measured !== undefined
          ? `${fmtMs(r.seed.measured)} (measured, ${r.seed.commands} processes)`
          : `${fmtMs((r.seed.commands * ((r.seed.sampleEmpty ?? 0) + (r.seed.sampleFull ?? r.seed.sampleEmpty ?? 0))) / 2)} extrapolated (${r.seed.commands} processes; ${fmtMs(r.seed.sampleEmpty ?? 0)} each on an empty table, ${r.seed.sampleFull !== undefined ? fmtMs(r.seed.sampleFull) : '?'} at full size)`;
    out.push([
      String(r.n),
      r.nftFull.length
        ? `${fmtMs(r.nftFull[0]!)} / ${fmtMs(median(r.nftFull.slice(1)))} (cpu ${fmtMs(median(r.nftFullCpu))})`
        : '-',
      r.nftChange.length ? fmtMs(median(r.nftChange)) : '-',
      r.nftSessionChange.length
        ? `${median(r.nftSessionChange).toFixed(2)} ms / ${fmtMs(r.nftSessionFull ?? 0)}`
        : '-',
      r.nlFull.length
        ? `${fmtMs(median(r.nlFull))} (cpu ${fmtMs(median(r.nlFullCpu))}, encode ${fmtMs(median(r.nlEncode))}; ${(median(r.nftFull) / median(r.nlFull)).toFixed(1)}× less wall, ${(median(r.nftFullCpu) / median(r.nlFullCpu)).toFixed(1)}× less cpu than nft -f)`
        : '-',
      r.nlChange.length
        ? `${median(r.nlChange).toFixed(2)} ms (netlink ${median(r.nlChangeSend).toFixed(2)} ms)`
        : '-',
      r.planFull !== undefined ? fmtMs(r.planFull) : '-',
      r.iptFull !== undefined
        ? `${fmtMs(r.iptFull)} (cpu ${fmtMs(r.iptFullCpu ?? Number.NaN)})`
        : r.iptTimedOut
          ? `> ${iptLimitS} s (did not finish)`
          : 'skipped',
      r.iptChange.length ? fmtMs(median(r.iptChange)) : '-',
      seed,
    ]);
  }
  console.log(
    '\nservice proxy sync, N services × 5 endpoints (medians; nft full: first sync / re-sync over the table, and CPU time)',
  );
  console.log(
    table(
      [
        'N',
        'nft full',
        'nft 1 change*',
        'nft session: 1 change* / full',
        'netlink full sync',
        'netlink 1 change*: planning + send (send alone)',
        'planning a full sync',
        'iptables-restore full',
        'iptables 1 change',
        "seed's way (1 process per rule)",
      ],
      out,
    ),
  );
  console.log(
    '* diff of two whole models (reference, not a front door): each change plans from a second model built whole; the front doors are below (lab, agent)',
  );
  console.log(
    '\nnew-connection latency to a ClusterIP, median / p95 of 300 connects, the median of 7 rounds interleaved across sizes (µs; iptables: middle of 3, target service last)',
  );
  console.log(
    table(
      ['N', 'nftables', 'iptables', 'nft vs nft@first size'],
      rows.map((r) => [
        String(r.n),
        r.nftLatency
          ? `${r.nftLatency.median} / ${r.nftLatency.p95}${r.nftLatency.errors ? ` (${r.nftLatency.errors} errors)` : ''}`
          : '-',
        r.iptLatency
          ? `${r.iptLatency.median} / ${r.iptLatency.p95}${r.iptLatency.errors ? ` (${r.iptLatency.errors} errors)` : ''}`
          : '-',
        r.nftLatency && rows[0]?.nftLatency
          ? `${(r.nftLatency.median / rows[0].nftLatency.median).toFixed(2)}×`
          : '-',
      ]),
    ),
  );
  printAgentChanges(rows);
  printLabChanges(rows);
  for (const [n, target] of [
    [10000, 300],
    [50000, 1500],
  ] as const) {
    const r = rows.find((x) => x.n === n);
    if (!r) continue;
    const verdict = (ms: number | undefined) =>
      ms === undefined ? 'not run' : `${ms.toFixed(2)} ms (${ms <= 5 ? 'met' : 'missed'})`;
    const full = r.nlFull.length
      ? `netlink full sync ${fmtMs(median(r.nlFull))} wall, ${fmtMs(median(r.nlFullCpu))} cpu (≤ ${target} ms: ${median(r.nlFull) <= target ? 'met' : median(r.nlFullCpu) <= target ? 'met in CPU time, missed in wall time on this shared machine' : 'missed'}), nft -f ${r.nftFull.length ? fmtMs(median(r.nftFull)) : '-'} in the same run`
      : 'netlink full sync not run';
    const first = rows[0]?.nftLatency;
    const lat =
      r.nftLatency && first && rows[0] !== r
        ? `; latency ${(r.nftLatency.median / first.median).toFixed(2)}× the ${rows[0]!.n.toLocaleString('en')}-service figure (≤ 1.1×: ${r.nftLatency.median / first.median <= 1.1 ? 'met' : 'missed'})`
        : '';
    console.log(
      `target at ${n.toLocaleString('en')}: ${full}; one endpoint change end to end ≤ 5 ms: lab front door ${verdict(r.lab && median(r.lab.total))}, agent front door ${verdict(agentChangeMs(r))}${lat}${r.nlChange.length ? `; not judged: diff of two whole models + send ${median(r.nlChange).toFixed(2)} ms (reference)` : ''}`,
    );
  }
  const big = rows.find((r) => r.n === 10000);
  if (big?.nftFull.length) {
    const full = median(big.nftFull.slice(1).concat(big.nftFull[0]!));
    const cpu = median(big.nftFullCpu);
    console.log(
      `\ntargets at 10,000: nft full sync ${fmtMs(full)} wall, ${fmtMs(cpu)} CPU (≤ 1 s: ${full <= 1000 ? 'met' : cpu <= 1000 ? 'met in CPU time, missed in wall time on this shared machine' : 'missed'}), one change ${fmtMs(median(big.nftChange))} with a new nft process, ${median(big.nftSessionChange).toFixed(2)} ms through a persistent session (both from a diff of two whole models) (≤ 20 ms: ${median(big.nftSessionChange) <= 20 ? 'met' : 'missed'}), latency ${big.nftLatency && rows[0]?.nftLatency ? `${(big.nftLatency.median / rows[0].nftLatency.median).toFixed(2)}× the first size (≤ 1.1×: ${big.nftLatency.median / rows[0].nftLatency.median <= 1.1 ? 'met' : 'missed'})` : '?'}`,
    );
  }
}
