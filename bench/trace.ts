import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec } from '../src/exec/process-runner.js';
import { fmtMs, median, percentile, table } from './stats.js';

/**
 * `npm run bench -- trace [RUNS]`: the wall time of `podnet lab trace c default/web:http` (a healthy
 * cross-node ClusterIP path over VXLAN, observed in every namespace), against the same CLI sending the same
 * probe unobserved (`--no-observe`: Node start, lab load, one probe). Target: median ≤ 2 s.
 */
const CLI = fileURLToPath(new URL('../../bin/podnet.js', import.meta.url));

const SPEC = `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: bench}
spec:
  crossNode: vxlan
  nodes:
    - {name: node-0, ip: 192.168.64.4}
    - {name: node-1, ip: 192.168.64.5}
    - {name: node-2, ip: 192.168.64.6}
  pods:
    - {name: a0, node: node-0, labels: {app: web}}
    - {name: a1, node: node-0, labels: {app: client}}
    - {name: b, node: node-1, labels: {app: web}}
    - {name: c, node: node-2, labels: {app: client}}
  services:
    - metadata: {name: web}
      spec: {clusterIP: 10.96.0.2, selector: {app: web}, ports: [{name: http, port: 8080}]}
`;

export async function benchTrace(args: string[]): Promise<void> {
  const runs = Number(args[0] ?? 10);
  const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-trace-'));
  const env = { PODNET_STATE_DIR: dir };
  const lab = `bt${(process.pid % 100000).toString(36)}`;
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, SPEC);
  const podnet = (...a: string[]) => exec(['node', CLI, ...a, '--name', lab], undefined, env);
  const up = await podnet('lab', 'up', '-f', file);
  if (up.exitCode !== 0) throw new Error(`lab up failed: ${up.stderr}`);
  const traced: number[] = [];
  const plain: number[] = [];
  const inner: number[] = [];
  try {
    await podnet('lab', 'trace', 'c', 'default/web:http'); // warm the page cache
    for (let i = 0; i < runs; i++) {
      let t0 = performance.now();
      const r = await podnet('lab', 'trace', 'c', 'default/web:http', '--json');
      traced.push(performance.now() - t0);
      const rep = JSON.parse(r.stdout) as { probe: { verdict: string }; ms: number; findings: string[] };
      if (rep.probe.verdict !== 'answered' || rep.findings.length)
        throw new Error(`trace ${i}: ${rep.probe.verdict} ${rep.findings.join('; ')}`);
      inner.push(rep.ms);
      t0 = performance.now();
      await podnet('lab', 'trace', 'c', 'default/web:http', '--no-observe');
      plain.push(performance.now() - t0);
    }
  } finally {
    await podnet('lab', 'down');
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (what: string, xs: number[]) => [
    what,
    fmtMs(median(xs)),
    fmtMs(percentile(xs, 90)),
    fmtMs(Math.min(...xs)),
  ];
  console.log(
    `podnet lab trace c default/web:http (vxlan, 3 nodes), ${runs} runs, wall time of the CLI process`,
  );
  console.log(
    table(
      ['what', 'median', 'p90', 'min'],
      [
        row('lab trace (observed: tables, monitors, conntrack, probe, hops)', traced),
        row('  of which inside traceLab', inner),
        row('lab trace --no-observe (reference: the same probe, unobserved)', plain),
      ],
    ),
  );
  console.log(
    `target: median ≤ 2 s — ${median(traced) <= 2000 ? 'met' : 'missed'}; ratio to the unobserved probe ${(median(traced) / median(plain)).toFixed(2)}×`,
  );
}
