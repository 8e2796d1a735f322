/**
 * The VM lane: runs a command inside Debian's own kernel under qemu TCG, for kernel features this machine lacks
 * (ipip, gre, wireguard...). The guest sees this machine's root filesystem read-only over virtio-9p with a tmpfs
 * overlay, so the checkout, node and iproute2 are all there; it has no network card and its own /run and /tmp.
 * The work is done by scripts/vm/run.sh (see docs/vm-lane.md); this module is its test API.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export const VM_RUN = join(ROOT, 'scripts', 'vm', 'run.sh');
export const VM_CACHE = process.env.PODNET_VM_CACHE ?? '/var/cache/podnet-vm';

export interface VmResult {
  /** The command's exit status; 124 when the VM was killed at the timeout, 125 when it reported no status. */
  readonly code: number;
  /** The command's stdout and stderr, merged in order. */
  readonly output: string;
  /** The guest's serial console (boot and init messages, with timestamps), for diagnosis. */
  readonly console: string;
  /** What run.sh itself said on stderr (kernel fetch, timeouts). */
  readonly stderr: string;
  /** Wall time of the whole run: boot, command, power-off. */
  readonly ms: number;
}

export interface VmOptions {
  /** Kills the VM after this long (default 240 s); the result then has code 124. */
  readonly timeoutMs?: number;
  /** Environment for the command inside the guest (it otherwise gets PATH and HOME only). */
  readonly env?: Readonly<Record<string, string>>;
  /** Guest memory in MB (default 1536). */
  readonly memMb?: number;
  /** Working directory of the command (default: the checkout). It must be on the host's disk, not under /tmp. */
  readonly cwd?: string;
  /** Modules the guest loads before the command (default: what podnet labs use; others load on demand). */
  readonly modules?: readonly string[];
}

/**
 * Why the VM lane cannot run here, or false. Only a missing or broken qemu (or not being root, which the lane
 * needs to read the whole root filesystem and to run labs) is a reason to skip; a kernel that cannot be
 * fetched is a failure, since bootstrap fetches it.
 */
export const vmSkip: string | false = (() => {
  if (process.getuid?.() !== 0) return 'VM lane needs root (it shares / with the guest and runs labs in it)';
  if (process.arch !== 'x64') return `VM lane boots an amd64 kernel; this machine is ${process.arch}`;
  const q = spawnSync('qemu-system-x86_64', ['-accel', 'help'], { encoding: 'utf8', timeout: 20_000 });
  if (q.error)
    return `qemu-system-x86_64 cannot run (${q.error.message}); install the Debian package qemu-system-x86 (scripts/bootstrap.sh does)`;
  if (q.status !== 0 || !/\btcg\b/.test(q.stdout))
    return `qemu-system-x86_64 has no TCG accelerator: ${q.stdout}${q.stderr}`;
  return false;
})();

/** Runs `command` (an argv, no shell) inside a fresh VM. */
export function runInVm(command: readonly string[], opts: VmOptions = {}): Promise<VmResult> {
  const timeoutMs = opts.timeoutMs ?? 240_000;
  const io = mkdtempSync(join(tmpdir(), 'podnet-vm-io-'));
  const args = ['--io', io, '--timeout', String(Math.ceil(timeoutMs / 1000))];
  if (opts.memMb) args.push('--mem', String(opts.memMb));
  if (opts.modules) args.push('--modules', opts.modules.join(','));
  for (const [k, v] of Object.entries(opts.env ?? {})) args.push('--env', `${k}=${v}`);
  args.push('--', ...command);
  const started = performance.now();
  return new Promise((resolve) => {
    // Its own process group (qemu runs in it too, under `timeout --foreground`), so the guard can end them all.
    const child = spawn(VM_RUN, args, {
      cwd: opts.cwd ?? ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    // run.sh kills qemu at the timeout itself; this is the backstop should run.sh hang (e.g. on a kernel fetch).
    const guard = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs + 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      const read = (f: string) => (existsSync(join(io, f)) ? readFileSync(join(io, f), 'utf8') : '');
      const result: VmResult = {
        code: code ?? (signal ? 128 : 1),
        output: read('output'),
        console: read('console.log'),
        stderr,
        ms: performance.now() - started,
      };
      rmSync(io, { recursive: true, force: true });
      resolve(result);
    });
  });
}

/** The guest kernel release the lane boots (after a first run), from the fetch cache. */
export function vmKernelRelease(): string | undefined {
  try {
    return readFileSync(join(VM_CACHE, 'current'), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** A one-paragraph summary of a VM result for assertion messages. */
export function describeVm(r: VmResult): string {
  return `exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s\n--- output ---\n${r.output}\n--- run.sh ---\n${r.stderr}\n--- console (tail) ---\n${r.console.split('\n').slice(-15).join('\n')}`;
}
