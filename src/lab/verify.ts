import { fileURLToPath } from 'node:url';
import { exec } from '../exec/process-runner.js';
import { python3 } from '../exec/python.js';
import type { Cluster, PodView } from '../model/resolve.js';
import { nsOf, processesInPidNs } from '../observe/procs.js';
import { inPodNetns } from '../render/observe.js';
import { isClusterLab } from './cluster/change.js';
import { LabNames } from './names.js';
import { driftLines, labDrift, type NodeDriftReport } from './node-sync.js';
import { IDENTITY_PORTS } from './plan.js';
import { hostRunner } from './runners.js';
import { formatServices, type ServiceCheck, verifyServices } from './verify-services.js';

/** One check verify makes. */
export interface Probe {
  readonly id: string;
  readonly from: string;
  /** Column of the matrix: a pod name, 'gateway' or 'localhost'. */
  readonly to: string;
  readonly kind: 'icmp' | 'tcp' | 'udp';
  readonly host: string;
  readonly port?: number;
  /** The identity line the answer must start with. */
  readonly expect?: string;
}

export interface ProbeResult extends Probe {
  readonly ok: boolean;
  readonly ms?: number;
  readonly answer?: string;
  readonly error?: string;
}

export interface SharedNsCheck {
  readonly pod: string;
  readonly ok: boolean;
  readonly netns?: string;
  readonly processes: number;
  readonly detail: string;
}

export interface VerifyReport {
  readonly lab: string;
  readonly results: readonly ProbeResult[];
  readonly sharedNs: readonly SharedNsCheck[];
  readonly passed: number;
  readonly failed: number;
  /** Every service port from every pod (lab/verify-services.ts). */
  readonly services?: readonly ServiceCheck[];
  /** Each node's kernel against its model: the differences (`drift`, one line each); empty when in sync. */
  readonly nodes?: readonly { readonly node: string; readonly drift: readonly string[] }[];
  /** Set in cluster mode: the agents keep their nodes in sync, so `nodes` is empty (see `lab status`). */
  readonly nodeStateBy?: 'agents';
}

const isIdentity = (p: PodView) => p.containers.length === 0;

/** Which pod pairs the cluster's modes connect: same node (bridge/veth), or all pods once cross-node is on. */
export function connected(cluster: Cluster, a: PodView, b: PodView): boolean {
  if (a.name === b.name) return false;
  if (cluster.spec.crossNode !== 'none' && cluster.spec.sameNode === 'bridge') return true;
  return a.node === b.node;
}

/** Every probe verify runs (pure): localhost inside each pod, every connected pair, each pod's gateway. */
export function planProbes(cluster: Cluster): Probe[] {
  const probes: Probe[] = [];
  for (const src of cluster.pods) {
    const add = (p: Omit<Probe, 'id' | 'from'>) =>
      probes.push({ id: `${src.name}#${probes.length}`, from: src.name, ...p });
    if (isIdentity(src)) {
      for (const [c, port] of Object.entries(IDENTITY_PORTS)) {
        add({
          to: 'localhost',
          kind: 'tcp',
          host: '127.0.0.1',
          port,
          expect: `pod=${src.name} container=${c} `,
        });
      }
    }
    if (cluster.spec.sameNode === 'bridge') {
      const node = cluster.nodes.find((n) => n.name === src.node)!;
      add({ to: 'gateway', kind: 'icmp', host: node.gateway.toString() });
    }
    for (const dst of cluster.pods) {
      if (!connected(cluster, src, dst)) continue;
      add({ to: dst.name, kind: 'icmp', host: dst.ip.toString() });
      if (isIdentity(dst))
        add({
          to: dst.name,
          kind: 'tcp',
          host: dst.ip.toString(),
          port: IDENTITY_PORTS.web,
          expect: `pod=${dst.name} container=web `,
        });
    }
  }
  return probes;
}

const PROBE_SCRIPT = fileURLToPath(new URL('../../../assets/probe.py', import.meta.url));

/** Runs the probes of each source pod in one process inside that pod's network namespace, all pods at once. */
export async function runProbes(
  lab: string,
  probes: readonly Probe[],
  // Per probe; slow machines (the VM lane emulates its CPU) may allow more: PODNET_PROBE_TIMEOUT_S.
  timeoutS = Number(process.env.PODNET_PROBE_TIMEOUT_S) || 2,
): Promise<ProbeResult[]> {
  const names = new LabNames(lab);
  const bySource = new Map<string, Probe[]>();
  for (const p of probes) bySource.set(p.from, [...(bySource.get(p.from) ?? []), p]);
  const out: ProbeResult[] = [];
  await Promise.all(
    [...bySource].map(async ([pod, list]) => {
      const input = JSON.stringify({
        timeout: timeoutS,
        probes: list.map(({ id, kind, host, port }) => ({ id, kind, host, port })),
      });
      const r = await exec(inPodNetns(`/run/netns/${names.podNs(pod)}`, python3(), PROBE_SCRIPT), input);
      let answers: { id: string; ok: boolean; ms?: number; answer?: string; error?: string }[] = [];
      try {
        answers = JSON.parse(r.stdout);
      } catch {
        const why = r.stderr.trim().split('\n').pop() ?? `exit ${r.exitCode}`;
        for (const p of list) out.push({ ...p, ok: false, error: `probe did not run: ${why}` });
        return;
      }
      for (const p of list) {
        const a = answers.find((x) => x.id === p.id);
        let ok = a?.ok ?? false;
        let error = a?.error;
        if (ok && p.expect && !(a?.answer ?? '').startsWith(p.expect)) {
          ok = false;
          error = `wrong answer: expected '${p.expect.trim()}…', got '${a?.answer ?? ''}'`;
        }
        out.push({
          ...p,
          ok,
          ...(a?.ms !== undefined ? { ms: a.ms } : {}),
          ...(a?.answer !== undefined ? { answer: a.answer } : {}),
          ...(error ? { error } : {}),
        });
      }
    }),
  );
  const order = new Map(probes.map((p, i) => [p.id, i]));
  return out.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
}

/**
 * Every process of a pod (pause and containers, found through the pod's PID namespace) must share one
 * network namespace: the seed's `ls -l /proc/self/ns/net` check, for all containers at once.
 */
export function checkSharedNetns(
  pods: readonly PodView[],
  pausePids: ReadonlyMap<string, number>,
): SharedNsCheck[] {
  return pods.map((p) => {
    const pid = pausePids.get(p.name);
    const net = pid ? nsOf(pid, 'net') : undefined;
    const pidNs = pid ? nsOf(pid, 'pid_for_children') : undefined;
    if (!pid || !net || !pidNs)
      return { pod: p.name, ok: false, processes: 0, detail: 'pause process is not running' };
    // A process that exits between the listing and the read has no namespace left to show: not a finding.
    const seen = processesInPidNs(pidNs).map((q) => ({ q, net: nsOf(q, 'net') }));
    const procs = seen.filter((x) => x.net !== undefined).map((x) => x.q);
    const nets = new Set(seen.filter((x) => x.net !== undefined).map((x) => x.net));
    const expected = 1 + (p.containers.length || Object.keys(IDENTITY_PORTS).length);
    const ok = nets.size === 1 && nets.has(net) && procs.length >= expected;
    return {
      pod: p.name,
      ok,
      netns: net,
      processes: procs.length,
      detail: ok
        ? `${procs.length} processes share ${net}`
        : `expected ${expected} processes in ${net}, found ${procs.length} in ${[...nets].join(', ') || 'none'}`,
    };
  });
}

export async function verifyLab(
  lab: string,
  cluster: Cluster,
  pausePids: ReadonlyMap<string, number>,
): Promise<VerifyReport> {
  const results = await runProbes(lab, planProbes(cluster));
  const sharedNs = checkSharedNetns(cluster.pods, pausePids);
  const services = await verifyServices(lab, cluster);
  // In cluster mode each node's agent owns its kernel state and reconciles it from the store (its model, its
  // bridge name); the lab's own model of the nodes does not apply there.
  const byAgents = isClusterLab(lab);
  const nodes = byAgents ? [] : nodeChecks(await labDrift(cluster, new LabNames(lab), hostRunner()));
  const failed =
    results.filter((r) => !r.ok).length +
    sharedNs.filter((s) => !s.ok).length +
    services.filter((s) => !s.ok).length +
    nodes.filter((n) => n.drift.length).length;
  return {
    lab,
    results,
    sharedNs,
    services,
    nodes,
    ...(byAgents ? { nodeStateBy: 'agents' as const } : {}),
    passed: results.length + sharedNs.length + services.length + nodes.length - failed,
    failed,
  };
}

/** One check per node: in sync, or the list of its differences. */
function nodeChecks(r: readonly NodeDriftReport[]): { node: string; drift: string[] }[] {
  return r.map((n) => ({ node: n.node, drift: driftLines([n]) }));
}

/** The verification table, as the terminal shows it. */
export function formatReport(cluster: Cluster, r: VerifyReport): string {
  const cols = ['localhost', 'gateway', ...cluster.pods.map((p) => p.name)];
  const cell = (from: string, to: string) => {
    const rs = r.results.filter((x) => x.from === from && x.to === to);
    if (rs.length === 0) return from === to ? '·' : '-';
    return rs
      .map(
        (x) =>
          `${x.kind === 'icmp' ? 'icmp' : x.to === 'localhost' ? `:${x.port}` : 'tcp'}${x.ok ? '✓' : '✗'}`,
      )
      .join(' ');
  };
  const rows = cluster.pods.map((p) => [p.name, ...cols.map((c) => cell(p.name, c))]);
  const header = ['from \\ to', ...cols];
  const widths = header.map((h, i) => Math.max([...h].length, ...rows.map((row) => [...row[i]!].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c + ' '.repeat(widths[i]! - [...c].length))
      .join('  ')
      .trimEnd();
  const out = [
    `lab ${r.lab}: pod connectivity (${cluster.spec.sameNode} same-node, cross-node ${cluster.spec.crossNode})`,
    line(header),
    ...rows.map(line),
    '',
  ];
  out.push('shared network namespace (pause + containers):');
  for (const s of r.sharedNs) out.push(`  ${s.ok ? '✓' : '✗'} ${s.pod}: ${s.detail}`);
  const failures = r.results.filter((x) => !x.ok);
  if (failures.length) {
    out.push('', 'failures:');
    for (const f of failures)
      out.push(
        `  ✗ ${f.from} -> ${f.to} ${f.kind} ${f.host}${f.port ? `:${f.port}` : ''}: ${f.error ?? 'failed'}`,
      );
  }
  out.push(...formatServices(r.services ?? []));
  if (r.nodes?.length) {
    out.push('', 'node state (kernel vs model; podnet lab reconcile repairs it):');
    for (const n of r.nodes)
      if (!n.drift.length) out.push(`  ✓ ${n.node}: in sync`);
      else for (const d of n.drift) out.push(`  ✗ ${d}`);
  }
  if (r.nodeStateBy === 'agents')
    out.push(
      '',
      "node state: each node's agent reconciles its own node from the store (see podnet lab status)",
    );
  out.push('', `${r.passed} passed, ${r.failed} failed`);
  return out.join('\n');
}
