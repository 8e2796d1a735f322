/**
 * NetworkPolicy enforced by the node agents, on each store: real etcd (the lab publishes NetworkPolicy, Namespace
 * and Pod objects under `<prefix>/policy/`), and a real Kubernetes API (kube-apiserver v1.20.2, see
 * kube-lab.test.ts: the lab creates NetworkPolicy objects and labels Pods with kubectl; the agents hold only the
 * podnet-agent ClusterRole and list and watch NetworkPolicies, Namespaces and Pods). Each node's `podnet agent`
 * programs its own `podnet-policy` table through its reconcile loop. Default lab pods: a0 (app=web) and a1 (app=client) on
 * node-0, b (app=web) on node-1, c (app=client) on node-2, each serving HTTP on 8080. Conventions:
 * test/helpers/cli.ts; the lab is torn down in `after` even when a test fails.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cli, needsRoot, netnsWithPrefix, run, uniqueLab } from '../helpers/cli.js';
import { CLIENT } from '../helpers/services.js';
import { tempDir } from '../helpers/tmp.js';

const noEtcd = existsSync('/usr/bin/etcd') ? false : 'needs /usr/bin/etcd (Debian package etcd-server)';
const BIN = '/var/cache/podnet-k8s/v1.20.2';
const noK8s = existsSync(join(BIN, 'kube-apiserver'))
  ? false
  : `no control plane in ${BIN}: run scripts/k8s/build-control-plane.sh (bootstrap does)`;
const STORES = [
  { datastore: 'etcd', title: 'etcd', tag: 'apol', skip: needsRoot || noEtcd },
  { datastore: 'kubernetes', title: 'Kubernetes API', tag: 'kpol', skip: needsRoot || noEtcd || noK8s },
] as const;
for (const s of STORES) if (s.skip) console.log(`# agent-policy (${s.title}): skipped: ${s.skip}`);
const labs: string[] = [];
after(async () => {
  for (const lab of labs) await cli(['lab', 'down', '--name', lab]);
  for (const lab of labs) assert.deepEqual(netnsWithPrefix(`${lab}-`), [], `lab ${lab} left namespaces`);
});

async function podIp(lab: string, pod: string): Promise<string> {
  const r = await run(['ip', '-n', `${lab}-pod-${pod}`, '-j', '-4', 'addr', 'show', 'dev', 'eth0']);
  return JSON.parse(r.stdout)[0].addr_info[0].local;
}

/** Whether one HTTP connection from `from` to `to`:8080 gets an answer within 1 s. */
async function reaches(lab: string, from: string, to: string): Promise<boolean> {
  const r = await run([
    'ip',
    'netns',
    'exec',
    `${lab}-pod-${from}`,
    'python3',
    CLIENT,
    'http',
    await podIp(lab, to),
    '8080',
    '1',
    '--timeout',
    '1',
  ]);
  const j = JSON.parse(r.stdout) as { pods: Record<string, number>; errors: string[] };
  return j.errors.length === 0 && Object.values(j.pods).reduce((a, b) => a + b, 0) === 1;
}

const matrix = async (lab: string, pairs: [string, string][]) =>
  Object.fromEntries(
    await Promise.all(pairs.map(async ([f, t]) => [`${f}->${t}`, await reaches(lab, f, t)])),
  );

const PAIRS: [string, string][] = [
  ['c', 'b'],
  ['a0', 'b'],
  ['a1', 'b'],
  ['b', 'a0'],
  ['c', 'a0'],
];

for (const store of STORES)
  describe(`NetworkPolicy enforced by the agents (${store.title})`, { skip: store.skip }, () => {
    test('apply a policy: denied connections fail, allowed ones flow; relabel and delete take effect through the agents', async () => {
      const lab = uniqueLab(store.tag);
      labs.push(lab);
      const up = await cli([
        'lab',
        'up',
        '--name',
        lab,
        '--agents',
        '--datastore',
        store.datastore,
        '--cross-node',
        'vxlan',
      ]);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      assert.deepEqual(await matrix(lab, PAIRS), {
        'c->b': true,
        'a0->b': true,
        'a1->b': true,
        'b->a0': true,
        'c->a0': true,
      });
      // Only web pods may reach web pods (ingress of every app=web pod).
      const dir = tempDir(`podnet-${store.tag}`);
      const file = join(dir, 'web-only.yaml');
      writeFileSync(
        file,
        `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-only, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
`,
      );
      // An established connection c -> b (an echo server on b:82, a line every 100 ms) must be cut by b's agent.
      const bIp = await podIp(lab, 'b');
      const server = `import socket
s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(("0.0.0.0",82));s.listen()
c,_=s.accept()
while True:
  d=c.recv(100)
  if not d: break
  c.sendall(d)`;
      const client = `import socket,time
for i in range(50):
  try:
    t=socket.create_connection(("${bIp}",82),timeout=2);break
  except OSError: time.sleep(0.2)
for i in range(150):
  try:
    t.sendall(b"x");t.settimeout(0.3);print("tcp" if t.recv(10) else "tcp-closed",flush=True)
  except Exception: print("tcp-fail",flush=True)
  time.sleep(0.1)`;
      // nsenter execs python3 in the pod's network namespace: the child's PID is python's, killed below.
      const bg = (pod: string, code: string) =>
        spawn('nsenter', [`--net=/run/netns/${lab}-pod-${pod}`, 'python3', '-c', code], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      const srv = bg('b', server);
      await new Promise((r) => setTimeout(r, 1000));
      const cl = bg('c', client);
      const lines: string[] = [];
      cl.stdout!.on('data', (d) => lines.push(...String(d).split('\n').filter(Boolean)));
      const t0 = performance.now();
      let inEffect = 0;
      try {
        for (let i = 0; i < 150 && !lines.includes('tcp'); i++) await new Promise((r) => setTimeout(r, 100));
        assert.ok(lines.includes('tcp'), `the client never talked to the server: ${lines.join('|')}`);
        const applied = await cli(['lab', 'policy', 'apply', '--name', lab, '-f', file]);
        assert.equal(applied.code, 0, applied.stdout + applied.stderr);
        inEffect = performance.now() - t0;
        const seen = lines.length;
        for (let i = 0; i < 30 && !lines.slice(seen).includes('tcp-fail'); i++)
          await new Promise((r) => setTimeout(r, 100));
        await new Promise((r) => setTimeout(r, 1000)); // once cut, it stays cut
        const since = lines.slice(seen);
        const cut = since.indexOf('tcp-fail');
        assert.ok(cut >= 0 && !since.slice(cut).includes('tcp'), `not cut: ${since.join('|')}`);
      } finally {
        cl.kill('SIGKILL');
        srv.kill('SIGKILL');
      }
      assert.deepEqual(await matrix(lab, PAIRS), {
        'c->b': false, // client -> web across nodes: denied by node-1's agent
        'a0->b': true, // web -> web: allowed (the peer's address comes from the published pods)
        'a1->b': false,
        'b->a0': true,
        'c->a0': false, // denied by node-0's agent
      });
      // The table is the agents' own: node-1 has b's ingress chain, node-2 (only client pods) none.
      const table = async (node: string) =>
        (
          await run([
            'ip',
            'netns',
            'exec',
            `${lab}-${node}`,
            'nft',
            'list',
            'table',
            'inet',
            'podnet-policy',
          ])
        ).stdout;
      assert.match(await table('node-1'), /chain ingress-b \{/);
      assert.doesNotMatch(await table('node-2'), /chain ingress-/);
      // c becomes a web pod: every agent moves its address into the peers.
      const label = await cli(['lab', 'pod', 'label', '--name', lab, 'c', 'app=web']);
      assert.equal(label.code, 0, label.stdout + label.stderr);
      assert.equal(await reaches(lab, 'c', 'b'), true);
      assert.equal(await reaches(lab, 'a1', 'b'), false);
      // Deleted: everything flows again, and the agents remove their tables.
      const del = await cli(['lab', 'policy', 'delete', '--name', lab, 'default/web-only']);
      assert.equal(del.code, 0, del.stdout + del.stderr);
      assert.equal(await reaches(lab, 'a1', 'b'), true);
      assert.equal(await reaches(lab, 'c', 'a0'), true);
      const gone = await run([
        'ip',
        'netns',
        'exec',
        `${lab}-node-1`,
        'nft',
        'list',
        'table',
        'inet',
        'podnet-policy',
      ]);
      assert.notEqual(gone.code, 0, 'the policy table is gone once no policy exists');
      console.log(
        `# policy apply in effect on every agent after ${Math.round(inEffect)} ms (load ${loadavg()[0]!.toFixed(1)})`,
      );
    });
  });
