import { apply } from '../apply/apply.js';
import { PrintRunner } from '../exec/print-runner.js';
import { loadLab } from './load.js';
import { LabNames } from './names.js';
import { CountingRunner, driftLines, labDrift, type NodeDriftReport, repairOps } from './node-sync.js';
import { requireRoot } from './preflight.js';
import { hostRunner } from './runners.js';

export interface ReconcileResult {
  readonly lab: string;
  /** The differences found, one line each ("node-1: route … missing"); empty when every node was in sync. */
  readonly drift: readonly string[];
  /** The repair as a script, each command under its explanation (the `explain` format). */
  readonly script: string;
  /** Commands run that change the kernel (observe's reads not counted); 0 for a dry run or a healthy lab. */
  readonly commands: number;
  readonly dryRun: boolean;
  readonly ms: number;
}

/**
 * `podnet lab reconcile`: observes every node, diffs it against its model and applies exactly the repair
 * (with `dryRun`, only prints it). Objects podnet does not own are never read as podnet's, so never touched.
 */
export async function labReconcile(
  lab: string,
  opts: { dryRun?: boolean; verbose?: boolean } = {},
): Promise<ReconcileResult> {
  requireRoot('podnet lab reconcile');
  const started = performance.now();
  const { cluster } = loadLab(lab);
  const names = new LabNames(lab);
  const runner = new CountingRunner(hostRunner(opts.verbose ?? false));
  const report: NodeDriftReport[] = await labDrift(cluster, names, runner);
  const ops = repairOps(report);
  const printer = new PrintRunner();
  await apply([{ title: 'repair', ops }], printer);
  runner.changes = 0;
  if (!opts.dryRun && ops.length) await apply([{ title: 'repair', ops }], runner, { batch: true });
  return {
    lab,
    drift: driftLines(report),
    script: ops.length ? printer.script() : '',
    commands: runner.changes,
    dryRun: opts.dryRun ?? false,
    ms: performance.now() - started,
  };
}
