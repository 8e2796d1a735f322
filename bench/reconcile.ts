import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apply } from '../src/apply/apply.js';
import { NftSessionRunner } from '../src/apply/nft-session.js';
import { compileNetlinkAddon } from '../src/exec/netlink/build.js';
import { loadNativeFile } from '../src/exec/netlink/native.js';
import { NftGenReader } from '../src/exec/netlink/nft-gen.js';
import { exec, ProcessRunner } from '../src/exec/process-runner.js';
import { loadSpec } from '../src/lab/spec-source.js';
import { resolveCluster } from '../src/model/resolve.js';
import { NftGenerations } from '../src/observe/nft-generation.js';
import { observeNftParts, observeNode, scopeOf } from '../src/observe/node.js';
import { buildNodeModel } from '../src/plan/node/build.js';
import { emptyNodeState, type NodeModel } from '../src/plan/node/model.js';
import { planNodeSync } from '../src/plan/node/sync.js';
import { named } from '../src/plan/ops.js';
import { fmtMs, median, table } from './stats.js';

/**
 * `npm run bench -- reconcile [--runs N]`: one node of a 20-node vxlan cluster with 1,000 services × 5
 * endpoints, in a namespace the bench creates (`pr<pid>-node-0`, its eth0 a veth to `pr<pid>-switch`; both removed at
 * the end). The node is brought up from scratch through planNodeSync, then measured end to end (observe + plan +
 * apply), medians of N runs:
 *   - no-op resync: observe the kernel (nftables tables re-read only when the generation id moved), diff
 *     against the model, apply nothing (the timer-driven resync); also with every table re-read each time, and
 *     after a foreign nft change (a hand-made element each run: must be found and removed);
 *   - one-endpoint change: nftables generation checked, plan, apply (one transaction, nft session), and the
 *     same observing the whole node first, and through a new `nft` process per change;
 * and building the node model from the cluster snapshot, which an agent does once per event.
 * Targets (issue 10): no-op resync <= 50 ms, one change <= 20 ms. Figures: docs/architecture.md.
 */
export async function benchReconcile(args: string[]): Promise<void> {
  const runs = Number(args[args.indexOf('--runs') + 1]) || 15;
  const ns = `pr${process.pid % 100000}-node-0`;
  const peer = `pr${process.pid % 100000}-switch`;
  const netns = named(ns);
  const procs = new ProcessRunner({ spawner: true });
  const runner = new NftSessionRunner(procs);
  const sh = async (...argv: string[]) => {
    const r = await exec(argv);
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  // The generation id is read over NETLINK_NETFILTER through the netlink addon, compiled here (cc).
  const addonDir = mkdtempSync(join(tmpdir(), 'podnet-bench-'));
  const addon = await compileNetlinkAddon();
  writeFileSync(join(addonDir, 'netlink.node'), addon.bytes);
  const native = loadNativeFile(join(addonDir, 'netlink.node'));
  rmSync(addonDir, { recursive: true, force: true });
  let reader: NftGenReader | undefined;
  const gens = new NftGenerations(() => {
    reader ??= NftGenReader.open(native, `/run/netns/${ns}`);
    return reader.read();
  });
  const t0 = performance.now();
  const cluster = resolveCluster(loadSpec(clusterYaml(), 'bench'));
  const built: number[] = [];
  let model = buildNodeModel(cluster, 'node-0');
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    model = buildNodeModel(cluster, 'node-0');
    built.push(performance.now() - s);
  }
  console.log(
    `cluster: ${cluster.nodes.length} nodes, ${cluster.pods.length} pods, ${model.proxy!.services.length} service ports x ${model.proxy!.services[0]!.endpoints.length} endpoints (resolved in ${fmtMs(performance.now() - t0)})`,
  );
  try {
    await sh('ip', 'netns', 'add', ns);
    await sh('ip', 'netns', 'add', peer);
    await sh('ip', '-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer);
    await sh('ip', '-n', ns, 'addr', 'add', '192.168.64.4/24', 'dev', 'eth0');
    await sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up');
    const first = planNodeSync(emptyNodeState('node-0'), model, { netns });
    const s0 = performance.now();
    await apply([{ title: 'node', ops: first }], runner, { batch: true });
    console.log(`from scratch: ${first.length} ops in ${fmtMs(performance.now() - s0)}`);

    const tracked = gens.tracking(netns, runner);
    // A resync as a long-running loop does it: observe (generation-checked), plan, apply, settle.
    const pass = async (want: NodeModel, observe: 'node' | 'nft' | 'full', keptState?: NodeModel) => {
      const scope = scopeOf(want);
      const seen =
        observe === 'full'
          ? await observeNode(runner, netns, scope)
          : observe === 'node'
            ? await observeNode(runner, netns, scope, { generations: gens })
            : { ...keptState!, ...(await observeNftParts(runner, netns, scope, { generations: gens })) };
      const ops = planNodeSync(seen, want, { netns });
      if (ops.length) await apply([{ title: 'sync', ops }], tracked, { batch: true });
      gens.settle(netns, want);
      return ops;
    };
    await pass(model, 'node'); // the first read of the tables
    const noop: number[] = [];
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      const ops = await pass(model, 'node');
      if (ops.length) throw new Error(`not in sync: ${ops.map((o) => o.note).join('; ')}`);
      noop.push(performance.now() - s);
    }
    const noopFull: number[] = [];
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      const ops = await pass(model, 'full');
      if (ops.length) throw new Error(`not in sync: ${ops.map((o) => o.note).join('; ')}`);
      noopFull.push(performance.now() - s);
    }
    // Someone adds an endpoint element by hand: the generation moves, the table is re-read, the element goes.
    const foreign: number[] = [];
    for (let i = 0; i < Math.min(runs, 5); i++) {
      await sh(
        'ip',
        'netns',
        'exec',
        ns,
        'nft',
        'add element ip podnet-services endpoints { 10.96.0.1 . 999 : 10.201.0.9 . 80 }',
      );
      const s = performance.now();
      const ops = await pass(model, 'node');
      foreign.push(performance.now() - s);
      if (ops.length !== 1) throw new Error(`the hand-made element was not found (${ops.length} ops)`);
    }

    // One endpoint of one service moves back and forth.
    const moved = (k: number): NodeModel => {
      const p = model.proxy!;
      const services = p.services.map((s, i) =>
        i === 500
          ? {
              ...s,
              endpoints: s.endpoints.map((e, j) => (j === 2 && k % 2 ? { ...e, ip: '10.201.0.7' } : e)),
            }
          : s,
      );
      return { ...model, proxy: { ...p, services } };
    };
    let kept: NodeModel = model;
    const change: number[] = [];
    const plans: number[] = [];
    for (let i = 1; i <= runs; i++) {
      const next = moved(i);
      const s = performance.now();
      const ops = await pass(next, 'nft', kept);
      change.push(performance.now() - s);
      if (ops.length !== 1) throw new Error(`one change planned as ${ops.length} ops`);
      const p = performance.now();
      planNodeSync(kept, next, { netns });
      plans.push(performance.now() - p);
      kept = next;
    }
    const observed: number[] = [];
    for (let i = 1; i <= runs; i++) {
      const next = moved(runs + i);
      const s = performance.now();
      await pass(next, 'node');
      observed.push(performance.now() - s);
      kept = next;
    }
    // The same through a new `nft` process per change (what the one-shot CLI does), from the state kept.
    const oneShot: number[] = [];
    for (let i = 1; i <= runs; i++) {
      const next = moved(i + 1);
      const s = performance.now();
      const ops = planNodeSync(kept, next, { netns });
      await apply([{ title: 'change', ops }], procs, { batch: true });
      oneShot.push(performance.now() - s);
      kept = next;
    }
    const check = planNodeSync(await observeNode(runner, netns, scopeOf(kept)), kept, { netns });
    if (check.length) throw new Error('the kernel did not follow the changes');

    console.log(
      table(
        ['measure (median)', 'time', 'target'],
        [
          ['no-op resync: observe (nft generation checked) + plan, 0 ops', fmtMs(median(noop)), '<= 50 ms'],
          ['no-op resync, tables re-read every time (nft -j list)', fmtMs(median(noopFull)), ''],
          ['resync after a hand-made nft element: re-read + repair', fmtMs(median(foreign)), ''],
          ['one endpoint change: nft generation + plan + apply (session)', fmtMs(median(change)), '<= 20 ms'],
          ['  of which planning', fmtMs(median(plans)), ''],
          ['one endpoint change, observing the whole node first', fmtMs(median(observed)), ''],
          ['one endpoint change, new nft process, no observe', fmtMs(median(oneShot)), ''],
          ['build the node model from the snapshot', fmtMs(median(built)), ''],
        ],
      ),
    );
  } finally {
    reader?.close();
    await runner.close();
    procs.close();
    await exec(['ip', 'netns', 'del', ns]);
    await exec(['ip', 'netns', 'del', peer]);
  }
}

/** 20 nodes, 5 pods each; 1,000 Services, each selecting one of 20 groups of 5 pods (pods spread over nodes). */
function clusterYaml(): string {
  const nodes = Array.from({ length: 20 }, (_, i) => `    - {name: node-${i}, ip: 192.168.64.${4 + i}}`);
  const pods = Array.from(
    { length: 100 },
    (_, i) => `    - {name: p${i}, node: node-${i % 20}, labels: {g: g${Math.floor(i / 5)}}}`,
  );
  const services = Array.from(
    { length: 1000 },
    (_, i) =>
      `    - {metadata: {name: s${i}}, spec: {selector: {g: g${i % 20}}, ports: [{name: http, port: 80, targetPort: 8080}]}}`,
  );
  return `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: bench}
spec:
  crossNode: vxlan
  nodes:
${nodes.join('\n')}
  pods:
${pods.join('\n')}
  services:
${services.join('\n')}
`;
}
