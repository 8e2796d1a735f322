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

/** Per-phase wall times and per-op-kind step times of one `lab up`. */
interface Profile {
  readonly phases: Map<string, number>;
  readonly kinds: Map<string, number>;
}

/**
 * The two ways `lab up` can run: today's (per-namespace work over netlink, pods started through the spawner's
 * direct forms) and the earlier one (every op its `ip` command, in `ip -batch` groups; pod processes as printed).
 */
const WAYS = {
  podnet: { PODNET_LAB_NETLINK: '1', PODNET_SPAWNER_DIRECT: '1' },
  'ip processes': { PODNET_LAB_NETLINK: '0', PODNET_SPAWNER_DIRECT: '0' },
} as const;
type Way = keyof typeof WAYS;

async function timeUp(lab: string, text: string | undefined, way: Way): Promise<[number, Profile]> {
  const spec = loadSpec(text, 'bench');
  await labDown(lab);
  await settle();
  Object.assign(process.env, WAYS[way]);
  const profile: Profile = { phases: new Map(), kinds: new Map() };
  const t0 = performance.now();
  await labUp({
    lab,
    spec,
    ...(text ? { specText: text } : {}),
    source: 'bench',
    onPhase: (title, ms) => profile.phases.set(title, ms),
    onStep: (kinds, ms) => {
      // A batch's time is shared among its ops.
      for (const k of kinds) profile.kinds.set(k, (profile.kinds.get(k) ?? 0) + ms / kinds.length);
    },
  });
  const ms = performance.now() - t0;
  await labDown(lab);
  return [ms, profile];
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
 * `npm run bench -- lab-up [runs] [--lab=NAME] [--grid] [--podnet]`: podnet's lab up (netlink in-process, pods through the spawner's direct forms,
 * concurrent namespaces) beside its earlier way (`ip -batch` processes, pods as printed) and the same commands
 * run one process per command from its own dry-run script, for the default lab and 10×20, interleaved; then
 * where the time goes, per phase and per op kind.
 */
export async function benchLabUp(args: string[]): Promise<void> {
  const flags = args.filter((a) => a.startsWith('--'));
  const runs = Number(args.find((a) => !a.startsWith('--')) ?? 5);
  // --lab=NAME: the lab's name (its namespaces' prefix), so benches of several worktrees never meet.
  const lab = flags.find((f) => f.startsWith('--lab='))?.slice('--lab='.length) ?? 'benchup';
  // --grid: only 10x20; --podnet: only podnet's own way (profiling; no ratio to the script).
  const only = { grid: flags.includes('--grid'), podnet: flags.includes('--podnet') };
  const cases: { name: string; text: string | undefined; runs: number }[] = [
    ...(only.grid ? [] : [{ name: 'default (3 nodes, 4 pods)', text: undefined, runs }]),
    { name: '10 nodes x 20 pods', text: gridSpec(10, 20), runs: Math.max(3, Math.ceil(runs / 2)) },
  ];
  const rows: string[][] = [];
  const profiles: string[] = [];
  for (const c of cases) {
    const times: Record<Way | 'script', number[]> = { podnet: [], 'ip processes': [], script: [] };
    const prof: Record<Way, Profile[]> = { podnet: [], 'ip processes': [] };
    for (let i = 0; i < c.runs; i++) {
      // Interleave the three so drift on the shared machine hits all alike.
      for (const way of Object.keys(WAYS) as Way[]) {
        if (only.podnet && way !== 'podnet') continue;
        const [ms, p] = await timeUp(lab, c.text, way);
        times[way].push(ms);
        prof[way].push(p);
      }
      if (!only.podnet) times.script.push(await timeScript(lab, c.text));
    }
    const p = median(times.podnet);
    const old = median(times['ip processes']);
    const s = median(times.script);
    rows.push([
      c.name,
      fmtMs(p),
      fmtMs(old),
      fmtMs(s),
      (p / s).toFixed(2),
      `${c.runs}`,
      times.podnet.map((x) => x.toFixed(0)).join(' '),
    ]);
    console.error(`${c.name}: podnet ${fmtMs(p)}, ip processes ${fmtMs(old)}, script ${fmtMs(s)}`);
    profiles.push(`\n${c.name}: per phase (wall, median)\n${profileTable(prof, 'phases')}`);
    profiles.push(
      `\n${c.name}: per op kind (sum of step wall times, median; steps of different namespaces overlap)\n${profileTable(prof, 'kinds')}`,
    );
  }
  console.log(
    table(
      [
        'lab up',
        'podnet (median)',
        'podnet, ip processes (median)',
        'one process per command (median)',
        'podnet/script',
        'runs',
        'podnet runs (ms)',
      ],
      rows,
    ),
  );
  for (const t of profiles) console.log(t);
  console.log('\ntargets: default <= 250 ms; 10x20 <= 3.5 s; podnet/script <= 0.5');
}

function profileTable(prof: Record<Way, Profile[]>, what: keyof Profile): string {
  const keys = [...new Set(Object.values(prof).flatMap((ps) => ps.flatMap((p) => [...p[what].keys()])))];
  const med = (way: Way, k: string) => median(prof[way].map((p) => p[what].get(k) ?? 0));
  return table(
    [what === 'phases' ? 'phase' : 'op kind', ...(Object.keys(WAYS) as Way[])],
    keys.map((k) => [k, ...(Object.keys(WAYS) as Way[]).map((w) => fmtMs(med(w, k)))]),
  );
}
