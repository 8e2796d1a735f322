import { type ChildProcess, spawn } from 'node:child_process';
import { CommandError } from '../errors.js';
import type { CommandResult } from './runner.js';

// A line iproute2 cannot parse: it always fails, and its "Command failed -:N" on stderr marks a request's end.
const SENTINEL = 'podnet-end-of-request';

/**
 * A long-lived `ip -force -batch -` (or `bridge …`) process, for the node agent: one batch of lines per
 * request, without starting a process (a fork of the agent and an exec of ip, tens of ms each on a busy
 * node, on the path of every peer's join). iproute2 numbers batch lines from 1 over the whole session and
 * reports each failing one on stderr as "Command failed -:N"; each request ends with a line that fails on
 * purpose, whose report says the request is done. Failures come back as the one-shot `-batch` would report
 * them (line numbers of the request); with -force the lines after a failing one still run (the agent then
 * reads the kernel again at its next sync).
 */
export class BatchSession {
  private readonly child: ChildProcess;
  private lines = 0;
  private stderr = '';
  private waiting: { end: number; done: (stderr: string) => void; fail: (e: Error) => void } | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private dead: Error | undefined;

  constructor(readonly tool: 'ip' | 'bridge') {
    this.child = spawn(tool, ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (d: string) => {
      this.stderr += d;
      this.check();
    });
    const gone = (e: Error) => {
      this.dead ??= e;
      this.waiting?.fail(this.dead);
      this.waiting = undefined;
    };
    this.child.on('error', gone);
    this.child.on('exit', (code) => gone(new Error(`${tool} -batch session exited (${code})`)));
    this.child.stdin!.on('error', gone);
  }

  /** Whether requests still go through (false once the process is gone: callers start processes again). */
  get alive(): boolean {
    return this.dead === undefined;
  }

  /** Runs `script` (lines of `ip -batch`), in order after the requests before it; throws as a failed `-batch`. */
  run(script: string): Promise<CommandResult> {
    const next = this.chain.then(() => this.send(script));
    this.chain = next.catch(() => {});
    return next;
  }

  close(): void {
    this.child.stdin!.end();
  }

  private send(script: string): Promise<CommandResult> {
    if (this.dead) return Promise.reject(this.dead);
    const body = script.endsWith('\n') ? script : `${script}\n`;
    const first = this.lines + 1;
    const count = body.split('\n').length - 1;
    this.lines += count + 1;
    const end = this.lines;
    const argv = [this.tool, '-batch', '-'];
    return new Promise<CommandResult>((resolve, reject) => {
      this.waiting = {
        end,
        fail: reject,
        done: (stderr) => {
          // Renumber "Command failed -:N" to the request's own lines, as a one-shot -batch reports them.
          const own = stderr.replace(
            /Command failed -:(\d+)/g,
            (_, n) => `Command failed -:${Number(n) - first + 1}`,
          );
          if (/Command failed -:/.test(own)) reject(new CommandError(argv, 1, own, script));
          else resolve({ exitCode: 0, stdout: '', stderr: own });
        },
      };
      this.child.stdin!.write(`${body}${SENTINEL}\n`);
    });
  }

  private check(): void {
    const w = this.waiting;
    if (!w) return;
    const mark = `Command failed -:${w.end}\n`;
    const at = this.stderr.indexOf(mark);
    if (at < 0) return;
    // Everything before the sentinel's own two lines (its complaint, then its mark) belongs to the request.
    const before = this.stderr.slice(0, at);
    this.stderr = this.stderr.slice(at + mark.length);
    this.waiting = undefined;
    w.done(before.slice(0, before.lastIndexOf('\n', before.length - 2) + 1));
  }
}
