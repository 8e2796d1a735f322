import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { python3 } from './python.js';

/**
 * The long-lived processes of one `podnet lab trace`: the kernel session that adds and removes the trace
 * tables (assets/trace-session.py), and one `nft monitor trace` per namespace.
 */

export interface SessionNamespace {
  readonly path: string;
  readonly setup: string;
  readonly cleanup: string;
}

export interface SessionReady {
  readonly errors: Record<string, string>;
  readonly stale: string[];
}

/** The session: holds the trace tables until `close()` (or until this process dies: its stdin closes). */
export class TraceSession {
  private readonly child: ChildProcess;
  private out = '';
  private readonly exited: Promise<void>;

  constructor(script: string, tag: string, namespaces: readonly SessionNamespace[]) {
    this.child = spawn(python3(), [script], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.out += d;
    });
    this.exited = new Promise((resolve) => this.child.on('close', () => resolve()));
    this.child.on('error', () => {});
    this.child.stdin!.on('error', () => {});
    this.child.stdin!.write(`${JSON.stringify({ tag, namespaces })}\n`);
  }

  async ready(timeoutMs = 5000): Promise<SessionReady> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = this.out.indexOf('\n');
      if (nl >= 0) return JSON.parse(this.out.slice(0, nl)) as SessionReady;
      if (this.child.exitCode !== null || Date.now() > deadline)
        throw new Error(`trace session did not start (exit ${this.child.exitCode})`);
      await sleep(3);
    }
  }

  /** Removes every table the session added; resolves when they are gone. */
  async close(): Promise<void> {
    this.child.stdin!.end();
    await this.exited;
  }
}

/** `nft monitor trace` in one namespace, collecting its lines. */
export class TraceMonitor {
  private readonly child: ChildProcess;
  private buf = '';
  readonly lines: string[] = [];

  /**
   * @param groups the netlink multicast groups (bit mask) the process joins once it listens: 0x100 is
   * NFNLGRP_NFTRACE (`nft monitor trace`), 0x7 the conntrack NEW/UPDATE/DESTROY groups (`conntrack -E`).
   */
  constructor(
    argv: readonly string[],
    readonly netns: string,
    private readonly groups = 0x100,
  ) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.buf += d;
      const parts = this.buf.split('\n');
      this.buf = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    this.child.on('error', () => {});
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Whether the monitor has joined its multicast groups: one of its sockets is a NETLINK_NETFILTER socket
   * (protocol 12) subscribed to them in /proc/PID/net/netlink (for nft: group 9, NFNLGRP_NFTRACE, bit 0x100).
   */
  subscribed(): boolean {
    const pid = this.child.pid;
    if (!pid || this.child.exitCode !== null) return false;
    try {
      const inodes = new Set<string>();
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      }
      return readFileSync(`/proc/${pid}/net/netlink`, 'utf8')
        .split('\n')
        .slice(1)
        .some((l) => {
          const c = l.trim().split(/\s+/);
          return (
            c[1] === '12' && (Number.parseInt(c[3] ?? '0', 16) & this.groups) !== 0 && inodes.has(c[9] ?? '')
          );
        });
    } catch {
      return false;
    }
  }

  async waitSubscribed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.subscribed()) {
      if (this.child.exitCode !== null) throw new Error(`nft monitor in ${this.netns} exited`);
      if (Date.now() > deadline) throw new Error(`nft monitor in ${this.netns} did not subscribe`);
      await sleep(2);
    }
  }

  async stop(): Promise<string[]> {
    if (this.child.exitCode === null) {
      const closed = new Promise((r) => this.child.on('close', r));
      this.child.kill('SIGTERM');
      await closed;
    }
    if (this.buf) this.lines.push(this.buf);
    this.buf = '';
    return this.lines;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The direct children of a process we started (Linux: /proc/PID/task/PID/children). */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** A process started now and released later: it waits for a line on stdin (the trace probe's `wait` mode). */
export class HeldProcess {
  private readonly child: ChildProcess;
  private out = '';
  private err = '';
  readonly done: Promise<{ stdout: string; stderr: string; exitCode: number }>;

  constructor(argv: readonly string[]) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.out += d;
    });
    this.child.stderr!.on('data', (d: string) => {
      this.err += d;
    });
    this.child.stdin!.on('error', () => {});
    this.done = new Promise((resolve) => {
      this.child.on('error', (e) => resolve({ stdout: '', stderr: e.message, exitCode: 127 }));
      this.child.on('close', (code) => resolve({ stdout: this.out, stderr: this.err, exitCode: code ?? 1 }));
    });
  }

  /** Lets it go; resolves with its output when it ends. */
  release(): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    this.child.stdin!.end('go\n');
    return this.done;
  }

  /** Ends it without letting it act (its stdin closes: it exits). */
  cancel(): void {
    this.child.stdin!.end();
  }
}

/**
 * A tshark capture in one namespace (`-l`: a line per packet, fields tab-separated), ended with podnet like the
 * monitors. Ready once tshark says it is capturing.
 */
export class Capture {
  private readonly child: ChildProcess;
  private out = '';
  private err = '';

  /** `ip netns exec`, not `nsenter --net`: it also mounts the namespace's /sys, which libpcap needs to capture. */
  constructor(netns: string, iface: string, filter: string, fields: readonly string[]) {
    this.child = spawn(
      'setpriv',
      [
        '--pdeathsig',
        'KILL',
        'ip',
        'netns',
        'exec',
        netns,
        'tshark',
        '-n',
        '-l',
        '-i',
        iface,
        '-f',
        filter,
        '-T',
        'fields',
        '-E',
        'separator=/t',
        ...fields.flatMap((f) => ['-e', f]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.out += d;
    });
    this.child.stderr!.on('data', (d: string) => {
      this.err += d;
    });
    this.child.on('error', () => {});
    this.closed = new Promise((r) => this.child.once('close', () => r()));
  }

  private readonly closed: Promise<void>;

  private running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async ready(timeoutMs = 8000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!/Capturing on/.test(this.err)) {
      if (this.child.exitCode !== null) throw new Error(`tshark exited: ${this.err.trim()}`);
      if (Date.now() > deadline) throw new Error('tshark did not start capturing');
      await sleep(10);
    }
    // "Capturing on" comes a moment before the first frame is seen (measured: a single ping right after it was
    // missed about one time in three): settle.
    await sleep(300);
  }

  /**
   * Stops it and returns one array of fields per packet. Waits first (up to `boundMs`) for `expected` packets: the
   * kernel hands libpcap its ring in blocks, and a SIGINT before the block is retired loses what it holds
   * (measured here: a one-probe capture came back empty 7 times in 12 without the wait).
   */
  async stop(expected = 0, boundMs = 3000): Promise<string[][]> {
    const bound = Date.now() + boundMs;
    while (this.running() && this.rows().length < expected && Date.now() < bound) await sleep(20);
    // tshark can miss a SIGINT (seen once in CI: it went on capturing for 10 min; a second SIGINT ended it):
    // repeat it, and kill it after 5 s. What it printed so far is kept either way (-l: a line per packet).
    for (let i = 0; i < 10 && this.running(); i++) {
      this.child.kill('SIGINT');
      await Promise.race([this.closed, sleep(500)]);
    }
    if (this.running()) {
      // Its dumpcap child would outlive it (no parent-death signal): killed first, by PID.
      for (const pid of childPids(this.child.pid)) killQuietly(pid);
      this.child.kill('SIGKILL');
    }
    await this.closed;
    return this.rows();
  }

  private rows(): string[][] {
    return this.out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t'));
  }
}
