import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cli, needsRoot, netnsWithPrefix, uniqueLab } from '../helpers/cli.js';
import { client, ECHO, waitAnswer } from '../helpers/services.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Churn: a bounded client loop (2,000 connections) runs while the service's endpoints are removed and added
 * again and again (each change a live partial sync on every node). Connections must never fail: the
 * endpoints that stay keep answering, and each sync is one atomic transaction, so no client ever sees a
 * half-updated service.
 */

const labs: string[] = [];
after(async () => {
  for (const l of labs) await cli(['lab', 'down', '--name', l]);
  for (const l of labs) assert.deepEqual(netnsWithPrefix(`${l}-`), [], `lab ${l} left namespaces`);
});

const echo = (name: string, node: string, tier: string) =>
  `    - {name: ${name}, node: ${node}, labels: {app: churn, tier: ${tier}}, containers: [{name: echo, command: [python3, ${ECHO}, ${name}, '9000']}]}`;

const spec = (proxy: string) => `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: churn}
spec:
  crossNode: vxlan
  proxy: ${proxy}
  egressMasquerade: false
  outside: true
  nodes: [{name: node-0, ip: 192.168.64.4}, {name: node-1, ip: 192.168.64.5}]
  pods:
    - {name: client, node: node-0, labels: {app: client}}
${echo('s1', 'node-0', 'stable')}
${echo('s2', 'node-1', 'stable')}
${echo('f1', 'node-0', 'flap')}
${echo('f2', 'node-1', 'flap')}
  services:
    - metadata: {name: churn}
      spec: {clusterIP: 10.96.0.10, selector: {app: churn}, ports: [{port: 9000}]}
`;

const service = (selector: string) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: churn}\nspec: {clusterIP: 10.96.0.10, selector: ${selector}, ports: [{port: 9000}]}\n`;

for (const mode of ['nftables', 'iptables'] as const) {
  describe(`service churn, ${mode} proxy (real kernel)`, { skip: needsRoot }, () => {
    test('2,000 connections while endpoints come and go: none fails', async () => {
      const lab = uniqueLab(mode === 'nftables' ? 'cn' : 'ci');
      labs.push(lab);
      const dir = tempDir('podnet-churn');
      writeFileSync(join(dir, 'cluster.yaml'), spec(mode));
      writeFileSync(join(dir, 'stable.yaml'), service('{tier: stable}'));
      writeFileSync(join(dir, 'all.yaml'), service('{app: churn}'));
      const up = await cli(['lab', 'up', '--name', lab, '-f', join(dir, 'cluster.yaml')]);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      const clientNs = `${lab}-pod-client`;
      for (const ip of ['10.200.0.3', '10.200.0.4', '10.200.1.2', '10.200.1.3'])
        await waitAnswer(clientNs, 'tcp', ip, 9000);

      let done = false;
      const loop = client(clientNs, 'tcp', '10.96.0.10', 9000, 2000, [
        '--timeout',
        '3',
        '--interval',
        '0.003',
      ]).finally(() => {
        done = true;
      });
      let flips = 0;
      while (!done) {
        const r = await cli([
          'lab',
          'service',
          'add',
          '--name',
          lab,
          '-f',
          join(dir, flips % 2 === 0 ? 'stable.yaml' : 'all.yaml'),
        ]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        flips++;
      }
      const report = await loop;
      assert.ok(flips >= 4, `endpoints changed ${flips} times during the loop`);
      assert.deepEqual(report.errors, [], `failed connections during churn (${flips} endpoint changes)`);
      const total = Object.values(report.pods).reduce((a, b) => a + b, 0);
      assert.equal(total, 2000);
      for (const p of Object.keys(report.pods))
        assert.ok(['s1', 's2', 'f1', 'f2'].includes(p), `answer from ${p}`);
      assert.ok((report.pods.s1 ?? 0) > 0 && (report.pods.s2 ?? 0) > 0, JSON.stringify(report.pods));

      // egressMasquerade: false: a pod's packets reach the outside with the pod's own source, and the router,
      // which knows no pod network, cannot answer; the node itself still can.
      await waitAnswer(`${lab}-node-0`, 'tcp', '203.0.113.10', 80);
      const out = await client(clientNs, 'tcp', '203.0.113.10', 80, 2, ['--timeout', '1']);
      assert.equal(out.errors.length, 2, 'no masquerade, no way back');
    });
  });
}
