import type { Protocol } from '../model/policy/types.js';
import type { Cluster } from '../model/resolve.js';
import { endpointSliceOf } from '../model/service-endpoints.js';
import { Ip } from '../net/ip.js';
import { allowed, type Endpoint, type PolicyPod } from '../plan/policy/evaluate.js';
import { worldOf } from '../plan/policy/world.js';
import { OUTSIDE } from './outside.js';
import { IDENTITY_PORTS } from './plan.js';
import { type Probe, runProbes } from './verify.js';

/**
 * The truth table of `lab verify --policies`: every ordered pod pair (a pod to itself too) x port x protocol,
 * probed with a real connection, beside what the evaluator expects, as cyclonus and policy-assistant print it.
 * Rows for ClusterIPs with one endpoint (policies see the endpoint after DNAT) and for the outside host follow.
 */

export interface PolicyCell {
  readonly from: string;
  /** `namespace/name` of a pod, `svc:<ns>/<name>` for a ClusterIP, or `outside`. */
  readonly to: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
  readonly expected: boolean;
  readonly observed: boolean;
  readonly reason: string;
  readonly error?: string;
}

export interface PolicyTruthTable {
  readonly lab: string;
  readonly ports: readonly string[];
  readonly pods: readonly string[];
  readonly cells: readonly PolicyCell[];
  readonly mismatches: number;
  readonly ms: number;
}

const key = (p: PolicyPod) => `${p.namespace}/${p.name}`;

/** The (port, protocol) pairs to probe: the pods' declared container ports, else the identity web ports. */
export function probedPorts(cluster: Cluster): { port: number; protocol: 'tcp' | 'udp' }[] {
  const seen = new Map<string, { port: number; protocol: 'tcp' | 'udp' }>();
  for (const p of cluster.pods)
    for (const c of p.ports ?? [])
      if (c.protocol !== 'SCTP') {
        const protocol = c.protocol === 'TCP' ? 'tcp' : 'udp';
        seen.set(`${c.containerPort}/${protocol}`, { port: c.containerPort, protocol });
      }
  if (seen.size === 0) return Object.values(IDENTITY_PORTS).map((port) => ({ port, protocol: 'tcp' }));
  return [...seen.values()].sort((a, b) => a.protocol.localeCompare(b.protocol) || a.port - b.port);
}

type Planned = Omit<PolicyCell, 'observed' | 'error'> & { readonly probe: Probe };

/** Every cell with its expectation (pure). */
export function planPolicyCells(cluster: Cluster): Planned[] {
  const world = worldOf(cluster);
  const ports = probedPorts(cluster);
  const cells: Planned[] = [];
  const add = (
    src: PolicyPod,
    to: string,
    host: string,
    dst: Endpoint,
    port: number,
    protocol: 'tcp' | 'udp',
  ) => {
    const d = allowed(world, { pod: src }, dst, port, protocol.toUpperCase() as Protocol);
    const id = `${cells.length}`;
    cells.push({
      from: key(src),
      to,
      host,
      port,
      protocol,
      expected: d.allowed,
      reason: d.reason,
      probe: { id, from: labId(src), to, kind: protocol, host, port },
    });
  };
  for (const src of world.pods)
    for (const dst of world.pods)
      for (const { port, protocol } of ports)
        add(src, key(dst), dst.ip.toString(), { pod: dst }, port, protocol);
  // Through a ClusterIP: the policy sees the endpoint, so the expectation is the endpoint's.
  for (const svc of cluster.services) {
    const eps = endpointSliceOf(svc, cluster.pods).endpoints;
    if (eps.length !== 1) continue;
    const ep = world.pods.find((p) => p.ip.toString() === eps[0]!.addresses[0]);
    if (!ep) continue;
    for (const sp of svc.ports) {
      const protocol = sp.protocol === 'TCP' ? 'tcp' : 'udp';
      for (const src of world.pods) {
        const d = allowed(world, { pod: src }, { pod: ep }, sp.targetPort, sp.protocol);
        const id = `${cells.length}`;
        const to = `svc:${svc.namespace}/${svc.name}`;
        cells.push({
          from: key(src),
          to,
          host: svc.clusterIP.toString(),
          port: sp.port,
          protocol,
          expected: d.allowed,
          reason: `through ${svc.clusterIP}:${sp.port} to ${key(ep)}: ${d.reason}`,
          probe: { id, from: labId(src), to, kind: protocol, host: svc.clusterIP.toString(), port: sp.port },
        });
      }
    }
  }
  if (cluster.spec.outside) {
    const ip = Ip.parse(OUTSIDE.hostIp);
    for (const src of world.pods) add(src, 'outside', OUTSIDE.hostIp, { ip }, OUTSIDE.port, 'tcp');
  }
  return cells;
}

const labId = (p: PolicyPod) => (p.namespace === 'default' ? p.name : `${p.namespace}-${p.name}`);

/** Probes every cell (one process per source pod, all probes of a pod at once, short timeouts). */
export async function verifyPolicies(lab: string, cluster: Cluster, timeoutS = 1): Promise<PolicyTruthTable> {
  const started = performance.now();
  const planned = planPolicyCells(cluster);
  const results = await runProbes(
    lab,
    planned.map((c) => c.probe),
    timeoutS,
  );
  const byId = new Map(results.map((r) => [r.id, r]));
  const cells: PolicyCell[] = planned.map(({ probe, ...c }) => {
    const r = byId.get(probe.id);
    // The who-am-I server answers and closes at once, so the probe's request may meet a reset: ECONNRESET only
    // happens on an established connection, so the handshake got through (a refused SYN is ECONNREFUSED).
    const observed = (r?.ok ?? false) || (probe.kind === 'tcp' && r?.error === 'Connection reset by peer');
    return { ...c, observed, ...(r?.error && !observed ? { error: r.error } : {}) };
  });
  return {
    lab,
    ports: probedPorts(cluster).map((p) => `${p.protocol}/${p.port}`),
    pods: worldOf(cluster).pods.map(key),
    cells,
    mismatches: cells.filter((c) => c.expected !== c.observed).length,
    ms: Math.round(performance.now() - started),
  };
}

/**
 * The matrix, one table per protocol/port: rows are sources, columns destinations; `.` connected, `X` blocked
 * (observed), with `!` after a cell where the evaluator expected the other answer.
 */
export function formatTruthTable(t: PolicyTruthTable): string {
  const lines: string[] = [
    `lab ${t.lab}: NetworkPolicy truth table (observed; ! marks a mismatch with the evaluator)`,
  ];
  for (const pp of t.ports) {
    const [protocol, port] = pp.split('/');
    const mine = t.cells.filter((c) => c.protocol === protocol && c.port === Number(port));
    const cols = [...new Set(mine.map((c) => c.to))];
    const w = Math.max(...cols.map((c) => c.length), ...t.pods.map((p) => p.length), pp.length) + 1;
    const pad = (s: string) => s.padEnd(w);
    lines.push('', `${pad(pp)}${cols.map(pad).join('')}`);
    for (const from of t.pods) {
      const row = cols.map((to) => {
        const c = mine.find((x) => x.from === from && x.to === to);
        return pad(c ? `${c.observed ? '.' : 'X'}${c.observed !== c.expected ? '!' : ''}` : '');
      });
      lines.push(`${pad(from)}${row.join('')}`);
    }
  }
  const bad = t.cells.filter((c) => c.expected !== c.observed);
  lines.push('');
  for (const c of bad.slice(0, 40))
    lines.push(
      `  ! ${c.from} -> ${c.to} ${c.protocol}/${c.port}: expected ${c.expected ? 'allowed' : 'denied'}, observed ${c.observed ? 'connected' : `blocked (${c.error ?? 'no answer'})`}; ${c.reason}`,
    );
  if (bad.length > 40) lines.push(`  ... and ${bad.length - 40} more`);
  lines.push(
    `${t.cells.length - bad.length} of ${t.cells.length} cells match the evaluator, ${bad.length} mismatch(es), ${t.ms} ms`,
  );
  return lines.join('\n');
}
