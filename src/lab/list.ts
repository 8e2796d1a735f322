import { readdirSync } from 'node:fs';
import { listNamedNetns, startTimeOf } from '../observe/procs.js';
import { LAB_NAME } from './names.js';
import { LabState, stateRoot } from './state.js';

/** One lab on this machine, as `podnet lab list` shows it. */
export interface LabSummary {
  readonly name: string;
  /**
   * `up`: built, every namespace and pause process there; `creating`: `up` is running, or was interrupted;
   * `degraded`: built, but a namespace or pause process is gone; `orphaned`: namespaces without state.
   */
  readonly state: 'up' | 'creating' | 'degraded' | 'orphaned';
  readonly createdAt?: string;
  /** The spec file it was built from, or the default cluster. */
  readonly source?: string;
  readonly stateDir?: string;
  readonly nodes: number;
  readonly pods: number;
  /** Pause processes journaled by `up` that still run (PID and start time match). */
  readonly podsRunning: number;
}

/**
 * Every lab on the machine: those with a state directory, and namespaces `<lab>-switch` left without one.
 * Reads only files (state, /run/netns, /proc): no process is started, and no root is needed for what is readable.
 */
export function listLabs(): LabSummary[] {
  const netns = listNamedNetns();
  let dirs: string[] = [];
  try {
    dirs = readdirSync(stateRoot()).filter((d) => LAB_NAME.test(d));
  } catch {
    // no lab was ever made
  }
  const orphans = netns
    .map((n) => /^([a-z][a-z0-9]{0,11})-switch$/.exec(n)?.[1])
    .filter((x) => x !== undefined);
  const names = [...new Set([...dirs, ...orphans])].sort();
  return names.map((name) => summarize(name, netns));
}

function summarize(name: string, netns: readonly string[]): LabSummary {
  const mine = netns.filter((n) => n.startsWith(`${name}-`)).map((n) => n.slice(name.length + 1));
  const nodes = mine.filter((n) => n !== 'switch' && !n.startsWith('pod-')).length;
  const podNs = mine.filter((n) => n.startsWith('pod-')).map((n) => n.slice(4));
  const pods = podNs.length;
  const state = new LabState(name);
  const record = state.record;
  if (!record) return { name, state: 'orphaned', nodes, pods, podsRunning: 0 };
  const alive = new Set(
    state
      .pids()
      .filter((r) => r.role === 'pause' && startTimeOf(r.pid) === r.start)
      .map((r) => r.pod),
  );
  const podsRunning = podNs.filter((p) => alive.has(p)).length;
  const whole = mine.includes('switch') && nodes > 0 && podsRunning === pods;
  return {
    name,
    state: record.status === 'creating' ? 'creating' : whole ? 'up' : 'degraded',
    createdAt: record.createdAt,
    source: record.source,
    stateDir: state.dir,
    nodes,
    pods,
    podsRunning,
  };
}

/** The table `podnet lab list` prints. */
export function formatLabList(labs: readonly LabSummary[]): string {
  if (labs.length === 0) return 'no labs on this machine (podnet lab up makes one)';
  const rows = [
    ['LAB', 'STATE', 'NODES', 'PODS', 'CREATED', 'FROM'],
    ...labs.map((l) => [
      l.name,
      l.state,
      String(l.nodes),
      l.pods === l.podsRunning ? String(l.pods) : `${l.podsRunning}/${l.pods}`,
      l.createdAt ?? '-',
      l.source ?? '(no state: podnet lab down --name LAB removes it)',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .join('\n');
}
