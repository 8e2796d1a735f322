import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { python3 } from './python.js';
import type { CommandResult } from './runner.js';

const SCRIPT = fileURLToPath(new URL('../../../assets/spawner.py', import.meta.url));

/** One request to the helper (see assets/spawner.py for the protocol). */
export interface SpawnRequest {
  readonly argv: readonly string[];
  readonly stdin?: string;
  readonly daemon?: { readonly log: string };
  readonly env?: NodeJS.ProcessEnv;
  /** Start argv in a new PID namespace ('new') or in the one a pid_for_children file names (runner.ts DirectForm). */
  readonly pidNs?: string;
  /** And in these namespaces of process `pid` (runner.ts DirectForm `enter`). */
  readonly enter?: { readonly pid: string; readonly ns: readonly string[] };
  /** Instead of starting argv: set the hostname of the UTS namespace file `uts`. */
  readonly hostname?: { readonly uts: string; readonly name: string };
}

interface Pending {
  resolve: (r: CommandResult) => void;
}

/**
 * A helper process that starts commands for the runner (assets/spawner.py). Forking a big Node.js process
 * costs a few milliseconds per child; the helper's vfork-based spawning is several times cheaper, which
 * matters when a lab starts a thousand processes. Same contract as spawning directly: argv arrays, no shell.
 */
export class Spawner {
  private child: ChildProcessByStdio<Writable, Readable, null> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffer = '';

  private start(): ChildProcessByStdio<Writable, Readable, null> {
    const child = spawn(python3(), [SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      this.buffer += d;
      let nl = this.buffer.indexOf('\n');
      while (nl >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        const r = JSON.parse(line) as {
          id: number;
          code: number;
          stdout?: string;
          stderr?: string;
          pid?: number;
          start?: string;
        };
        const p = this.pending.get(r.id);
        this.pending.delete(r.id);
        p?.resolve({
          exitCode: r.code,
          stdout: r.stdout ?? '',
          stderr: r.stderr ?? '',
          ...(r.pid ? { pid: r.pid } : {}),
          ...(r.start ? { start: r.start } : {}),
        });
        nl = this.buffer.indexOf('\n');
      }
    });
    const fail = (why: string) => {
      for (const [, p] of this.pending) p.resolve({ exitCode: 127, stdout: '', stderr: `spawner: ${why}` });
      this.pending.clear();
      this.child = undefined;
    };
    child.on('error', (e) => fail(e.message));
    child.on('close', () => fail('exited'));
    child.stdin.on('error', () => {});
    return child;
  }

  /** Starts the helper now (it takes tens of milliseconds), so the first request does not wait for it. */
  warm(): void {
    this.child ??= this.start();
  }

  run(req: SpawnRequest): Promise<CommandResult> {
    this.child ??= this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve });
      const msg = {
        id,
        argv: req.argv,
        ...(req.stdin !== undefined ? { stdin: req.stdin } : {}),
        ...(req.daemon ? { daemon: true, log: req.daemon.log } : {}),
        ...(req.env ? { env: req.env } : {}),
        ...(req.pidNs ? { pidNs: req.pidNs } : {}),
        ...(req.enter ? { enter: req.enter } : {}),
        ...(req.hostname ? { hostname: req.hostname } : {}),
      };
      this.child!.stdin.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Lets the helper exit once it has answered everything. */
  close(): void {
    this.child?.stdin.end();
    this.child = undefined;
  }
}
