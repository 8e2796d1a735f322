import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apply } from '../src/apply/apply.js';
import { LabNames } from '../src/lab/names.js';
import { LabProxyChange } from '../src/lab/proxy-change.js';
import { keepProxyUses, type ProxyUsesRecords, takeProxyUses } from '../src/lab/proxy-uses.js';
import { hostRunner, labNftGenerations } from '../src/lab/runners.js';
import { LabState } from '../src/lab/state.js';
import { defaultClusterDoc } from '../src/model/defaults.js';
import { parseClusterFile } from '../src/model/parse.js';
import { type Cluster, resolveCluster } from '../src/model/resolve.js';
import { type ServiceView, servicesByKey } from '../src/model/service.js';
import { Ip } from '../src/net/ip.js';
import { buildProxyModel } from '../src/plan/services/model.js';
import { proxyUsesOf } from '../src/plan/services/nft-diff.js';
import { planNftFull } from '../src/plan/services/nftables.js';
import { fmtMs, median, table } from './stats.js';

/**
 * The services bench's lab path (`--modes nft`): one endpoint change as `podnet lab service add -f` makes it,
 * from the lab's spec before and after the edit to the kernel: the proxy-uses record taken and kept (a file),
 * the namespace's nftables generation checked, the touched Service's ports built from both specs and
 * diffed against the recorded counts (lab/proxy-change.ts), the transaction sent the way the CLI sends it (its
 * own runner: a netlink batch when the addon loads). Parsing and resolving the lab's spec, which a one-shot
 * process does first (O(services); resolving indexes the Services by key), is outside the figure and said so.
 */

const ip = (n: number) => Ip.fromNumber(n >>> 0);

/** A lab cluster of `n` selector-less Services, 5 endpoints each (given in EndpointSlices), on one node. */
function labCluster(base: Cluster, node: string, n: number): Cluster {
  const services: ServiceView[] = [];
  for (let i = 0; i < n; i++) services.push(service(i, 0));
  return { ...base, nodes: [{ ...base.nodes[0]!, name: node }], pods: [], services };
}

/** Service i; `moved` > 0 moves its third endpoint (a pod restarted elsewhere), as the agent path does. */
function service(i: number, moved: number): ServiceView {
  const endpoints = Array.from({ length: 5 }, (_, j) => {
    const k = i * 5 + j;
    const at = j === 2 && moved ? 0x0aca0000 + moved : 0x0ac90000 + (k % 65000) + 1;
    return { ip: ip(at).toString(), ready: true, name: j === 2 && moved ? `moved${moved}` : `p${k}` };
  });
  return {
    name: `s${String(i).padStart(6, '0')}`,
    namespace: 'default',
    clusterIP: ip(0x0a600000 + 2 + i),
    type: 'ClusterIP',
    selector: {},
    ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
    sessionAffinity: 'None',
    affinityTimeoutSeconds: 10800,
    internalTrafficPolicy: 'Cluster',
    externalTrafficPolicy: 'Cluster',
    endpoints,
  };
}

export interface LabChanges {
  /** One change, record file to record file (ms). */
  readonly total: number[];
  /** Of which the proxy sync (generation checks, plan, send). */
  readonly sync: number[];
  /** Indexing the next spec's Services by key, done as the spec is resolved: outside `total` (ms). */
  readonly index: number[];
  /** Changes that fell back to a whole sync (must be 0). */
  whole: number;
}

/**
 * Loads the lab's table into `nodeNs` (a namespace named as lab `lab`'s node `node`), then makes 30 endpoint
 * changes through the lab's front door.
 */
export async function labPath(
  n: number,
  lab: string,
  node: string,
  log: (s: string) => void,
): Promise<LabChanges> {
  const names = new LabNames(lab);
  const base = resolveCluster(parseClusterFile(JSON.stringify(defaultClusterDoc())));
  let prev = labCluster(base, node, n);
  servicesByKey(prev.services);
  const runner = hostRunner();
  const dir = mkdtempSync(join(tmpdir(), 'lch-bench-'));
  const was = process.env.PODNET_STATE_DIR;
  process.env.PODNET_STATE_DIR = dir;
  const state = new LabState(lab);
  if (was === undefined) delete process.env.PODNET_STATE_DIR;
  else process.env.PODNET_STATE_DIR = was;
  state.create();
  const out: LabChanges = { total: [], sync: [], index: [], whole: 0 };
  const gens = labNftGenerations();
  try {
    // What `lab up` (or the first change, syncing whole) leaves: the table, and the record of its counts.
    const model = buildProxyModel(prev, node);
    const netns = names.node(node);
    const l0 = performance.now();
    await apply(
      [{ title: 'load', ops: [{ kind: 'nft.tx', netns, tx: planNftFull(model), note: 'load' }] }],
      runner,
    );
    log(`lab path ${n}: table loaded in ${fmtMs(performance.now() - l0)}`);
    if (!gens) throw new Error('no netlink addon: the lab path needs the nftables generation id');
    keepProxyUses(state, { [node]: { genid: gens.read(names.nodeNs(node)), uses: proxyUsesOf(model) } });
    for (let i = 1; i <= 30; i++) {
      // The edit as the one-shot CLI loads it: the spec before and after (parsed, outside the figure).
      const services = prev.services.slice();
      services[0] = service(0, i);
      const next: Cluster = { ...prev, services };
      // Resolving the spec indexes its Services by key (allocateClusterIPs), O(n), outside the figure too.
      const x0 = performance.now();
      servicesByKey(services);
      out.index.push(performance.now() - x0);
      const t0 = performance.now();
      const records: ProxyUsesRecords = takeProxyUses(state);
      const change = new LabProxyChange(prev, next, { services: ['default/s000000'] }, names, records);
      const s0 = performance.now();
      let kept: ProxyUsesRecords;
      try {
        const r = await change.sync(runner, [node]);
        out.whole += r.whole.length;
        kept = change.finish([]);
      } finally {
        change.close();
      }
      out.sync.push(performance.now() - s0);
      keepProxyUses(state, kept);
      out.total.push(performance.now() - t0);
      prev = next;
    }
  } finally {
    gens?.close();
    runner.close();
    rmSync(dir, { recursive: true, force: true });
  }
  log(
    `lab path ${n}: one endpoint change ${median(out.total).toFixed(2)} ms (proxy sync ${median(out.sync).toFixed(2)} ms), ${out.whole} whole sync(s); the spec's key index ${median(out.index).toFixed(2)} ms, outside`,
  );
  return out;
}

/** The lab path's table, for the sizes that ran it. */
export function printLabChanges(rows: readonly { n: number; lab?: LabChanges }[]): void {
  const withLab = rows.filter((r) => r.lab?.total.length);
  if (!withLab.length) return;
  console.log(
    '\none endpoint change end to end as the lab makes it (lab service add -f: record taken, generation checked, the touched Service built from the spec before and after, planned, sent, record kept), medians; parsing and resolving the spec first are not included (of resolving: the index of its Services by key, shown)',
  );
  console.log(
    table(
      ['N', 'total', 'proxy sync', 'whole syncs', 'key index (outside)'],
      withLab.map((r) => [
        String(r.n),
        `${median(r.lab!.total).toFixed(2)} ms`,
        `${median(r.lab!.sync).toFixed(2)} ms`,
        String(r.lab!.whole),
        `${median(r.lab!.index).toFixed(2)} ms`,
      ]),
    ),
  );
}
