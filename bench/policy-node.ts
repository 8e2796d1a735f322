import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetfilterSender } from '../src/exec/netlink/nft-batch.js';
import { exec } from '../src/exec/process-runner.js';
import type { render } from '../src/render/index.js';
import { CLIENT, SERVER } from './policy-world.js';

/** The policy bench's node namespace (a bridge, a client and a server pod), the commands run in it, its latency. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LATENCY = join(ROOT, 'bench', 'latency.py');
const ACCEPT = join(ROOT, 'bench', 'accept.py');
const PREFIX = `pq${process.pid % 100000}`;

export async function sh(argv: string[], stdin?: string): Promise<number> {
  const t0 = performance.now();
  const r = await exec(argv, stdin);
  if (r.exitCode !== 0)
    throw new Error(`${argv.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.slice(0, 500)}`);
  return performance.now() - t0;
}

/** A node namespace with a bridge, and a client and a server pod on it (the server accepts on 9000). */
export async function makeNode(): Promise<{ node: string; server: number }> {
  const node = `${PREFIX}-node`;
  const pod = (p: string) => `${node}-${p}`;
  await sh(['ip', 'netns', 'add', node]);
  for (const p of ['c', 's']) await sh(['ip', 'netns', 'add', pod(p)]);
  await sh(
    ['ip', '-n', node, '-batch', '-'],
    [
      'link set lo up',
      'link add br0 type bridge',
      'addr add 10.210.255.1/16 dev br0',
      'link set br0 up',
      `link add vc type veth peer name eth0 netns ${pod('c')}`,
      `link add vs type veth peer name eth0 netns ${pod('s')}`,
      'link set vc master br0 up',
      'link set vs master br0 up',
      '',
    ].join('\n'),
  );
  for (const [p, addr] of [
    ['c', CLIENT],
    ['s', SERVER],
  ] as const)
    await sh(
      ['ip', '-n', pod(p), '-batch', '-'],
      `link set lo up\naddr add ${addr}/16 dev eth0\nlink set eth0 up\n`,
    );
  await sh(['ip', 'netns', 'exec', node, 'sysctl', '-q', '-w', 'net.bridge.bridge-nf-call-iptables=1']);
  const { spawn } = await import('node:child_process');
  const child = spawn('nsenter', [`--net=/run/netns/${pod('s')}`, 'python3', ACCEPT, '9000'], {
    stdio: 'ignore',
    detached: false,
  });
  return { node, server: child.pid! };
}

export async function dropNode(node: string, server: number): Promise<void> {
  try {
    process.kill(server, 'SIGKILL');
  } catch {}
  for (const ns of [`${node}-c`, `${node}-s`, node]) await exec(['ip', 'netns', 'del', ns]);
}

/** Median new-connection latency (us) of 300 connects from the client to the server. */
export async function latency(node: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const r = await exec(['ip', 'netns', 'exec', `${node}-c`, 'python3', LATENCY, SERVER, '9000', '1']);
    if (r.exitCode === 0 && JSON.parse(r.stdout).errors === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const r = await exec(['ip', 'netns', 'exec', `${node}-c`, 'python3', LATENCY, SERVER, '9000', '300']);
  const j = JSON.parse(r.stdout) as { median_us: number; errors: number };
  if (j.errors) throw new Error(`latency: ${j.errors} connection(s) failed`);
  return j.median_us;
}

/** Sends an op's netlink form (encoding included); the op must be fully encoded. Returns the milliseconds. */
export function viaNetlink(sender: NetfilterSender, cmd: ReturnType<typeof render>): number {
  const t0 = performance.now();
  if (!cmd.netfilter || !sender.send(cmd.netfilter)) throw new Error('the policy transaction is not encoded');
  return performance.now() - t0;
}
