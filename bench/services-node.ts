import { mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, type ProcessRunner } from '../src/exec/process-runner.js';
import type { ProxyEndpoint, ProxyModel, ProxyServicePort } from '../src/plan/services/model.js';

/** The services bench's fixtures: the synthetic model, the node namespaces it loads, and the seed's commands. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LATENCY = join(ROOT, 'bench', 'latency.py');
const ACCEPT = join(ROOT, 'bench', 'accept.py');
export const PREFIX = `pb${process.pid % 100000}`;

const ip = (n: number) => `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
export const SERVER = '10.200.0.3';
export const CLIENT = '10.200.0.2';
export const TARGET_VIP = '10.111.255.254';

/** N services × 5 endpoints; the last one (sorted) is the real one the latency client connects to. */
export function model(n: number, mode: 'nftables' | 'iptables', change = 0): ProxyModel {
  const services: ProxyServicePort[] = [];
  for (let i = 0; i < n - 1; i++) {
    const eps: ProxyEndpoint[] = [];
    for (let j = 0; j < 5; j++) {
      const k = i * 5 + j;
      eps.push({ ip: ip(0x0ac90000 + (k % 65000) + 1), port: 8080, pod: `p${k}`, local: false });
    }
    // A changed endpoint: service 0's third endpoint moves (a pod restarted elsewhere).
    if (i === 0 && change)
      eps[2] = { ip: ip(0x0aca0000 + change), port: 8080, pod: `moved${change}`, local: false };
    services.push({
      id: `default/s${String(i).padStart(6, '0')}:http`,
      clusterIP: ip(0x0a600000 + 2 + i),
      protocol: 'tcp',
      port: 80,
      endpoints: eps,
    });
  }
  services.push({
    id: 'default/zz-target:http',
    clusterIP: TARGET_VIP,
    protocol: 'tcp',
    port: 80,
    endpoints: [9000, 9001, 9002, 9003, 9004].map((port) => ({
      ip: SERVER,
      port,
      pod: 'server',
      local: true,
    })),
  });
  return {
    node: 'bench',
    mode,
    clusterCIDR: '10.200.0.0/16',
    serviceCIDR: '10.96.0.0/12',
    egressMasquerade: true,
    services,
  };
}

/**
 * Like sh, also returning the command's CPU time (user + sys, from /usr/bin/time): on this shared machine the
 * wall time of a long sync includes waiting for a core, and the CPU time is what the sync itself costs.
 */
export async function shCpu(argv: string[], stdin?: string): Promise<{ ms: number; cpu: number }> {
  const t0 = performance.now();
  const r = await exec(['/usr/bin/time', '-f', 'podnet-cpu %U %S', ...argv], stdin);
  const ms = performance.now() - t0;
  if (r.exitCode !== 0)
    throw new Error(`${argv.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.slice(0, 500)}`);
  const m = /podnet-cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { ms, cpu: m ? (Number(m[1]) + Number(m[2])) * 1000 : Number.NaN };
}

export async function sh(argv: string[], stdin?: string): Promise<number> {
  const t0 = performance.now();
  const r = await exec(argv, stdin);
  const ms = performance.now() - t0;
  if (r.exitCode !== 0)
    throw new Error(`${argv.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.slice(0, 500)}`);
  return ms;
}

/** A node namespace with a bridge, a client pod and a server pod (5 listening ports), as a lab node has. */
export async function makeNode(tag: string, runner: ProcessRunner, pids: number[]): Promise<string> {
  const node = `${PREFIX}-${tag}`;
  const pod = (p: string) => `${node}-${p}`;
  await sh(['ip', 'netns', 'add', node]);
  for (const p of ['c', 's']) await sh(['ip', 'netns', 'add', pod(p)]);
  const batch = [
    'link set lo up',
    'link add br0 type bridge',
    'addr add 10.200.0.1/16 dev br0',
    'link set br0 up',
    `link add vc type veth peer name eth0 netns ${pod('c')}`,
    `link add vs type veth peer name eth0 netns ${pod('s')}`,
    'link set vc master br0 up',
    'link set vs master br0 up',
    'route add 10.96.0.0/12 dev br0',
  ];
  await sh(['ip', '-n', node, '-batch', '-'], `${batch.join('\n')}\n`);
  for (const [p, addr] of [
    ['c', CLIENT],
    ['s', SERVER],
  ] as const) {
    await sh(
      ['ip', '-n', pod(p), '-batch', '-'],
      `link set lo up\naddr add ${addr}/16 dev eth0\nlink set eth0 up\nroute add default via 10.200.0.1\n`,
    );
  }
  await sh(['ip', 'netns', 'exec', node, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  await sh(['ip', 'netns', 'exec', node, 'sysctl', '-q', '-w', 'net.bridge.bridge-nf-call-iptables=1']);
  mkdirSync('/tmp/podnet-bench', { recursive: true });
  const r = await runner.run({
    argv: ['ip', 'netns', 'exec', pod('s'), 'python3', ACCEPT, '9000', '9001', '9002', '9003', '9004'],
    daemon: { log: `/tmp/podnet-bench/${node}-accept.log` },
  });
  if (r.pid) pids.push(r.pid);
  return node;
}

export async function dropNode(node: string): Promise<void> {
  for (const ns of [`${node}-c`, `${node}-s`, node]) {
    // The endpoint server (and anything else) still running inside the bench's own namespace, by PID.
    const pids = (await exec(['ip', 'netns', 'pids', ns])).stdout.split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {}
    }
    await exec(['ip', 'netns', 'del', ns]);
  }
  rmSync(`/tmp/podnet-bench/${node}-accept.log`, { force: true });
  try {
    rmdirSync('/tmp/podnet-bench'); // the last node's: another node's log keeps it
  } catch {}
}

/** Waits until a connect from `node`'s client to the ClusterIP succeeds (the table and the server are up). */
export async function latencyReady(node: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const probe = await exec(['ip', 'netns', 'exec', `${node}-c`, 'python3', LATENCY, TARGET_VIP, '80', '1']);
    if (probe.exitCode === 0 && JSON.parse(probe.stdout).errors === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export type Latency = { median: number; p95: number; errors: number };

/** One round: 300 connects from `node`'s client to the ClusterIP, their median and p95 (µs). */
export async function latencyRound(node: string): Promise<Latency> {
  const r = await exec(['ip', 'netns', 'exec', `${node}-c`, 'python3', LATENCY, TARGET_VIP, '80', '300']);
  const j = JSON.parse(r.stdout) as { median_us: number; p95_us: number; errors: number };
  return { median: j.median_us, p95: j.p95_us, errors: j.errors };
}

/** Three rounds; the median round (by median) is reported: one round can land on another process's burst. */
export async function latency(node: string): Promise<Latency> {
  await latencyReady(node);
  const rounds: Latency[] = [];
  for (let i = 0; i < 3; i++) rounds.push(await latencyRound(node));
  return medianRound(rounds);
}

/** The round with the median median. */
export function medianRound(rounds: Latency[]): Latency {
  const sorted = [...rounds].sort((a, b) => a.median - b.median);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Splits an iptables-restore rule line into argv (double-quoted comments stay one argument). */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2]!);
  return out;
}

/** The seed's way: the restore input as one `iptables` command per chain and rule. */
export function seedCommands(restore: string, node: string): string[][] {
  let t = 'nat';
  const cmds: string[][] = [];
  for (const line of restore.split('\n')) {
    if (line.startsWith('*')) t = line.slice(1);
    else if (line.startsWith(':'))
      cmds.push(['ip', 'netns', 'exec', node, 'iptables', '-t', t, '-N', line.slice(1).split(' ')[0]!]);
    else if (line.startsWith('-A '))
      cmds.push(['ip', 'netns', 'exec', node, 'iptables', '-t', t, ...words(line)]);
  }
  return cmds;
}
