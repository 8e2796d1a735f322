import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ApplyError, CommandError } from '../errors.js';
import { isFlowGone, isNothingToDelete } from '../exec/kernel-answers.js';
import { type Arg, type Command, isVarRef, type Runner, resolveArgs } from '../exec/runner.js';
import { quote } from '../exec/shell-quote.js';
import type { Op, Plan } from '../plan/ops.js';
import { render } from '../render/index.js';

export interface ApplyOptions {
  /**
   * Group consecutive `ip` commands for one namespace into a single `ip -batch -` process (and run
   * independent namespaces of a phase concurrently). Off for printing, where each command is shown.
   */
  readonly batch?: boolean;
  /** How many namespaces of one phase are worked on at once when batching. */
  readonly concurrency?: number;
  /** Run-time variables (pause PIDs) the runner knows, for building batch input. */
  readonly vars?: ReadonlyMap<string, string>;
  /**
   * Takes the ops it speaks in this process, in their place in their lane (apply/netlink.ts `NetlinkApplier`:
   * rtnetlink messages equal to what the rendered `ip` command sends); every other op runs as its command.
   */
  readonly inProcess?: InProcessApplier;
  /**
   * Called after each step when batching (profiling): the kinds of the ops it did (several for an `ip -batch`)
   * and its wall time; steps of different lanes overlap.
   */
  readonly onStep?: (kinds: readonly Op['kind'][], ms: number) => void;
  /** Called after each phase completes. */
  readonly onPhase?: (title: string, ms: number) => void;
}

/** An applier that does some ops without a process (NetlinkApplier). */
export interface InProcessApplier {
  /** Whether applyOp takes this op (pure). */
  speaks(op: Op): boolean;
  /** Applies the op; throws the kernel's refusal. */
  applyOp(op: Op): boolean;
}

interface Step {
  readonly op: Op;
  readonly cmd: Command;
  readonly index: number;
}

/**
 * Runs a plan phase by phase and stops at the first failure, throwing ApplyError that names the op.
 * Without batching every op is one command, in order (this is what --dry-run prints).
 */
export async function apply(plan: Plan, runner: Runner, options: ApplyOptions = {}): Promise<void> {
  const total = plan.reduce((n, p) => n + p.ops.length, 0);
  let index = 0;
  const phases = plan.map((phase) => ({
    phase,
    steps: phase.ops.map((op): Step => ({ op, cmd: render(op), index: index++ })),
  }));
  if (!options.batch) {
    for (const { phase, steps } of phases) {
      const started = performance.now();
      for (const s of steps) await runStep(s, runner, total);
      options.onPhase?.(phase.title, performance.now() - started);
    }
    return;
  }
  // Each phase starts once the phases it needs are done (Phase.after; by default all before it), so a phase
  // that needs nothing of its predecessors (the pods' pause processes) runs beside them. On a failure the
  // phases already running finish, and the first error is thrown.
  plan.forEach((phase, i) => {
    for (const t of phase.after ?? [])
      if (!plan.slice(0, i).some((p) => p.title === t))
        throw new Error(`internal: phase '${phase.title}' needs '${t}', which is not before it`);
  });
  const done = new Map<string, Promise<void>>();
  const started: Promise<void>[] = [];
  let firstError: unknown;
  for (const { phase, steps } of phases) {
    const needs = phase.after ? phase.after.map((t) => done.get(t)!) : [...started];
    const run = Promise.all(needs).then(async () => {
      const t0 = performance.now();
      const lanes = new Map<string, Step[]>();
      for (const s of steps) {
        const key = laneOf(s.op);
        const lane = lanes.get(key);
        if (lane) lane.push(s);
        else lanes.set(key, [s]);
      }
      await pool([...lanes.values()], options.concurrency ?? 8, (lane) =>
        runLane(lane, runner, total, options),
      );
      options.onPhase?.(phase.title, performance.now() - t0);
    });
    run.catch((e) => {
      firstError ??= e;
    });
    done.set(phase.title, run);
    started.push(run);
  }
  await Promise.allSettled(started);
  if (firstError !== undefined) throw firstError;
}

/** Ops in one lane must keep their order; different lanes of a phase are independent. */
function laneOf(op: Op): string {
  if ('netns' in op)
    return op.netns.kind === 'host' ? 'host' : op.netns.kind === 'named' ? op.netns.name : op.netns.path;
  if (op.kind === 'netns.add' || op.kind === 'netns.attach' || op.kind === 'netns.del') return '#netns';
  if ('pid' in op) return `#pid:${op.pid}`;
  if (op.kind === 'file.write') return `#file:${op.path}`;
  return '#other';
}

async function runStep(s: Step, runner: Runner, total: number, native = false): Promise<void> {
  try {
    if (native && s.op.kind === 'file.write') {
      // Not a kernel change: when really applying, write the file directly instead of spawning tee.
      mkdirSync(dirname(s.op.path), { recursive: true });
      writeFileSync(s.op.path, s.op.content);
      return;
    }
    await runOp(s.op, s.cmd, runner);
  } catch (err) {
    const e = applyError(s.op, s.index, total, err);
    if (e) throw e;
  }
}

/**
 * `conntrack -R` stops at the first flow that ended between its dump and its delete (ENOENT): run the file again,
 * so the flows after that one are cut too (seen in the policy e2e under load).
 */
export async function runOp(op: Op, cmd: Command, runner: Runner): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await runner.run(cmd);
      return;
    } catch (err) {
      if (op.kind !== 'conntrack.delete-flows' || !isFlowGone(err) || attempt >= 5) throw err;
    }
  }
}

/**
 * The one error rule of every applier (this one and apply/netlink.ts): a failed op stops the plan with an
 * ApplyError naming it, except a delete whose object is already gone where the op only wants it gone
 * (`conntrack -D` that found no flow). Returns undefined when the failure is not one.
 */
export function applyError(op: Op, index: number, total: number, err: unknown): ApplyError | undefined {
  if (op.kind === 'conntrack.delete' && isNothingToDelete(err)) return undefined;
  return new ApplyError(describe(op), index, total, { cause: err });
}

/** The argv prefix that selects the namespace of an `ip` command, and the rest; undefined if not batchable. */
function ipSplit(cmd: Command): { prefix: string[]; rest: Arg[] } | undefined {
  if (cmd.daemon || cmd.stdin !== undefined) return undefined;
  const a = cmd.argv;
  let at: number;
  if (a[0] === 'ip' && a[1] === '-n') at = 3;
  else if (a[0] === 'ip') at = 1;
  // iproute2's `bridge` takes -batch too (FDB entries of VXLAN devices): batched on its own, never mixed with ip.
  else if (a[0] === 'bridge' && a[1] === '-n') at = 3;
  else if (a[0] === 'nsenter' && a[2] === 'ip' && typeof a[1] === 'string' && a[1].startsWith('--net='))
    at = 3;
  else return undefined;
  if (a[at] === 'netns' && a[at + 1] === 'exec') return undefined;
  const prefix = a.slice(0, at);
  if (prefix.some(isVarRef)) return undefined;
  return { prefix: prefix as string[], rest: a.slice(at) };
}

async function runLane(lane: Step[], runner: Runner, total: number, options: ApplyOptions) {
  const { vars, inProcess, onStep } = options;
  let i = 0;
  while (i < lane.length) {
    const step = lane[i]!;
    const t0 = onStep ? performance.now() : 0;
    if (inProcess?.speaks(step.op)) {
      try {
        inProcess.applyOp(step.op);
      } catch (err) {
        const e = applyError(step.op, step.index, total, err);
        if (e) throw e;
      }
      onStep?.([step.op.kind], performance.now() - t0);
      i++;
      continue;
    }
    const first = ipSplit(step.cmd);
    let j = i + 1;
    if (first) {
      while (j < lane.length && !inProcess?.speaks(lane[j]!.op)) {
        const next = ipSplit(lane[j]!.cmd);
        if (!next || next.prefix.join('\0') !== first.prefix.join('\0')) break;
        j++;
      }
    }
    if (!first || j - i === 1) {
      await runStep(lane[i]!, runner, total, true);
      onStep?.([step.op.kind], performance.now() - t0);
      i++;
      continue;
    }
    const group = lane.slice(i, j);
    const lines = group.map((s) =>
      resolveArgs(ipSplit(s.cmd)!.rest, vars ?? new Map())
        .map(quote)
        .join(' '),
    );
    const batch: Command = {
      argv: [...(first.prefix as [string, ...string[]]), '-batch', '-'],
      stdin: `${lines.join('\n')}\n`,
    };
    try {
      await runner.run(batch);
      onStep?.(
        group.map((s) => s.op.kind),
        performance.now() - t0,
      );
    } catch (err) {
      // ip -batch reports "Command failed -:N" for the first failing line; blame that op.
      const m = err instanceof CommandError ? /Command failed -:(\d+)/.exec(err.stderr) : null;
      const failed = group[m ? Math.min(Number(m[1]) - 1, group.length - 1) : 0]!;
      throw new ApplyError(describe(failed.op), failed.index, total, { cause: err });
    }
    i = j;
  }
}

/** A short human description of an op, for error messages. */
export function describe(op: Op): string {
  const where =
    'netns' in op
      ? ` in ${op.netns.kind === 'named' ? op.netns.name : op.netns.kind === 'path' ? op.netns.path : 'host'}`
      : '';
  const what = 'name' in op ? ` ${op.name}` : 'dev' in op ? ` ${op.dev}` : 'pod' in op ? ` ${op.pod}` : '';
  return `${op.kind}${what}${where}${op.note ? `: ${op.note}` : ''}`;
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < items.length && firstError === undefined) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        firstError ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== undefined) throw firstError;
}
