import type { AgentFigures } from './agent.js';
import { mib } from './agent-usage.js';
import { fmtMs, median, percentile, table } from './stats.js';

/** A latency row: what, how many samples, p50, p99, the target. */
export const row = (what: string, xs: number[], target: string) => [
  what,
  String(xs.length),
  fmtMs(median(xs)),
  fmtMs(percentile(xs, 99)),
  target,
];

/** The etcd agent bench's report: join and endpoint-change latencies, then the agents' CPU and RSS, with targets. */
export function printAgent(f: AgentFigures): void {
  console.log(
    table(
      ['measure', 'n', 'p50', 'p99', 'target'],
      [
        row('join: agent start -> last node programmed', f.join, 'p50 <= 300 ms, p99 <= 1 s'),
        row('endpoint change: put sent -> every node programmed', f.endpointSent, 'p99 <= 100 ms'),
        row('endpoint change: etcdctl start -> every node programmed', f.endpointUpper, ''),
        row('join: lease written -> last node programmed', f.joinFromLease, ''),
      ],
    ),
  );
  const { idle, churn } = f;
  console.log(
    table(
      ['agents', 'CPU (% of a core, mean per agent)', 'RSS median', 'RSS max', 'target'],
      [
        [
          'idle (10 s)',
          idle.cpu.toFixed(2),
          mib(median(idle.rss)),
          mib(Math.max(...idle.rss)),
          '<= 1 %, <= 60 MiB',
        ],
        ['endpoint churn', churn.cpu.toFixed(2), mib(median(churn.rss)), mib(Math.max(...churn.rss)), ''],
      ],
    ),
  );
}
