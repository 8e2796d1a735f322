import { readFileSync } from 'node:fs';
import { agentDirs, agentHealth, type requireCluster } from '../src/lab/cluster/record.js';
import { startTimeOf } from '../src/observe/procs.js';
import type { PhaseLogLine } from './agent-phases.js';

/** When things happened on a cluster lab's agents: their JSON log lines, status files and process starts. */

export type ClusterState = ReturnType<typeof requireCluster>['state'];

export interface AgentLogLine extends PhaseLogLine {
  /** The store revision a sync's snapshot was taken at. */
  revision?: string;
  /** How many kernel operations a sync applied. */
  ops?: number;
}

export const logOf = (state: ClusterState, node: string): AgentLogLine[] =>
  readFileSync(agentDirs(state, node).log, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as AgentLogLine);

export const health = (state: ClusterState, node: string) =>
  JSON.parse(readFileSync(agentDirs(state, node).status, 'utf8')) as { lease: { subnet: string } };

/** The end of the first sync at or after `since` (ms epoch) that satisfies `ok` (Infinity if none). */
export function firstSync(
  state: ClusterState,
  node: string,
  since: number,
  ok: (l: AgentLogLine) => boolean,
): number {
  const l = logOf(state, node).find((x) => x.msg === 'sync' && Date.parse(x.ts) >= since && ok(x));
  return l ? Date.parse(l.ts) : Number.POSITIVE_INFINITY;
}

/**
 * The end of `node`'s first sync at `revision` or later. Waits on the small status file (each agent rewrites it
 * after its sync's log line), then reads the log once: polling 20 growing logs would load the very CPUs the
 * agents are being timed on.
 */
export async function waitSyncAt(
  state: ClusterState,
  node: string,
  revision: number,
  since: number,
): Promise<number> {
  for (let i = 0; i < 400; i++) {
    const h = agentHealth(state, node);
    if (h?.lastSync && Number(h.lastSync.revision) >= revision) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return firstSync(state, node, since - 1000, (l) => Number(l.revision) >= revision);
}

/**
 * A process's start as ms since the epoch: /proc/PID/stat's starttime (clock ticks since boot) set against
 * /proc/uptime read now. Not /proc/stat's btime: it is whole seconds, which put a constant error of up to 1 s
 * (274 ms in one run) into every join figure.
 */
export function processStartMs(pid: number): number {
  const now = Date.now();
  const uptimeMs = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
  return now - uptimeMs + (Number(startTimeOf(pid)) / 100) * 1000;
}
