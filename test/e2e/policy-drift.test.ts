/**
 * NetworkPolicy through the node loop on the real kernel: a lab with a policy comes up in sync (reconcile runs
 * zero kernel-changing commands), a podnet-policy element, rule or the whole table removed by hand is named by
 * `lab verify` and repaired by `lab reconcile` (after which it is in sync again), and deleting the last policy
 * removes the table on the next sync.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cli, needsRoot, netnsWithPrefix, run, uniqueLab } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const lab = uniqueLab('pd');
after(async () => {
  await cli(['lab', 'down', '--name', lab]);
  assert.deepEqual(netnsWithPrefix(`${lab}-`), [], `lab ${lab} left namespaces`);
});

// Pod a is isolated for ingress, and every address is allowed: a full table, and verify's probes all pass.
const FILE = `apiVersion: podnet.dev/v1alpha1
kind: Cluster
spec:
  crossNode: host-gw
  nodes: [{name: node-0, ip: 192.168.64.4}, {name: node-1, ip: 192.168.64.5}]
  pods: [{name: a, node: node-0, labels: {app: a}}, {name: b, node: node-1, labels: {app: b}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open-a, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]
`;

interface VerifyJson {
  failed: number;
  nodes: { node: string; drift: string[] }[];
}
const verify = async () => {
  const v = await cli(['lab', 'verify', '--name', lab, '--json'], { env: { PODNET_PROBE_TIMEOUT_S: '5' } });
  return { code: v.code, r: JSON.parse(v.stdout) as VerifyJson };
};
const reconcile = async () => {
  const r = await cli(['lab', 'reconcile', '--name', lab, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { drift: string[]; commands: number };
};
const nft = async (...a: string[]) => {
  const r = await run(['ip', 'netns', 'exec', `${lab}-node-0`, 'nft', ...a]);
  assert.equal(r.code, 0, `nft ${a.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

describe(
  'NetworkPolicy drift: verify names it, reconcile repairs it (real kernel)',
  { skip: needsRoot },
  () => {
    test('healthy, an element, a rule, the table; then the last policy deleted', async () => {
      const dir = tempDir('podnet-policy-drift');
      writeFileSync(join(dir, 'lab.yaml'), FILE);
      const up = await cli(['lab', 'up', '--name', lab, '-f', join(dir, 'lab.yaml')]);
      assert.equal(up.code, 0, up.stderr);
      assert.match(await nft('list', 'set', 'inet', 'podnet-policy', 'ingress-a-any'), /0\.0\.0\.0\/0/);

      const healthy = await reconcile();
      assert.deepEqual(healthy.drift, []);
      assert.equal(healthy.commands, 0, 'zero kernel-changing commands on a healthy lab with a policy');

      const cases: [string, () => Promise<unknown>, RegExp][] = [
        [
          'an element',
          () => nft('delete', 'element', 'inet', 'podnet-policy', 'ingress-a-any', '{ 0.0.0.0/0 }'),
          /^node-0: policy table differs \(set ingress-a-any missing 0\.0\.0\.0\/0\)$/,
        ],
        [
          'a rule of the base chain',
          async () => {
            const chain = await nft('-a', 'list', 'chain', 'inet', 'podnet-policy', 'pod-forward');
            const handle = /its ingress chain" # handle (\d+)/.exec(chain)![1]!;
            return nft('delete', 'rule', 'inet', 'podnet-policy', 'pod-forward', 'handle', handle);
          },
          /^node-0: policy table damaged \(base chain pod-forward differs\)$/,
        ],
        [
          'the table',
          () => nft('delete', 'table', 'inet', 'podnet-policy'),
          /^node-0: policy table missing$/,
        ],
      ];
      for (const [what, breakIt, line] of cases) {
        await breakIt();
        const broken = await verify();
        assert.equal(broken.code, 3, what);
        const lines = broken.r.nodes.flatMap((n) => n.drift);
        assert.ok(
          lines.some((l) => line.test(l)),
          `${what}: verify names ${line}: ${lines.join(' | ')}`,
        );
        const fix = await reconcile();
        assert.deepEqual(fix.drift, lines, what);
        assert.ok(fix.commands >= 1 && fix.commands <= 2, `${what}: ${fix.commands} command(s)`);
        const healed = await verify();
        assert.deepEqual(
          healed.r.nodes.flatMap((n) => n.drift),
          [],
          what,
        );
        assert.equal(healed.code, 0, `${what}: verify after reconcile`);
        assert.equal((await reconcile()).commands, 0, `${what}: in sync after the repair`);
      }

      // The last policy deleted: the next sync removes the table, and nothing is left to repair.
      const del = await cli(['lab', 'policy', 'delete', '--name', lab, 'default/open-a']);
      assert.equal(del.code, 0, del.stderr);
      assert.doesNotMatch(await nft('list', 'tables'), /podnet-policy/);
      assert.equal((await reconcile()).commands, 0);
    });
  },
);
