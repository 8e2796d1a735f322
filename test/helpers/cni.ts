/**
 * Helpers for the CNI tests. Conventions: every namespace is `pc<pid36>…` (unique to the test process), every
 * network name and bridge likewise, pod addresses from 10.244.0.0/16 exist only in namespaces the test made, and
 * the plugin always runs inside a namespace standing for the node — never in the root namespace.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, run } from './cli.js';

export const CNI_CACHE = process.env.PODNET_CNI_CACHE ?? '/var/cache/podnet-cni';
export const CNITOOL = join(CNI_CACHE, 'bin', 'cnitool');
export const REF_PLUGINS = '/usr/lib/cni';

/** A prefix unique to this test process, for namespaces, bridges and network names. */
export const PFX = `pc${process.pid.toString(36)}`;

let envChecked: string | false | undefined;
/**
 * Runs scripts/cni-testenv.sh once (idempotent: installs containerd, runc, the reference plugins, builds cnitool,
 * makes the OCI images); returns a skip reason when the environment cannot be made, else false.
 */
export function cniTestEnv(): string | false {
  if (envChecked !== undefined) return envChecked;
  if (process.getuid?.() !== 0) {
    envChecked = 'needs root: run npm run test:e2e as root';
    return envChecked;
  }
  try {
    execFileSync('bash', [join(ROOT, 'scripts', 'cni-testenv.sh')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 600_000,
    });
    envChecked = false;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    envChecked = `CNI test environment could not be set up: ${err.stderr?.toString().trim().split('\n').pop() ?? err.message}`;
    console.error(`# skip: ${envChecked}`);
  }
  return envChecked;
}

/** A scratch directory holding the installed plugin (bin/), conflists (net.d/) and IPAM data (ipam/). */
export interface CniDirs {
  readonly root: string;
  readonly bin: string;
  readonly netd: string;
  readonly ipam: string;
  readonly plugin: string;
  /** The agent's CNI socket the installed client asks first (`--agent-socket`). */
  readonly socket: string;
}

/** Installs the plugin with the real `podnet cni install` into a fresh scratch directory. */
export async function installPlugin(opts: {
  name: string;
  subnet: string;
  bridge: string;
  extra?: string[];
}): Promise<CniDirs> {
  const root = mkdtempSync(join(tmpdir(), `${PFX}-cni-`));
  const d = {
    root,
    bin: join(root, 'bin'),
    netd: join(root, 'net.d'),
    ipam: join(root, 'ipam'),
    plugin: join(root, 'bin', 'podnet'),
    socket: join(root, 'cni.sock'),
  };
  const r = await run([
    'node',
    join(ROOT, 'bin', 'podnet.js'),
    'cni',
    'install',
    '--bin-dir',
    d.bin,
    '--conf-dir',
    d.netd,
    '--data-dir',
    d.ipam,
    '--name',
    opts.name,
    '--subnet',
    opts.subnet,
    '--bridge',
    opts.bridge,
    '--code-cache-dir',
    join(root, 'code-cache'),
    '--agent-socket',
    d.socket,
    ...(opts.extra ?? []),
  ]);
  if (r.code !== 0) throw new Error(`podnet cni install failed: ${r.stderr}`);
  // The tests exercise the plugin as shipped: with its native netlink addon (CI installs gcc for it).
  if (/warning:/.test(r.stderr)) throw new Error(`podnet cni install warned: ${r.stderr}`);
  return d;
}

/** The single podnet plugin object of an installed conflist, as the runtime would pass it (name + version added). */
export function pluginConf(d: CniDirs, name: string, extra: object = {}): string {
  const list = JSON.parse(readFileSync(join(d.netd, `10-${name}.conflist`), 'utf8'));
  return JSON.stringify({ cniVersion: list.cniVersion, name: list.name, ...list.plugins[0], ...extra });
}

export function netnsAdd(name: string): string {
  execFileSync('ip', ['netns', 'add', name]);
  return `/run/netns/${name}`;
}
export function netnsDel(name: string): void {
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {}
}

export interface PluginCall {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly json?: { code?: number; msg?: string; ips?: { address: string }[] } & Record<string, unknown>;
}

/** Runs the installed plugin file inside the node namespace with a CNI environment and a config on stdin. */
export function invoke(
  plugin: string,
  nodeNs: string,
  env: Record<string, string>,
  stdin: string,
  onSpawn?: (pid: number) => void,
): Promise<PluginCall> {
  return new Promise((resolve) => {
    const child = spawn('nsenter', [`--net=/run/netns/${nodeNs}`, plugin], {
      env: { PATH: process.env.PATH, CNI_PATH: join(plugin, '..'), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (child.pid) onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (x) => {
      stdout += x;
    });
    child.stderr.on('data', (x) => {
      stderr += x;
    });
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
    child.on('close', (code, signal) => {
      let json: PluginCall['json'];
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {}
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, ...(json ? { json } : {}) });
    });
  });
}

/** Links of a namespace (names only). */
export function linksIn(ns: string): string[] {
  const out = execFileSync('ip', ['-n', ns, '-j', 'link', 'show'], { encoding: 'utf8' });
  return (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname);
}

/** Our host-side veths (pn + 8 hex) in a namespace. */
export const podnetVeths = (ns: string): string[] => linksIn(ns).filter((n) => /^pn[0-9a-f]{8}$/.test(n));

/** Reserved addresses of one network in an IPAM data directory. */
export function reservations(ipamDir: string, network: string): string[] {
  const dir = join(ipamDir, network);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n))
    .sort();
}

/** Any non-reservation leftovers besides the lock and round-robin marker (temporary files of killed writers). */
export function strayFiles(ipamDir: string, network: string): string[] {
  const dir = join(ipamDir, network);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter(
    (n) => !/^\d+\.\d+\.\d+\.\d+$/.test(n) && n !== 'lock' && n !== 'last_reserved_ip.0',
  );
}

export function writeJson(path: string, data: unknown): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}

export function rmrf(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** PIDs of processes living in the named network namespace (to wait for orphans of killed plugins). */
export function processesInNetns(ns: string): number[] {
  let target: string;
  try {
    target = `net:[${statSync(`/run/netns/${ns}`).ino}]`;
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readlinkSync(`/proc/${e}/ns/net`) === target) out.push(Number(e));
    } catch {}
  }
  return out;
}

/**
 * The two ways the installed plugin runs: `plugin`, no agent listening (the client execs the Node.js plugin),
 * and `agent`, the agent's CNI server answering on the socket (docs/cni.md "Through the agent").
 */
export const CNI_MODES = ['plugin', 'agent'] as const;
export type CniMode = (typeof CNI_MODES)[number];

/** The agent's CNI server (`podnet cni serve`, what `podnet agent` starts) running in a node namespace. */
export interface CniAgent {
  readonly pid: number;
  /** SIGTERM: answers what is in flight, then exits; resolves with how many requests it answered. */
  stop(): Promise<number>;
  /** SIGKILL, at once. */
  kill(): Promise<void>;
}

/** Starts the CNI server in `nodeNs` on the installed plugin's socket; resolves once it listens. */
export async function startCniAgent(d: CniDirs, nodeNs: string): Promise<CniAgent> {
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${nodeNs}`,
      process.execPath,
      join(ROOT, 'bin', 'podnet.js'),
      'cni',
      'serve',
      '--socket',
      d.socket,
      '--bin-dir',
      d.bin,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // 'close': the output is read to its end (the last line counts what it served).
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`podnet cni serve did not start: ${out}`)), 30_000);
    const seen = (x: Buffer) => {
      out += x;
      if (out.includes('serving CNI requests')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', (x: Buffer) => {
      out += x;
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`podnet cni serve exited (${code}): ${out}`));
    });
  });
  const signal = async (sig: NodeJS.Signals) => {
    try {
      process.kill(child.pid!, sig);
    } catch {}
    await exited;
  };
  const stop = async () => {
    await signal('SIGTERM');
    const m = /"served":(\d+)/.exec(out);
    return m ? Number(m[1]) : 0;
  };
  return { pid: child.pid!, stop, kill: () => signal('SIGKILL') };
}
