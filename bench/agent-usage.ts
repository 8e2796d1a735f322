import { readFileSync } from 'node:fs';
import { livePid } from '../src/lab/cluster/record.js';
import type { ClusterState } from './agent-log.js';

/** The agents' CPU and memory, from /proc, over a window of time (the agent benches' idle and churn figures). */

export interface Usage {
  /** Mean CPU per agent, % of one core. */
  readonly cpu: number;
  readonly rss: number[];
}

export const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

/** CPU ticks and RSS of every agent. */
function sample(state: ClusterState, nodes: readonly string[]) {
  return nodes.flatMap((n) => {
    const pid = livePid(state, n, 'agent');
    if (!pid) return [];
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
    return [{ pid, ticks: Number(f[11]) + Number(f[12]), rss }];
  });
}

/** Opens a window over every agent's CPU and RSS; the returned function closes it. */
export function startUsage(state: ClusterState, nodes: readonly string[]): () => Usage {
  const a = sample(state, nodes);
  const t = performance.now();
  return () => {
    const b = sample(state, nodes);
    const secs = (performance.now() - t) / 1000;
    const ticks = b.reduce((s, x) => s + x.ticks - (a.find((y) => y.pid === x.pid)?.ticks ?? x.ticks), 0);
    return { cpu: (ticks / 100 / secs / Math.max(1, b.length)) * 100, rss: b.map((x) => x.rss) };
  };
}

/** Every agent's usage over the next `ms`. */
export async function usageOver(state: ClusterState, nodes: readonly string[], ms: number): Promise<Usage> {
  const close = startUsage(state, nodes);
  await new Promise((r) => setTimeout(r, ms));
  return close();
}
