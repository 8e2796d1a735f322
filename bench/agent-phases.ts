import { fmtMs, median, percentile, table } from './stats.js';

/** One agent log line, as far as the phases need it. */
export interface PhaseLogLine {
  ts: string;
  msg: string;
  peers?: number;
  durationMs?: number;
  waitedMs?: number;
  stepsMs?: { model?: number; kernel?: number };
  leasedAt?: string;
  startupMs?: Record<string, number>;
}

/**
 * Where one join's time went, in ms: from the joining agent's process start (`ip netns exec`, then node) to its
 * lease, from its own start-up marks (agent.ts), then for the last peer to program it: the watch event's
 * arrival after the lease, the wait behind a running sync, and the sync itself (kernel written).
 */
export interface JoinPhases {
  /** process start -> node's own clock starts (ip netns exec, exec of node). */
  readonly exec: number;
  /** node's bootstrap. */
  readonly boot: number;
  /** bootstrap -> the agent's entry: bundle read and compiled (code cache), flags parsed, config checked. */
  readonly load: number;
  /** entry -> uplink read and the store listed. */
  readonly list: number;
  /** list -> lease grant and transaction done. */
  readonly lease: number;
  /** lease -> the watch event at the last peer. */
  readonly watch: number;
  /** lease -> the watch event, median over peers. */
  readonly watchMedian: number;
  /** the last peer's event -> its sync started. */
  readonly wait: number;
  /** the last peer's sync (model, diff, apply). */
  readonly sync: number;
  /** of which: the model from the snapshot. */
  readonly syncModel: number;
  /** of which: the kernel (diff, apply). */
  readonly syncKernel: number;
  /** process start -> the last peer's sync logged. */
  readonly total: number;
}

/**
 * The phases of one join from the joining agent's log and each peer's first sync after `startedMs` that knows
 * `peers` peers; undefined when a line is missing (an older agent).
 */
export function joinPhases(
  startedMs: number,
  joining: readonly PhaseLogLine[],
  peerLogs: readonly (readonly PhaseLogLine[])[],
  peers: number,
): JoinPhases | undefined {
  const up = joining.find((l) => l.msg === 'agent started' && l.startupMs && l.leasedAt);
  if (!up) return undefined;
  const m = up.startupMs!;
  const leasedAt = Date.parse(up.leasedAt!);
  const origin = leasedAt - m.leased!;
  const syncs = peerLogs.map((log) =>
    log.find((l) => l.msg === 'sync' && Date.parse(l.ts) >= startedMs && l.peers === peers),
  );
  if (syncs.some((s) => s === undefined || s.durationMs === undefined)) return undefined;
  const ends = syncs.map((s) => Date.parse(s!.ts));
  const arrived = syncs.map((s, i) => ends[i]! - s!.durationMs! - (s!.waitedMs ?? 0));
  const last = ends.indexOf(Math.max(...ends));
  const s = syncs[last]!;
  return {
    exec: origin - startedMs,
    boot: m.boot!,
    load: m.entered! - m.boot!,
    list: m.listed! - m.entered!,
    lease: m.leased! - m.listed!,
    watch: arrived[last]! - leasedAt,
    watchMedian: median(arrived.map((a) => a - leasedAt)),
    wait: s.waitedMs ?? 0,
    sync: s.durationMs!,
    syncModel: s.stepsMs?.model ?? 0,
    syncKernel: s.stepsMs?.kernel ?? 0,
    total: ends[last]! - startedMs,
  };
}

const LABELS: [keyof JoinPhases, string][] = [
  ['exec', 'process start -> node running (ip netns exec, exec)'],
  ['boot', "node's bootstrap"],
  ['load', 'agent bundle loaded, flags and config checked'],
  ['list', 'uplink read + store listed'],
  ['lease', 'lease grant + transaction'],
  ['watch', 'lease -> watch event at the last peer'],
  ['watchMedian', 'lease -> watch event, median peer'],
  ['wait', 'last peer: event -> its sync starts'],
  ['sync', 'last peer: sync (model, diff, kernel written)'],
  ['syncModel', '  of which the model from the snapshot'],
  ['syncKernel', '  of which diff + apply (kernel written)'],
  ['total', 'total: process start -> last peer programmed'],
];

/** The phases over all joins: median and p99 of each. */
export function phasesTable(all: readonly JoinPhases[]): string {
  return table(
    ['join phase', 'n', 'p50', 'p99'],
    LABELS.map(([k, label]) => {
      const xs = all.map((p) => p[k]);
      return [label, String(xs.length), fmtMs(median(xs)), fmtMs(percentile(xs, 99))];
    }),
  );
}
