/**
 * The control plane that scripts/k8s/build-control-plane.sh builds is real: etcd, kube-apiserver and
 * kube-controller-manager v1.20.2 start on loopback (this file's ports: 24280-24289), the API answers a token
 * holder, and the controller manager's nodeipam controller gives a registered Node its spec.podCIDR.
 * Only this file's own PIDs are stopped; its state lives in a temp dir.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from '../helpers/cli.js';

const IP = '127.0.0.1';
const [ETCD, PEER, API, KCM] = [24280, 24281, 24282, 24283];
const TOKEN = 'podnet-test-admin-token';

const bin = (() => {
  const r = spawnSync(join(ROOT, 'scripts/k8s/build-control-plane.sh'), ['--check'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
})();
const skip: string | false =
  process.getuid?.() !== 0
    ? 'needs root'
    : !bin
      ? 'no control plane: run scripts/k8s/build-control-plane.sh (bootstrap does)'
      : !existsSync('/usr/bin/etcd')
        ? 'no etcd: apt-get install etcd-server'
        : false;
if (skip) console.log(`# control-plane: skipped: ${skip}`);

const dir = mkdtempSync(join(tmpdir(), 'podnet-cp-'));
const procs: ChildProcess[] = [];

function start(name: string, argv: string[]): void {
  const log = openSync(join(dir, `${name}.log`), 'w');
  procs.push(spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', log, log] }));
}

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`https://${IP}:${API}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
  });
}

async function eventually<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${ms} ms (last error: ${String(last)})`);
}

before(async () => {
  if (skip) return;
  // The apiserver's certificate is self-signed in cert-dir; this process talks to it on loopback only.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  spawnSync('openssl', ['genrsa', '-out', join(dir, 'sa.key'), '2048'], { stdio: 'ignore' });
  spawnSync('openssl', ['rsa', '-in', join(dir, 'sa.key'), '-pubout', '-out', join(dir, 'sa.pub')], {
    stdio: 'ignore',
  });
  writeFileSync(join(dir, 'tokens.csv'), `${TOKEN},admin,admin-uid,system:masters\n`);
  const kubeconfig = join(dir, 'admin.kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'cp', cluster: { server: `https://${IP}:${API}`, 'insecure-skip-tls-verify': true } },
      ],
      users: [{ name: 'admin', user: { token: TOKEN } }],
      contexts: [{ name: 'cp', context: { cluster: 'cp', user: 'admin' } }],
      'current-context': 'cp',
    }),
  );
  start('etcd', [
    'etcd',
    '--name=cp',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=http://${IP}:${ETCD}`,
    `--advertise-client-urls=http://${IP}:${ETCD}`,
    `--listen-peer-urls=http://${IP}:${PEER}`,
    `--initial-advertise-peer-urls=http://${IP}:${PEER}`,
    `--initial-cluster=cp=http://${IP}:${PEER}`,
  ]);
  start('kube-apiserver', [
    join(bin!, 'kube-apiserver'),
    `--etcd-servers=http://${IP}:${ETCD}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--authorization-mode=RBAC',
    `--secure-port=${API}`,
    `--bind-address=${IP}`,
    `--advertise-address=${IP}`,
    '--endpoint-reconciler-type=none',
    '--insecure-port=0',
    `--cert-dir=${join(dir, 'certs')}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
  ]);
  await eventually('kube-apiserver /readyz', 60_000, async () =>
    (await api('/readyz')).ok ? true : undefined,
  );
  start('kube-controller-manager', [
    join(bin!, 'kube-controller-manager'),
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--allocate-node-cidrs',
    '--cluster-cidr=10.200.0.0/16',
    '--node-cidr-mask-size=24',
    '--service-cluster-ip-range=10.96.0.0/16',
    '--controllers=nodeipam,endpointslice,endpoint,serviceaccount',
    `--bind-address=${IP}`,
    `--secure-port=${KCM}`,
    '--use-service-account-credentials=false',
  ]);
});

after(async () => {
  for (const p of procs.reverse()) p.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  rmSync(dir, { recursive: true, force: true });
});

test(
  'the built control plane serves the API and assigns a registered Node its pod CIDR',
  { skip },
  async () => {
    // given: a Node registered as a kubelet would (name and InternalIP only)
    const created = await api('/api/v1/nodes', {
      method: 'POST',
      body: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'node-0' },
        status: { addresses: [{ type: 'InternalIP', address: '192.168.64.4' }] },
      }),
    });
    assert.equal(created.status, 201, await created.text());
    // then: kube-controller-manager's nodeipam controller sets spec.podCIDR from --cluster-cidr
    const cidr = await eventually('spec.podCIDR of node-0', 60_000, async () => {
      const n = (await (await api('/api/v1/nodes/node-0')).json()) as { spec?: { podCIDR?: string } };
      return n.spec?.podCIDR;
    });
    assert.match(cidr, /^10\.200\.\d+\.0\/24$/);
    // and: v1.20 serves EndpointSlices as discovery.k8s.io/v1beta1 (v1 arrives in 1.21)
    assert.equal((await api('/apis/discovery.k8s.io/v1beta1')).status, 200);
  },
);
