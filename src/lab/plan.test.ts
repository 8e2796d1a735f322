import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectGolden } from '../../test/helpers/golden.js';
import { resolveCluster } from '../model/resolve.js';
import { flatten } from '../plan/ops.js';
import { loadSpec } from './spec-source.js';
import { explainUp } from './up.js';

// Golden dry runs: what `podnet lab up --dry-run` prints, fixed under a known state directory.
process.env.PODNET_STATE_DIR = '/run/podnet/labs';

test('the default lab plan (the seed cluster) matches its golden script', async () => {
  const cluster = resolveCluster(loadSpec(undefined, 'default'));
  await expectGolden(await explainUp(cluster, 'podnet'), 'lab/default.sh');
});

test('veth mode plan matches its golden script', async () => {
  const text = `apiVersion: podnet.dev/v1alpha1
kind: Cluster
spec:
  sameNode: veth
  nodes: [{name: node-0, ip: 192.168.64.4}]
  pods: [{name: a0, node: node-0}, {name: a1, node: node-0}]
`;
  const cluster = resolveCluster(loadSpec(text, 'veth'));
  await expectGolden(await explainUp(cluster, 'podnet'), 'lab/veth.sh');
});

test('every command of a dry run carries an explanation', async () => {
  const script = await explainUp(resolveCluster(loadSpec(undefined, 'default')), 'podnet');
  const lines = script.split('\n');
  const commands = lines.filter(
    (l, i) =>
      /^(ip|bridge|unshare|nsenter|install|nft|iptables)/.test(l) &&
      !lines[i - 1]?.startsWith('#') &&
      !/^[A-Z0-9_]+=\$!$/.test(lines[i - 1] ?? ''),
  );
  assert.deepEqual(commands, [], 'commands without a # explanation above them');
  assert.ok(!/\bsh -c\b/.test(script), 'no shell strings');
  void flatten;
});
