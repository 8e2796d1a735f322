import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { CommandError } from '../errors.js';
import { type Command, type CommandResult, type Runner, resolveArgs } from './runner.js';

export interface ProcessRunnerOptions {
  /** Called with every daemon's PID as soon as it exists, so a crash right after still leaves a record. */
  readonly onDaemon?: (pid: number, cmd: Command) => void;
  /** Print each command and its duration on stderr. */
  readonly verbose?: boolean;
  /** Extra environment for every command. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The only place podnet spawns processes. argv arrays only: no shell, ever. A non-zero exit throws
 * CommandError. Holds the run-time variables (such as pause PIDs) that later commands refer to.
 */
export class ProcessRunner implements Runner {
  readonly vars = new Map<string, string>();

  constructor(private readonly options: ProcessRunnerOptions = {}) {}

  async run(cmd: Command): Promise<CommandResult> {
    const argv = resolveArgs(cmd.argv, this.vars);
    const started = performance.now();
    const result = cmd.daemon ? this.startDaemon(argv, cmd) : await exec(argv, cmd.stdin, this.options.env);
    if (this.options.verbose) {
      const ms = (performance.now() - started).toFixed(1);
      process.stderr.write(
        `$ ${argv.join(' ')}${cmd.stdin ? ' <<stdin' : ''}  (${result.exitCode === 0 ? 'ok' : `exit ${result.exitCode}`}, ${ms} ms)\n`,
      );
    }
    if (result.exitCode !== 0) throw new CommandError(argv, result.exitCode, result.stderr, cmd.stdin);
    return result;
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
      if (cmd.daemon!.pidVar) this.vars.set(cmd.daemon!.pidVar, String(child.pid));
      this.options.onDaemon?.(child.pid, cmd);
      return { stdout: '', stderr: '', exitCode: 0, pid: child.pid };
    } finally {
      closeSync(log);
    }
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

/** Kernel answers classified once, here, so no other module matches on error text. */
export function isNotFound(err: unknown): boolean {
  return (
    err instanceof CommandError &&
    /Cannot find device|No such file or directory|does not exist|No such process|not found/i.test(err.stderr)
  );
}

export function isAlreadyExists(err: unknown): boolean {
  return err instanceof CommandError && /File exists|already exists/i.test(err.stderr);
}
