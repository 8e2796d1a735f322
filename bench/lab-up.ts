import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { exec } from '../src/exec/process-runner.js';
import { labDown } from '../src/lab/down.js';
import { loadSpec } from '../src/lab/spec-source.js';
import { LabState } from '../src/lab/state.js';
import { explainUp, labUp } from '../src/lab/up.js';
import { resolveCluster } from '../src/model/resolve.js';
import { fmtMs, median, table } from './stats.js';

/** A cluster file with `nodes` nodes and `pods` identity pods on each. */
export function gridSpec(nodes: number, pods: number): string {
  const lines = [
    'apiVersion: podnet.dev/v1alpha1',
    'kind: Cluster',
    'metadata: {name: grid}',
    'spec:',
    '  nodes:',
  ];
  for (let n = 0; n < nodes; n++) lines.push(`    - {name: n${n}, ip: 192.168.64.${10 + n}}`);
  lines.push('  pods:');
  for (let n = 0; n < nodes; n++)
    for (let p = 0; p < pods; p++) lines.push(`    - {name: n${n}-p${p}, node: n${n}}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The kernel frees deleted namespaces asynchronously, and that work stalls the next `ip netns add` for up to a
 * second: let it finish before each timed run, so neither side pays for the previous run's teardown.
 */
const settle = () => new Promise((r) => setTimeout(r, 1500));

async function timeUp(lab: string, text: string | undefined): Promise<number> {
  const spec = loadSpec(text, 'bench');
  await labDown(lab);
  await settle();
  const t0 = performance.now();
  await labUp({ lab, spec, ...(text ? { specText: text } : {}), source: 'bench' });
  const ms = performance.now() - t0;
  await labDown(lab);
  return ms;
}

/** The same commands, one process per command, from the dry-run script: the seed's way, by hand. */
async function timeScript(lab: string, text: string | undefined): Promise<number> {
  const script = await explainUp(resolveCluster(loadSpec(text, 'bench')), lab);
  await labDown(lab);
  const state = new LabState(lab);
  mkdirSync(state.path('logs'), { recursive: true });
  await settle();
  const t0 = performance.now();
  const host = hostname();
  const r = await exec(['bash', '-e', '-s'], script);
  const ms = performance.now() - t0;
  // The script must change nothing outside the lab's namespaces (it waits for unshare before naming them).
  if (hostname() !== host)
    throw new Error(`the dry-run script changed the host's hostname from '${host}' to '${hostname()}'`);
  await labDown(lab);
  if (r.exitCode !== 0) throw new Error(`dry-run script failed: ${r.stderr}`);
  return ms;
}

/**
 * `npm run bench -- lab-up [runs]`: podnet's lab up (batched `ip -batch`, concurrent namespaces) beside the
 * same commands run one process per command from its own dry-run script, for the default lab and 10×20.
 */
export async function benchLabUp(args: string[]): Promise<void> {
  const runs = Number(args[0] ?? 5);
  const lab = 'benchup';
  const cases: { name: string; text: string | undefined; runs: number }[] = [
    { name: 'default (3 nodes, 4 pods)', text: undefined, runs },
    { name: '10 nodes x 20 pods', text: gridSpec(10, 20), runs: Math.max(3, Math.ceil(runs / 2)) },
  ];
  const rows: string[][] = [];
  for (const c of cases) {
    const podnet: number[] = [];
    const script: number[] = [];
    for (let i = 0; i < c.runs; i++) {
      // Interleave the two so drift on the shared machine hits both alike.
      podnet.push(await timeUp(lab, c.text));
      script.push(await timeScript(lab, c.text));
    }
    const p = median(podnet);
    const s = median(script);
    rows.push([
      c.name,
      fmtMs(p),
      fmtMs(s),
      (p / s).toFixed(2),
      `${c.runs}`,
      podnet.map((x) => x.toFixed(0)).join(' '),
    ]);
    console.error(`${c.name}: podnet ${fmtMs(p)}, script ${fmtMs(s)}`);
  }
  console.log(
    table(
      ['lab up', 'podnet (median)', 'one process per command (median)', 'ratio', 'runs', 'podnet runs (ms)'],
      rows,
    ),
  );
  console.log('targets: default <= 0.5 s; 10x20 <= 5 s and ratio <= 0.5');
}
