import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AgentHealth } from '../../agent/agent.js';
import { storeKeys } from '../../agent/store/keys.js';
import { StateError } from '../../errors.js';
import type { Command, Runner } from '../../exec/runner.js';
import type { ProxyMode } from '../../model/cluster.js';
import { startTimeOf } from '../../observe/procs.js';
import { netnsExec } from '../../render/netns.js';
import { LabNames } from '../names.js';
import { LabState } from '../state.js';

/**
 * A lab in cluster mode (`lab up --agents`): etcd in a control-plane namespace on the lab's LAN, one real
 * `podnet agent` per node namespace. This file holds what every cluster-mode command needs: the record kept in
 * the state dir (`cluster.json`), the argv of etcd, etcdctl and the agents, and the agents' status files.
 */
export interface ClusterRecord {
  /** The control plane's address on the underlay: etcd listens there (and on its own loopback). */
  readonly cpIP: string;
  readonly underlayPrefix: number;
  readonly prefix: string;
  readonly leaseTTLSeconds: number;
  readonly resyncSeconds: number;
  readonly proxy: ProxyMode;
  /** Node name -> underlay IP, for every node with an agent. */
  readonly nodes: Readonly<Record<string, string>>;
}

export const ETCD_CLIENT_PORT = 2379;
const ETCD_PEER_PORT = 2380;
/** The control plane's node name: `<lab>-etcd` is its namespace. */
export const CP_NODE = 'etcd';

const CLI = fileURLToPath(new URL('../../../../bin/podnet.js', import.meta.url));

export function readCluster(state: LabState): ClusterRecord | undefined {
  return state.readJson<ClusterRecord>('cluster.json');
}

/** The record of a lab that must be in cluster mode; a clear error otherwise. */
export function requireCluster(lab: string): { state: LabState; names: LabNames; rec: ClusterRecord } {
  const state = new LabState(lab);
  if (!state.record) throw new StateError(`no lab named '${lab}' (no state in ${state.dir})`);
  const rec = readCluster(state);
  if (!rec)
    throw new StateError(
      `lab '${lab}' does not run agents; start it with 'podnet lab up --agents --name ${lab}'`,
    );
  return { state, names: new LabNames(lab), rec };
}

export const etcdEndpoint = (rec: ClusterRecord) => `http://${rec.cpIP}:${ETCD_CLIENT_PORT}`;

/** etcd, started inside the control-plane namespace, data under the lab's state dir. */
export function etcdCommand(state: LabState, names: LabNames, rec: ClusterRecord): Command {
  const peer = `http://127.0.0.1:${ETCD_PEER_PORT}`;
  return {
    argv: [
      ...netnsExec(names.nodeNs(CP_NODE)),
      'etcd',
      '--name=lab',
      `--data-dir=${state.path('etcd')}`,
      `--listen-client-urls=${etcdEndpoint(rec)},http://127.0.0.1:${ETCD_CLIENT_PORT}`,
      `--advertise-client-urls=${etcdEndpoint(rec)}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=lab=${peer}`,
    ],
    daemon: { log: state.path('logs', 'etcd.log'), tag: `${CP_NODE}/etcd` },
    note: `control plane: etcd on ${etcdEndpoint(rec)}, data in ${state.path('etcd')}`,
  };
}

/** Where a node's agent keeps its files (and the conflist it writes). */
export const agentDirs = (state: LabState, node: string) => ({
  state: state.path('nodes', node, 'agent'),
  netd: state.path('nodes', node, 'net.d'),
  ipam: state.path('nodes', node, 'ipam'),
  conflist: state.path('nodes', node, 'net.d', '10-podnet.conflist'),
  status: state.path('nodes', node, 'agent', 'status.json'),
  log: state.path('logs', `${node}.agent.log`),
});

/** A real `podnet agent` process inside the node's namespace, on etcd. */
export function agentCommand(state: LabState, names: LabNames, rec: ClusterRecord, node: string): Command {
  return labAgentCommand(
    state,
    names,
    rec,
    node,
    ['--datastore', 'etcd', '--etcd-endpoints', etcdEndpoint(rec), '--etcd-prefix', rec.prefix],
    `${node}: start podnet agent (lease, watch, sync) inside the node`,
  );
}

/** The agent's command line in a lab, whatever its store (`store`: the datastore flags). */
export function labAgentCommand(
  state: LabState,
  names: LabNames,
  rec: ClusterRecord,
  node: string,
  store: readonly string[],
  note: string,
): Command {
  const d = agentDirs(state, node);
  return {
    argv: [
      ...netnsExec(names.nodeNs(node)),
      process.execPath,
      // V8's lite mode: no optimizing compiler, about 9 MiB less resident memory; the agent mostly waits.
      '--lite-mode',
      '--no-expose-wasm',
      CLI,
      'agent',
      '--node',
      node,
      ...store,
      '--proxy',
      rec.proxy,
      '--iface',
      'eth0',
      '--lease-ttl-seconds',
      String(rec.leaseTTLSeconds),
      '--resync-seconds',
      String(rec.resyncSeconds),
      '--listen',
      '127.0.0.1:9653',
      '--state-dir',
      d.state,
      '--cni-conf-dir',
      d.netd,
      '--cni-data-dir',
      d.ipam,
      // The lab's pods run the Node.js plugin (the CLI entry) directly, not the installed client: no socket.
      '--cni-socket',
      'none',
    ],
    daemon: { log: d.log, tag: `${node}/agent` },
    note,
  };
}

/** etcdctl against the lab's etcd, run inside the control-plane namespace. */
export async function etcdctl(
  runner: Runner,
  names: LabNames,
  rec: ClusterRecord,
  args: string[],
): Promise<string> {
  const r = await runner.run({
    argv: [
      ...netnsExec(names.nodeNs(CP_NODE)),
      'etcdctl',
      `--endpoints=${etcdEndpoint(rec)}`,
      '--command-timeout=3s',
      ...args,
    ],
  });
  return r.stdout;
}

/** Writes one key; resolves with the store revision after the write. */
export async function etcdPut(
  runner: Runner,
  names: LabNames,
  rec: ClusterRecord,
  key: string,
  value: string,
): Promise<number> {
  const out = await etcdctl(runner, names, rec, ['put', '-w', 'json', key, value]);
  return Number((JSON.parse(out) as { header: { revision: number } }).header.revision);
}

/** The store's current revision (a change made before this call is at or below it). */
export async function etcdRevision(runner: Runner, names: LabNames, rec: ClusterRecord): Promise<number> {
  const out = await etcdctl(runner, names, rec, ['get', '-w', 'json', `${rec.prefix}/config`]);
  return Number((JSON.parse(out) as { header: { revision: number } }).header.revision);
}

export async function etcdDel(
  runner: Runner,
  names: LabNames,
  rec: ClusterRecord,
  key: string,
): Promise<number> {
  const out = await etcdctl(runner, names, rec, ['del', '-w', 'json', key]);
  return Number((JSON.parse(out) as { header: { revision: number } }).header.revision);
}

/**
 * Revokes the lease of `node`'s subnet key (node leave): etcd deletes the key and every agent sees it.
 * Lease IDs are 64-bit: read from etcdctl's `fields` output as text, never through a JSON number.
 */
export async function revokeNodeLease(
  runner: Runner,
  names: LabNames,
  rec: ClusterRecord,
  node: string,
): Promise<string | undefined> {
  const out = await etcdctl(runner, names, rec, [
    'get',
    '--prefix',
    storeKeys(rec.prefix).subnets,
    '-w',
    'fields',
  ]);
  for (const block of out.split(/\n(?="Key")/)) {
    if (!new RegExp(`\\\\"NodeName\\\\":\\\\"${node}\\\\"`).test(block)) continue;
    const lease = /"Lease" : (\d+)/.exec(block)?.[1];
    if (!lease || lease === '0') continue;
    await etcdctl(runner, names, rec, ['lease', 'revoke', BigInt(lease).toString(16)]);
    return /"Key" : "([^"]+)"/.exec(block)?.[1];
  }
  return undefined;
}

/** A journaled process of the lab (agent of a node, or etcd), if it still runs. */
export function livePid(state: LabState, pod: string, role: string): number | undefined {
  const r = state
    .pids()
    .filter((p) => p.pod === pod && p.role === role)
    .at(-1);
  return r && startTimeOf(r.pid) === r.start ? r.pid : undefined;
}

export function agentHealth(state: LabState, node: string): AgentHealth | undefined {
  const f = agentDirs(state, node).status;
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as AgentHealth;
  } catch {
    return undefined;
  }
}
