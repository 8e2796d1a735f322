/**
 * A real etcd for tests: Debian's /usr/bin/etcd on 127.0.0.1, client and peer ports picked by the kernel
 * (a throwaway listen on port 0), data in a temp dir removed on stop. Never a fixed port: other test runs and
 * other people's etcds share this machine. With `tls`: https only, client certificates required
 * (--client-cert-auth). With `netns`: inside that namespace (the test's own), on its loopback.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestTls } from './etcd-tls.js';

export interface TestEtcd {
  readonly endpoint: string;
  /** etcdctl's argv (endpoint, TLS files, inside the namespace) before its command. */
  readonly etcdctl: readonly string[];
  readonly pid: number;
  stop(): Promise<void>;
}

export const ETCD_BIN = '/usr/bin/etcd';

/** Why a real etcd cannot be used here, or false. */
export const noEtcd: string | false = existsSync(ETCD_BIN)
  ? false
  : `needs ${ETCD_BIN} (Debian package etcd-server)`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts etcd and waits until it answers a range request (or throws with its log tail). */
export async function startEtcd(opts: { tls?: TestTls; netns?: string } = {}): Promise<TestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-etcd-'));
  // A namespace of the test's own has its ports all free.
  const [client, peer] = opts.netns ? [2379, 2380] : [await freePort(), await freePort()];
  const endpoint = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const inNs = opts.netns ? ['ip', 'netns', 'exec', opts.netns] : [];
  const tls = opts.tls;
  const tlsFlags = tls
    ? [
        `--cert-file=${tls.serverCert}`,
        `--key-file=${tls.serverKey}`,
        `--trusted-ca-file=${tls.ca}`,
        '--client-cert-auth',
      ]
    : [];
  const etcdctl = [
    ...inNs,
    'etcdctl',
    `--endpoints=${endpoint}`,
    '--command-timeout=2s',
    ...(tls ? [`--cacert=${tls.ca}`, `--cert=${tls.cert}`, `--key=${tls.key}`] : []),
  ];
  let log = '';
  const argv = [
    ...inNs,
    ETCD_BIN,
    ...tlsFlags,
    '--name=test',
    `--data-dir=${join(dir, 'data')}`,
    `--listen-client-urls=${endpoint}`,
    `--advertise-client-urls=${endpoint}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=test=${peerUrl}`,
  ];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => {
    log = (log + d).slice(-4000);
  });
  child.stderr!.on('data', (d) => {
    log = (log + d).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`etcd exited (${child.exitCode}):\n${log}`);
    }
    if (await answers(endpoint, etcdctl, tls !== undefined || opts.netns !== undefined)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not answer within 15 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint, etcdctl, pid: child.pid!, stop };
}

/** Whether etcd answers a read: plain http from here, or etcdctl (TLS, or inside a namespace). */
async function answers(endpoint: string, etcdctl: readonly string[], viaEtcdctl: boolean): Promise<boolean> {
  if (!viaEtcdctl)
    try {
      const r = await fetch(`${endpoint}/v3/kv/range`, { method: 'POST', body: '{"key":"AA=="}' });
      return r.ok;
    } catch {
      return false;
    }
  return new Promise((resolve) => {
    const p = spawn(etcdctl[0]!, [...etcdctl.slice(1), 'get', 'podnet-test-probe'], { stdio: 'ignore' });
    p.once('error', () => resolve(false));
    p.once('exit', (code) => resolve(code === 0));
  });
}
