import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli, needsRoot, netnsWithPrefix, uniqueLab } from '../helpers/cli.js';
import { type ClientReport, client, servicesSpec, uniformBounds, waitAnswer } from '../helpers/services.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The seed's service cases on a real kernel, in both proxy modes: client on a node without endpoints (c),
 * client on an endpoint's node (a1), client that is itself an endpoint (a0, hairpin), several endpoints on one
 * node, plus UDP with conntrack flushing, NodePort, sessionAffinity, internalTrafficPolicy Local, rejection
 * without endpoints, egress masquerade, and live service add/remove.
 */

const labs: string[] = [];
after(async () => {
  for (const l of labs) await cli(['lab', 'down', '--name', l]);
  for (const l of labs) assert.deepEqual(netnsWithPrefix(`${l}-`), [], `lab ${l} left namespaces`);
});

function assertUniform(r: ClientReport, endpoints: string[], n: number): void {
  assert.deepEqual(r.errors, [], 'no failed connection');
  assert.deepEqual(
    Object.keys(r.pods).sort(),
    [...endpoints].sort(),
    `answers from every endpoint and only them: ${JSON.stringify(r.pods)}`,
  );
  const [lo, hi] = uniformBounds(n, endpoints.length);
  for (const e of endpoints) {
    const got = r.pods[e] ?? 0;
    assert.ok(
      got >= lo && got <= hi,
      `${e} answered ${got} of ${n}; a uniform choice gives ${lo}-${hi}: ${JSON.stringify(r.pods)}`,
    );
  }
}

for (const mode of ['nftables', 'iptables'] as const) {
  describe(`services, ${mode} proxy (real kernel)`, { skip: needsRoot }, () => {
    const lab = uniqueLab(mode === 'nftables' ? 'sn' : 'si');
    /** Every node as a whole sync would leave it: partial syncs left no drift. */
    const inSync = async () => {
      const r = await cli(['lab', 'reconcile', '--name', lab, '--dry-run', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).drift, [], r.stdout);
    };
    const ns = (n: string) => `${lab}-${n}`;
    const pod = (p: string) => `${lab}-pod-${p}`;
    const N = 400;

    before(async () => {
      labs.push(lab);
      const dir = tempDir('podnet-svc');
      const file = join(dir, 'cluster.yaml');
      writeFileSync(file, servicesSpec(mode));
      const up = await cli(['lab', 'up', '--name', lab, '-f', file]);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      for (const e of ['e1', 'e2', 'e3'])
        await waitAnswer(pod('c'), 'tcp', `10.200.2.${2 + ['c', 'e1', 'e2', 'e3'].indexOf(e)}`, 9000);
      await waitAnswer(ns('node-0'), 'tcp', '203.0.113.10', 80);
    });

    test('case 1: client c on a node with no endpoint reaches a0 and b, uniformly', async () => {
      assertUniform(await client(pod('c'), 'http', '10.96.0.2', 8080, N), ['a0', 'b'], N);
    });

    test('case 2: client a1 on the node of endpoint a0 reaches a0 and b, uniformly', async () => {
      assertUniform(await client(pod('a1'), 'http', '10.96.0.2', 8080, N), ['a0', 'b'], N);
    });

    test('case 3: a0, itself an endpoint, reaches b AND itself (hairpin + masquerade)', async () => {
      assertUniform(await client(pod('a0'), 'http', '10.96.0.2', 8080, N), ['a0', 'b'], N);
    });

    test('case 4: several endpoints on one node, from that node and from another; client IP preserved', async () => {
      const same = await client(pod('c'), 'tcp', '10.96.0.3', 9000, N);
      assertUniform(same, ['e1', 'e2', 'e3'], N);
      assert.deepEqual(Object.keys(same.clients), ['10.200.2.2'], 'servers see c itself: no masquerade');
      const other = await client(pod('a1'), 'tcp', '10.96.0.3', 9000, N);
      assertUniform(other, ['e1', 'e2', 'e3'], N);
      assert.deepEqual(Object.keys(other.clients), ['10.200.0.3'], 'servers see a1 itself across nodes');
    });

    test('UDP: answered by the endpoints; removing the endpoint a flow uses flushes its conntrack entry', async () => {
      const spread = await client(pod('a1'), 'udp', '10.96.0.4', 9000, 60);
      assert.deepEqual(spread.errors, []);
      assert.deepEqual(Object.keys(spread.pods).sort(), ['e1', 'e2']);
      // One source port: one conntrack entry, so every datagram goes to the same endpoint.
      const pinned = await client(pod('a1'), 'udp', '10.96.0.4', 9000, 5, ['--src-port', '40001']);
      assert.deepEqual(pinned.errors, []);
      const [used, ...others] = Object.keys(pinned.pods);
      assert.equal(others.length, 0, 'one flow, one endpoint');
      const keep = used === 'e1' ? 'e2' : 'e1';
      const svc = join(tempDir('podnet-svc'), 'svc.yaml');
      writeFileSync(
        svc,
        `apiVersion: v1\nkind: Service\nmetadata: {name: echo-udp}\nspec: {clusterIP: 10.96.0.4, selector: {pod: ${keep}}, ports: [{name: udp, protocol: UDP, port: 9000}]}\n`,
      );
      const add = await cli(['lab', 'service', 'add', '--name', lab, '-f', svc]);
      assert.equal(add.code, 0, add.stdout + add.stderr);
      const afterRemoval = await client(pod('a1'), 'udp', '10.96.0.4', 9000, 5, ['--src-port', '40001']);
      assert.deepEqual(afterRemoval.errors, []);
      assert.deepEqual(
        Object.keys(afterRemoval.pods),
        [keep],
        `the same flow now reaches ${keep}, not the removed ${used}`,
      );
    });

    test('NodePort from another node: Cluster policy masquerades, Local policy keeps the client IP', async () => {
      const cluster = await client(ns('node-0'), 'tcp', '192.168.64.5', 30090, 30);
      assert.deepEqual(cluster.errors, []);
      assert.ok(Object.keys(cluster.pods).every((p) => ['e1', 'e2', 'e3'].includes(p)));
      assert.ok(
        !('192.168.64.4' in cluster.clients),
        `node-1 masquerades: ${JSON.stringify(cluster.clients)}`,
      );
      const local = await client(ns('node-0'), 'tcp', '192.168.64.6', 30091, 30);
      assert.deepEqual(local.errors, []);
      assert.deepEqual(
        Object.keys(local.clients),
        ['192.168.64.4'],
        'externalTrafficPolicy Local: client IP preserved',
      );
      const none = await client(ns('node-0'), 'tcp', '192.168.64.5', 30091, 1, ['--timeout', '1']);
      assert.equal(none.errors.length, 1, 'Local policy on a node without endpoints: refused');
    });

    test('sessionAffinity ClientIP pins a client to one endpoint', async () => {
      const r = await client(pod('a1'), 'tcp', '10.96.0.5', 9000, 40);
      assert.deepEqual(r.errors, []);
      assert.equal(Object.keys(r.pods).length, 1, `one endpoint for one client: ${JSON.stringify(r.pods)}`);
    });

    test('internalTrafficPolicy Local: only the node own endpoint; none on the node: refused', async () => {
      const r = await client(pod('a1'), 'http', '10.96.0.6', 8080, 50);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.pods, { a0: 50 });
      const c = await client(pod('c'), 'http', '10.96.0.6', 8080, 1, ['--timeout', '1']);
      assert.equal(c.errors.length, 1);
    });

    test('a service without endpoints rejects at once instead of hanging', async () => {
      const r = await client(pod('a1'), 'tcp', '10.96.0.7', 80, 3, ['--timeout', '3']);
      assert.equal(r.errors.length, 3);
      assert.ok(
        r.errors.every((e) => /refused/i.test(e)),
        r.errors.join('; '),
      );
      assert.ok(r.seconds < 1, `rejected in ${r.seconds} s`);
    });

    test('egress: pods reach the outside as their node; pod-to-pod stays unmasqueraded', async () => {
      const out = await client(pod('a1'), 'tcp', '203.0.113.10', 80, 5);
      assert.deepEqual(out.errors, []);
      assert.deepEqual(out.clients, { '192.168.64.4': 5 }, 'the outside sees node-0');
      const fromB = await client(pod('b'), 'tcp', '203.0.113.10', 80, 5);
      assert.deepEqual(fromB.clients, { '192.168.64.5': 5 }, 'the outside sees node-1');
      const direct = await client(pod('a1'), 'tcp', '10.200.2.3', 9000, 5);
      assert.deepEqual(direct.clients, { '10.200.0.3': 5 }, 'pod to pod across nodes: the real pod IP');
    });

    test('verify checks every service from every pod', async () => {
      const v = await cli(['lab', 'verify', '--name', lab, '--json']);
      const r = JSON.parse(v.stdout);
      const bad = [
        ...r.results.filter((x: { ok: boolean }) => !x.ok),
        ...r.sharedNs.filter((x: { ok: boolean }) => !x.ok),
        ...r.services.filter((x: { ok: boolean }) => !x.ok),
      ];
      assert.equal(v.code, 0, `verify failed: ${JSON.stringify(bad)}${v.stderr}`);
      assert.ok(r.services.length > 0, 'a services section');
      assert.ok(
        r.services.some(
          (s: { service: string; from: string }) => s.service === 'default/web:http' && s.from === 'a0',
        ),
      );
    });

    test('pod add and remove update the endpoints live', async () => {
      const add = await cli([
        'lab',
        'pod',
        'add',
        '--name',
        lab,
        'a2',
        '--node',
        'node-1',
        '--label',
        'app=web',
      ]);
      assert.equal(add.code, 0, add.stdout + add.stderr);
      await waitAnswer(pod('c'), 'http', '10.200.1.3', 8080);
      const three = await client(pod('c'), 'http', '10.96.0.2', 8080, 300);
      assertUniform(three, ['a0', 'a2', 'b'], 300);
      const rm = await cli(['lab', 'pod', 'remove', '--name', lab, 'a2']);
      assert.equal(rm.code, 0, rm.stdout + rm.stderr);
      const two = await client(pod('c'), 'http', '10.96.0.2', 8080, 100);
      assertUniform(two, ['a0', 'b'], 100);
      await inSync();
    });

    test('service add and remove change every node live', async () => {
      const add = await cli([
        'lab',
        'service',
        'add',
        '--name',
        lab,
        'extra',
        '--selector',
        'app=web',
        '--port',
        '81:8080',
        '--cluster-ip',
        '10.96.0.50',
      ]);
      assert.equal(add.code, 0, add.stdout + add.stderr);
      assert.match(add.stdout, /default\/extra 10\.96\.0\.50/);
      const r = await client(pod('c'), 'http', '10.96.0.50', 81, 20);
      assert.deepEqual(r.errors, []);
      const rm = await cli(['lab', 'service', 'remove', '--name', lab, 'extra']);
      assert.equal(rm.code, 0, rm.stdout + rm.stderr);
      // The add left each node's counts; the removal then plans from the removed Service alone (nftables).
      if (mode === 'nftables') {
        const n = /synced (\d+) node\(s\)/.exec(rm.stdout)?.[1];
        assert.match(rm.stdout, new RegExp(`; ${n} from the touched service\\(s\\) alone`), rm.stdout);
      }
      const gone = await client(pod('c'), 'http', '10.96.0.50', 81, 1, ['--timeout', '1']);
      assert.equal(gone.errors.length, 1, 'removed: no portal any more');
      await inSync();
      const bad = await cli([
        'lab',
        'service',
        'add',
        '--name',
        lab,
        'x',
        '--selector',
        'app=web',
        '--port',
        'eighty',
      ]);
      assert.equal(bad.code, 2, 'bad input is exit 2');
    });
  });
}
