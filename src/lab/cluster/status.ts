import { LabState } from '../state.js';
import { API_PORT, KCM_PORT, type KubeRecord } from './kube-control-plane.js';
import { agentHealth, CP_NODE, ETCD_CLIENT_PORT, livePid, readCluster } from './record.js';

/** One agent as `lab status` shows it: its process, its lease, its last sync, its health. */
export interface AgentStatus {
  readonly node: string;
  readonly pid?: number;
  readonly running: boolean;
  readonly subnet?: string;
  readonly leaseExpires?: string;
  readonly lastSync?: string;
  readonly lastSyncOps?: number;
  readonly healthy: boolean;
  readonly datastore?: string;
  readonly kernelWrites?: number;
  readonly lastError?: string;
}

/** One control-plane process: what it is, where it listens, whether its journaled PID still runs. */
export interface ComponentStatus {
  readonly component: 'etcd' | 'kube-apiserver' | 'kube-controller-manager';
  readonly address: string;
  readonly pid?: number;
  readonly running: boolean;
}

export interface ClusterStatus {
  /** `etcd` or `kubernetes` (the agents' store). */
  readonly datastore: 'etcd' | 'kubernetes';
  readonly etcd: { readonly endpoint: string; readonly pid?: number; readonly running: boolean };
  /** etcd, then in the kubernetes mode kube-apiserver and kube-controller-manager. */
  readonly controlPlane: readonly ComponentStatus[];
  readonly agents: readonly AgentStatus[];
  readonly partitioned: readonly string[];
}

/** The cluster-mode part of `lab status`, from the journal and each agent's status file; undefined otherwise. */
export function clusterStatus(lab: string): ClusterStatus | undefined {
  const state = new LabState(lab);
  const rec = readCluster(state);
  if (!rec) return undefined;
  const kube = state.readJson<KubeRecord>('kube.json');
  const component = (c: ComponentStatus['component'], address: string): ComponentStatus => {
    const pid = livePid(state, CP_NODE, c);
    return { component: c, address, ...(pid ? { pid } : {}), running: pid !== undefined };
  };
  const etcd = component('etcd', `http://${rec.cpIP}:${ETCD_CLIENT_PORT}`);
  return {
    datastore: kube ? 'kubernetes' : 'etcd',
    etcd: { endpoint: etcd.address, ...(etcd.pid ? { pid: etcd.pid } : {}), running: etcd.running },
    controlPlane: [
      etcd,
      ...(kube
        ? [
            component('kube-apiserver', `https://${rec.cpIP}:${API_PORT}`),
            component('kube-controller-manager', `https://${rec.cpIP}:${KCM_PORT}`),
          ]
        : []),
    ],
    agents: Object.keys(rec.nodes).map((node): AgentStatus => {
      const pid = livePid(state, node, 'agent');
      const h = agentHealth(state, node);
      const current = h && h.pid === pid;
      return {
        node,
        ...(pid ? { pid } : {}),
        running: pid !== undefined,
        ...(h?.lease ? { subnet: h.lease.subnet, leaseExpires: h.lease.expiresAt } : {}),
        ...(h?.lastSync ? { lastSync: h.lastSync.at, lastSyncOps: h.lastSync.ops } : {}),
        healthy: Boolean(current && h.healthy),
        ...(current ? { datastore: h.datastore, kernelWrites: h.kernelWrites } : {}),
        ...(current && h.lastError ? { lastError: h.lastError } : {}),
      };
    }),
    partitioned: state.readJson<string[]>('partitions.json') ?? [],
  };
}

export function formatClusterStatus(s: ClusterStatus): string {
  const lines = [
    ...s.controlPlane.map(
      (c) => `control plane: ${c.component} ${c.address} ${c.running ? `running (PID ${c.pid})` : 'STOPPED'}`,
    ),
    `agents (datastore ${s.datastore}):`,
    `  ${'node'.padEnd(10)}${'pid'.padEnd(9)}${'subnet'.padEnd(16)}${'lease expires'.padEnd(15)}${'last sync'.padEnd(20)}health`,
  ];
  for (const a of s.agents) {
    const health = !a.running
      ? 'NOT RUNNING'
      : a.healthy
        ? 'healthy'
        : `unhealthy${a.datastore === 'down' ? ' (datastore down)' : ''}${a.lastError ? `: ${a.lastError}` : ''}`;
    lines.push(
      `  ${a.node.padEnd(10)}${String(a.pid ?? '-').padEnd(9)}${(a.subnet ?? '-').padEnd(16)}${(a.leaseExpires?.slice(11, 19) ?? '-').padEnd(15)}${(a.lastSync ? `${a.lastSync.slice(11, 19)} (${a.lastSyncOps} ops)` : '-').padEnd(20)}${health}`,
    );
  }
  if (s.partitioned.length) lines.push(`partitioned from the control plane: ${s.partitioned.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
