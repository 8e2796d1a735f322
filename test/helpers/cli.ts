/**
 * Conventions for tests (kube-proxy style). Addresses used by tests exist only inside namespaces the test made:
 *   - lab underlay 192.168.64.0/24, pods 10.200.0.0/16 (the seed's), services 10.96.0.0/12
 *   - "outside" addresses 203.0.113.0/24 (TEST-NET-3)
 * Every lab a test makes gets a unique name from `uniqueLab`, so its namespaces (`<lab>-…`) never collide with
 * a user's lab or another test; `after` hooks always run `lab down`.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './tmp.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'bin', 'podnet.js');

/** Skip reason for tests that need root, or false. */
export const needsRoot: string | false =
  process.getuid?.() === 0 ? false : 'needs root: run npm run test:e2e as root';

let counter = 0;
/** A lab name unique to this test process: letters and digits only, at most 12 characters. */
export function uniqueLab(tag: string): string {
  counter++;
  return `t${(process.pid % 100000).toString(36)}${tag}${counter}`.replace(/[^a-z0-9]/g, '').slice(0, 12);
}

/** State directory private to this test process, removed when it exits (its labs are down by then). */
export const STATE_DIR = tempDir('podnet-test');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real CLI (as a user would) with the test's private state directory. */
export function cli(
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return run(['node', CLI, ...args], opts);
}

export function run(
  argv: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { ...process.env, PODNET_STATE_DIR: STATE_DIR, ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Named network namespaces whose name starts with `prefix`. */
export function netnsWithPrefix(prefix: string): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

/** Live (non-zombie) processes whose command line mentions `text`. */
export function liveProcessesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(text)) out.push(Number(e));
    } catch {}
  }
  return out;
}
