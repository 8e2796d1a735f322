import { spawn } from 'node:child_process';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { CommandError } from '../errors.js';
import type { NetfilterSender } from './netlink/nft-batch.js';
import { type Command, type CommandResult, type DirectForm, type Runner, resolveArgs } from './runner.js';
import { Spawner, type SpawnRequest } from './spawner.js';

export interface ProcessRunnerOptions {
  /**
   * Called with every daemon's PID (and its start time when the spawner read it) as soon as it exists, so a
   * crash right after still leaves a record.
   */
  readonly onDaemon?: (pid: number, cmd: Command, start?: string) => void;
  /** Print each command and its duration on stderr. */
  readonly verbose?: boolean;
  /** Extra environment for every command. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Start commands through the spawner helper (assets/spawner.py) instead of forking Node itself: several
   * times cheaper per process, for callers that start hundreds (the lab). Call close() when done.
   */
  readonly spawner?: boolean;
  /**
   * With the spawner, start commands that have a DirectForm that way (fewer processes, runner.ts); default
   * true. False runs every command as printed (benchmarks compare the two).
   */
  readonly direct?: boolean;
  /**
   * Send nftables transactions that carry their netlink form (`cmd.netfilter`) from this process instead of
   * running `nft -f` (exec/netlink/nft-batch.ts); what it cannot encode still runs as the command.
   */
  readonly netfilter?: NetfilterSender;
}

/**
 * The only place podnet spawns processes. argv arrays only: no shell, ever. A non-zero exit throws
 * CommandError. Holds the run-time variables (such as pause PIDs) that later commands refer to.
 */
export class ProcessRunner implements Runner {
  readonly vars = new Map<string, string>();
  private readonly spawner: Spawner | undefined;

  constructor(private readonly options: ProcessRunnerOptions = {}) {
    this.spawner = options.spawner ? new Spawner() : undefined;
  }

  async run(cmd: Command): Promise<CommandResult> {
    const started = performance.now();
    if (cmd.netfilter && this.options.netfilter?.send(cmd.netfilter)) {
      if (this.options.verbose)
        process.stderr.write(
          `$ ${cmd.argv.join(' ')} <<stdin  (ok, as one netlink batch, ${(performance.now() - started).toFixed(1)} ms)\n`,
        );
      return { stdout: '', stderr: '', exitCode: 0 };
    }
    const argv = resolveArgs(cmd.argv, this.vars);
    let result: CommandResult;
    if (this.spawner) {
      const env = this.options.env ? { ...process.env, ...this.options.env } : undefined;
      result = await this.spawner.run({
        argv,
        ...(cmd.direct && this.options.direct !== false ? directRequest(cmd.direct, this.vars) : {}),
        ...(cmd.stdin !== undefined ? { stdin: cmd.stdin } : {}),
        ...(cmd.daemon ? { daemon: { log: cmd.daemon.log } } : {}),
        ...(env ? { env } : {}),
      });
      if (cmd.daemon && result.pid !== undefined) {
        this.options.onDaemon?.(result.pid, cmd, result.start);
        if (cmd.daemon.newNetns) result = await leftOurNetns(result, argv);
        if (cmd.daemon.pidVar && result.exitCode === 0) this.vars.set(cmd.daemon.pidVar, String(result.pid));
      }
    } else {
      result = cmd.daemon ? this.startDaemon(argv, cmd) : await exec(argv, cmd.stdin, this.options.env);
      if (cmd.daemon?.newNetns && result.exitCode === 0) {
        result = await leftOurNetns(result, argv);
        if (cmd.daemon.pidVar && result.exitCode === 0) this.vars.set(cmd.daemon.pidVar, String(result.pid));
      }
    }
    if (this.options.verbose) {
      const ms = (performance.now() - started).toFixed(1);
      process.stderr.write(
        `$ ${argv.join(' ')}${cmd.stdin ? ' <<stdin' : ''}${this.spawner && cmd.direct && this.options.direct !== false ? ' [direct form]' : ''}  (${result.exitCode === 0 ? 'ok' : `exit ${result.exitCode}`}, ${ms} ms)\n`,
      );
    }
    if (result.exitCode !== 0) throw new CommandError(argv, result.exitCode, result.stderr, cmd.stdin);
    return result;
  }

  /** Starts the spawner helper ahead of the first command (a no-op without one). */
  warm(): void {
    this.spawner?.warm();
  }

  /** Releases the spawner helper, if any. */
  close(): void {
    this.spawner?.close();
  }

  private startDaemon(argv: string[], cmd: Command): CommandResult {
    const log = openSync(cmd.daemon!.log, 'a');
    try {
      const child = spawn(argv[0]!, argv.slice(1), {
        detached: true,
        stdio: ['ignore', log, log],
        env: { ...process.env, ...this.options.env },
      });
      if (child.pid === undefined) {
        return { stdout: '', stderr: `could not start ${argv[0]}`, exitCode: 127 };
      }
      child.on('error', () => {});
      child.unref();
      this.options.onDaemon?.(child.pid, cmd);
      if (cmd.daemon!.pidVar && !cmd.daemon!.newNetns) this.vars.set(cmd.daemon!.pidVar, String(child.pid));
      return { stdout: '', stderr: '', exitCode: 0, pid: child.pid };
    } finally {
      closeSync(log);
    }
  }
}

/** The spawner's part of a DirectForm, its arguments resolved (the pause PID). */
function directRequest(
  d: DirectForm,
  vars: ReadonlyMap<string, string>,
): Partial<Pick<SpawnRequest, 'argv' | 'pidNs' | 'enter' | 'hostname'>> {
  if ('hostname' in d) {
    const [uts] = resolveArgs([d.hostname.uts], vars);
    return { hostname: { uts: uts!, name: d.hostname.name } };
  }
  const [pidNs] = d.pidNs === 'new' ? ['new'] : resolveArgs([d.pidNs], vars);
  const enter = d.enter && { pid: resolveArgs([d.enter.pid], vars)[0]!, ns: d.enter.ns };
  return { argv: resolveArgs(d.argv, vars), pidNs: pidNs!, ...(enter ? { enter } : {}) };
}

/**
 * Waits (up to 5 s) until a just-started daemon is in a network namespace other than ours: unshare(2) runs a
 * moment after exec. Fails, rather than let a later step name our own namespace as the pod's.
 */
async function leftOurNetns(result: CommandResult, argv: readonly string[]): Promise<CommandResult> {
  const ours = readlinkSync('/proc/self/ns/net');
  const deadline = Date.now() + 5000;
  for (;;) {
    let theirs: string | undefined;
    try {
      theirs = readlinkSync(`/proc/${result.pid}/ns/net`);
    } catch {
      return {
        ...result,
        exitCode: 1,
        stderr: `${argv[0]} (pid ${result.pid}) exited before creating its namespaces`,
      };
    }
    if (theirs !== ours) return result;
    if (Date.now() > deadline)
      return {
        ...result,
        exitCode: 1,
        stderr: `${argv[0]} (pid ${result.pid}) did not leave the host network namespace within 5 s`,
      };
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Runs argv to completion and collects its output. Never throws for a non-zero exit. */
export function exec(
  argv: readonly string[],
  stdin?: string,
  env?: NodeJS.ProcessEnv,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: env ? { ...process.env, ...env } : process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e: NodeJS.ErrnoException) => {
      resolve({
        stdout: '',
        stderr: `${argv[0]}: ${e.code === 'ENOENT' ? 'command not found' : e.message}`,
        exitCode: 127,
      });
    });
    child.on('close', (code, signal) => {
      resolve({
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        exitCode: code ?? (signal ? 128 : 1),
      });
    });
    if (stdin !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(stdin);
    }
  });
}

/**
 * A long-lived child speaking one JSON line per request and one per answer (assets/nft-session.py: a
 * libnftables context inside a node's namespace). For the paths where starting a process per change would
 * cost more than the change itself. Requests are serialized; `close()` ends the child.
 */
export class LineSession {
  private readonly child: ReturnType<typeof spawn>;
  private buffered = '';
  private waiting: ((line: string) => void)[] = [];
  private lines: string[] = [];
  private chain: Promise<unknown> = Promise.resolve();

  constructor(argv: readonly string[]) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.buffered += d;
      for (let i = this.buffered.indexOf('\n'); i >= 0; i = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, i);
        this.buffered = this.buffered.slice(i + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    this.child.on('error', () => {});
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The next line the child prints (e.g. its ready line). */
  readLine(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Sends one request line and resolves with the answer line. */
  request(line: string): Promise<string> {
    const next = this.chain.then(() => {
      this.child.stdin!.write(`${line}\n`);
      return this.readLine();
    });
    this.chain = next.catch(() => {});
    return next;
  }

  close(): void {
    this.child.stdin!.end();
    this.child.kill('SIGKILL');
  }
}

export { isAlreadyExists, isNotFound, isNothingToDelete } from './kernel-answers.js';
