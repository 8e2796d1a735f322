import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apply } from '../apply/apply.js';
import { StateError } from '../errors.js';
import { PrintRunner } from '../exec/print-runner.js';
import type { ClusterSpec } from '../model/cluster.js';
import { allocationsOf, type Cluster, resolveCluster } from '../model/resolve.js';
import { listNamedNetns } from '../observe/procs.js';
import type { Op, Plan } from '../plan/ops.js';
import { labDown } from './down.js';
import { LabNames } from './names.js';
import { IDENTITY_PORTS, type LabPaths, planLabUp } from './plan.js';
import { requireCrossNodeSupport, requireRoot, requireTools } from './preflight.js';
import { journalingRunner, labNetlink, listeningPorts } from './runners.js';
import { LabState } from './state.js';

export interface UpOptions {
  readonly lab: string;
  readonly spec: ClusterSpec;
  readonly specText?: string;
  readonly source: string;
  readonly overrides?: Readonly<Record<string, string>>;
  readonly verbose?: boolean;
  readonly onPhase?: (title: string, ms: number) => void;
  /** Profiling: each step's op kinds and wall time (apply's onStep). */
  readonly onStep?: (kinds: readonly Op['kind'][], ms: number) => void;
}

/** The lab's file layout under its state directory. */
export function labPaths(state: LabState): LabPaths {
  return {
    log: (pod, role) => state.path('logs', `${pod}.${role}.log`),
    www: (pod, c) => state.path('www', pod, c),
    lowerDir: state.path('rootfs', 'busybox'),
    overlay: (pod, c) => ({
      upper: state.path('containers', pod, c, 'upper'),
      work: state.path('containers', pod, c, 'work'),
      merged: state.path('containers', pod, c, 'merged'),
    }),
  };
}

/** What `lab up` would run, as a script with explanations (the --dry-run and `lab explain` output). */
export function explainUp(cluster: Cluster, lab: string): Promise<string> {
  return printPlan(planLabUp(cluster, new LabNames(lab), labPaths(new LabState(lab))));
}

export async function printPlan(plan: Plan): Promise<string> {
  const printer = new PrintRunner();
  await apply(plan, printer);
  return printer.script();
}

/**
 * Brings a lab up. Refuses to touch an existing lab. Records its state before creating anything, journals
 * every process it starts, and on any failure tears down everything it made before rethrowing.
 */
export async function labUp(o: UpOptions): Promise<Cluster> {
  requireRoot('podnet lab up');
  await requireTools(['ip', 'bridge', 'unshare', 'nsenter', 'sysctl', 'hostname', 'busybox']);
  requireCrossNodeSupport(o.spec);
  const names = new LabNames(o.lab);
  const state = new LabState(o.lab);
  const taken = listNamedNetns().filter((n) => names.owns(n));
  if (state.exists || taken.length) {
    throw new StateError(
      `lab '${o.lab}' already exists (${state.exists ? `state in ${state.dir}` : `namespaces ${taken.join(', ')}`}); run 'podnet lab down --name ${o.lab}' first, or pick another --name`,
    );
  }
  const cluster = resolveCluster(o.spec);
  state.create();
  state.writeJson('lab.json', {
    name: o.lab,
    status: 'creating',
    createdAt: new Date().toISOString(),
    specText: o.specText,
    source: o.source,
    overrides: o.overrides ?? {},
  });
  state.writeJson('allocations.json', allocationsOf(cluster));
  const runner = journalingRunner(state, o.verbose ?? false);
  // The spawner starts while the files and the plan are made.
  runner.warm();
  try {
    const t0 = performance.now();
    const paths = labPaths(state);
    prepareFiles(cluster, paths);
    const plan = planLabUp(cluster, names, paths);
    o.onPhase?.('(plan and files)', performance.now() - t0);
    const netlink = labNetlink(runner);
    try {
      const applying = apply(plan, runner, {
        batch: true,
        vars: runner.vars,
        // Enough lanes that the spawner has pods queued while this thread writes the explanation below.
        concurrency: 64,
        ...(netlink ? { inProcess: netlink } : {}),
        ...(o.onPhase ? { onPhase: o.onPhase } : {}),
        ...(o.onStep ? { onStep: o.onStep } : {}),
      });
      applying.catch(() => {}); // awaited below; a failure must not count as unhandled meanwhile
      // The explanation (the dry-run script) is written while the first pause processes start.
      writeFileSync(state.path('explain.sh'), await printPlan(plan));
      await applying;
    } finally {
      netlink?.close();
    }
    const t1 = performance.now();
    await waitReady(cluster, state);
    o.onPhase?.('(ready)', performance.now() - t1);
    state.writeJson('lab.json', { ...state.record, status: 'up' });
    return cluster;
  } catch (err) {
    await labDown(o.lab).catch(() => {});
    throw err;
  } finally {
    runner.close();
  }
}

/** Directories and the busybox base layer, made before the plan runs (files, not kernel state). */
function prepareFiles(cluster: Cluster, paths: LabPaths): void {
  const needsRootfs = cluster.pods.some((p) => p.containers.some((c) => c.rootfs === 'busybox'));
  if (needsRootfs) buildBusyboxLayer(paths.lowerDir);
  for (const p of cluster.pods) {
    for (const c of p.containers) {
      if (c.rootfs !== 'busybox') continue;
      const o = paths.overlay(p.name, c.name);
      for (const d of [o.upper, o.work, o.merged]) mkdirSync(d, { recursive: true });
    }
  }
}

/** A minimal root filesystem: busybox-static and a link per applet (the seed uses Alpine's minirootfs). */
export function buildBusyboxLayer(dir: string): void {
  if (existsSync(join(dir, 'bin', 'busybox'))) return;
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'www'])
    mkdirSync(join(dir, d), { recursive: true });
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new StateError('busybox not found: install busybox-static');
  copyFileSync(busybox, join(dir, 'bin', 'busybox'));
  for (const applet of [
    'sh',
    'ls',
    'cat',
    'echo',
    'httpd',
    'nc',
    'ping',
    'wget',
    'ip',
    'hostname',
    'sleep',
    'mount',
    'ps',
    'ifconfig',
    'id',
    'env',
  ]) {
    symlinkSync('busybox', join(dir, 'bin', applet));
  }
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\n');
}

/**
 * Waits until every identity container listens (asked of the pause process's namespace over sock_diag, no probe
 * traffic), so `up` returns a lab that `verify` can use at once. Fails naming the containers that never came up.
 */
export async function waitReady(
  cluster: Cluster,
  state: LabState,
  // Slow machines (the VM lane emulates its CPU) may allow more: PODNET_READY_TIMEOUT_MS.
  timeoutMs = Number(process.env.PODNET_READY_TIMEOUT_MS) || 5000,
): Promise<void> {
  const pause = new Map(
    state
      .pids()
      .filter((r) => r.role === 'pause')
      .map((r) => [r.pod, r.pid]),
  );
  let missing = cluster.pods.filter((p) => p.containers.length === 0);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Only re-read pods still missing: the polling must not steal the CPU the starting containers need.
    missing = missing.filter((p) => {
      const ports = listeningPorts(pause.get(p.name) ?? -1, Object.values(IDENTITY_PORTS));
      return !Object.values(IDENTITY_PORTS).every((port) => ports.has(port));
    });
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      throw new StateError(
        `identity containers of pod(s) ${missing.map((p) => p.name).join(', ')} are not listening after ${timeoutMs} ms; see ${state.path('logs')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
