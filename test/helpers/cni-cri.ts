/**
 * A containerd 1.6 (Debian) with its CRI plugin, started inside a namespace standing for the node, with all of
 * its state under one temporary directory, and a tiny CRI client over its gRPC socket (@grpc/grpc-js + the CRI
 * api.proto from Debian's containerd source, fetched by scripts/cni-testenv.sh).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { CNI_CACHE, REF_PLUGINS } from './cni.js';

export interface Containerd {
  readonly root: string;
  readonly socket: string;
  readonly proc: ChildProcess;
  readonly log: string;
}

/** Writes config.toml and starts containerd in the node namespace (nsenter: `ip netns exec` hides cgroups). */
export async function startContainerd(
  root: string,
  nodeNs: string,
  cniBin: string,
  cniConfDir: string,
): Promise<Containerd> {
  const socket = join(root, 'c.sock');
  mkdirSync(join(root, 'logs'), { recursive: true });
  // bin_dir holds our bundled plugin next to links to the reference plugins (loopback, portmap).
  for (const f of readdirSync(REF_PLUGINS))
    if (!existsSync(join(cniBin, f))) symlinkSync(join(REF_PLUGINS, f), join(cniBin, f));
  const cfg = `version = 2
root = "${root}/root"
state = "${root}/state"
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[debug]
  address = "${root}/debug.sock"
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"
    netns_mounts_under_state_dir = true
    restrict_oom_score_adj = true
    stream_server_address = "127.0.0.1"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "${cniBin}"
      conf_dir = "${cniConfDir}"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "${root}/runc"
  [plugins."io.containerd.internal.v1.opt"]
    path = "${root}/opt"
`;
  writeFileSync(join(root, 'config.toml'), cfg);
  const log = join(root, 'containerd.log');
  const out = openSync(log, 'a');
  const proc = spawn(
    'nsenter',
    [`--net=/run/netns/${nodeNs}`, 'containerd', '--config', join(root, 'config.toml')],
    {
      stdio: ['ignore', out, out],
    },
  );
  for (let i = 0; i < 200 && !existsSync(socket); i++) await sleep(50);
  if (!existsSync(socket))
    throw new Error(`containerd did not start: ${readFileSync(log, 'utf8').slice(-2000)}`);
  return { root, socket, proc, log };
}

/** Imports the offline OCI images (pause + busybox app) into the CRI's namespace. */
export function importImages(c: Containerd, nodeNs: string): void {
  for (const img of ['pause-oci.tar', 'bb-oci.tar'])
    execFileSync(
      'nsenter',
      [
        `--net=/run/netns/${nodeNs}`,
        'ctr',
        '--address',
        c.socket,
        '-n',
        'k8s.io',
        'images',
        'import',
        join(CNI_CACHE, 'img', img),
      ],
      {
        stdio: 'pipe',
      },
    );
}

type Call = (method: string, req: object) => Promise<Record<string, unknown>>;

/** A CRI runtime-service client: `call('RunPodSandbox', {...})`. */
export function criClient(socket: string): { call: Call; close: () => void } {
  const def = loader.loadSync(join(CNI_CACHE, 'cri', 'api.proto'), {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  // biome-ignore lint/suspicious/noExplicitAny: generated gRPC service constructors are untyped
  const v1 = (grpc.loadPackageDefinition(def) as any).runtime.v1;
  const rt = new v1.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure());
  const call: Call = (method, req) =>
    new Promise((resolve, reject) =>
      rt[method](req, { deadline: Date.now() + 60_000 }, (e: Error | null, r: Record<string, unknown>) =>
        e ? reject(Object.assign(e, { message: `${method}: ${e.message}` })) : resolve(r),
      ),
    );
  return { call, close: () => rt.close() };
}

/** Stops containerd (TERM, then KILL) and any shim it left, by PID; unmounts what it mounted under root. */
export async function stopContainerd(c: Containerd): Promise<void> {
  if (c.proc.pid && c.proc.exitCode === null) {
    c.proc.kill('SIGTERM');
    for (let i = 0; i < 100 && c.proc.exitCode === null && c.proc.signalCode === null; i++) await sleep(50);
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  }
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes('containerd-shim') && cmd.includes(c.socket)) process.kill(Number(e), 'SIGKILL');
    } catch {}
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${c.root}/`))
    .reverse();
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {}
  }
}
