import type { PolicyNodeModel } from '../src/plan/policy/model.js';
import type { ChangeRow } from './policy-change.js';
import { fmtMs, median, table } from './stats.js';

/** The policy bench's report: the model's size, the table of sync figures against targets, the latency line. */

export interface PolicyFigures {
  readonly policies: number;
  readonly pods: number;
  readonly local: number;
  readonly model: PolicyNodeModel;
  readonly script: string;
  readonly full: { plan: number[]; apply: number[]; netlink: number[]; netlinkCpu: number[] };
  readonly change: ChangeRow;
  readonly relabel: ChangeRow;
  /** Median new-connection latencies (us) per round: no table, the table of 0 policies, of all of them. */
  readonly latency: { none: number[]; zero: number[]; all: number[] };
}

export function printPolicy(f: PolicyFigures): void {
  const { model: base, full, change, relabel } = f;
  const elements = Object.values(base.sets).reduce((n, s) => n + s.length, 0);
  console.log(
    `NetworkPolicy on one node: ${f.policies} policies (+2 for the latency pair) over ${f.pods} pods as addresses (${f.local} of them on this node); model: ${Object.keys(base.chains).length} chains, ${elements} set elements, ${base.counters.length} counters; script ${f.script.split('\n').length} lines\n`,
  );
  const m = (xs: number[]) => fmtMs(median(xs));
  console.log(
    table(
      [
        'measure',
        'plan (pure, incl. planNodeSync)',
        'apply: nft -f (text incl.)',
        'apply: libnftables session',
        'apply: netlink (encode + send)',
        'target',
      ],
      [
        [
          'full sync',
          m(full.plan),
          m(full.apply),
          '',
          `${m(full.netlink)} (CPU ${m(full.netlinkCpu)})`,
          `<= 1 s (plan + apply: nft -f ${fmtMs(median(full.plan) + median(full.apply))}, netlink ${fmtMs(median(full.plan) + median(full.netlink))})`,
        ],
        [
          `one policy change (${change.chains} pod directions recomputed, ${change.lines} nft lines)`,
          m(change.plan),
          m(change.nft),
          m(change.session),
          m(change.netlink),
          '<= 20 ms',
        ],
        [
          `one pod relabel (${relabel.chains} pod directions recomputed, ${relabel.lines} nft lines)`,
          m(relabel.plan),
          m(relabel.nft),
          m(relabel.session),
          m(relabel.netlink),
          '<= 20 ms',
        ],
      ],
    ),
  );
  const lat0 = median(f.latency.zero);
  const latN = median(f.latency.all);
  console.log(
    `\nnew-connection latency client -> server (per round the median of 300 connects; median of 5 rounds each, interleaved): 0 policies ${lat0.toFixed(1)} us, ${f.policies} policies ${latN.toFixed(1)} us, ratio ${(latN / lat0).toFixed(2)} (target <= 1.1); no table at all (no conntrack) ${median(f.latency.none).toFixed(1)} us`,
  );
}
