import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../errors.js';
import { parseAgentConfig } from './config.js';

test('agent config: --datastore kubernetes needs no etcd endpoints and takes an absolute --kubeconfig', () => {
  const c = parseAgentConfig({
    node: 'node-1',
    datastore: 'kubernetes',
    kubeconfig: '/etc/podnet/kubeconfig',
  });
  assert.equal(c.datastore, 'kubernetes');
  assert.equal(c.kubeconfig, '/etc/podnet/kubeconfig');
  assert.equal(parseAgentConfig({ node: 'node-1', datastore: 'kubernetes' }).kubeconfig, undefined);
});

test('agent config: --kubeconfig is refused with etcd and when relative', () => {
  const issues = (flags: Record<string, string>) => {
    try {
      parseAgentConfig(flags);
      return [];
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.issues.map((i) => `${i.path}: ${i.message}`);
    }
  };
  assert.deepEqual(
    issues({ node: 'n', datastore: 'etcd', etcdEndpoints: 'http://1.2.3.4:2379', kubeconfig: '/k' }),
    ['--kubeconfig: goes with --datastore kubernetes'],
  );
  assert.deepEqual(issues({ node: 'n', datastore: 'kubernetes', kubeconfig: 'k.yaml' }), [
    "--kubeconfig: 'k.yaml' is not an absolute path",
  ]);
});
