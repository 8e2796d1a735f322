import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../errors.js';
import { parseAgentConfig } from './config.js';

test('agent config: every problem of flags and file is listed at once, each naming where it came from', () => {
  const file = { source: 'agent.yaml', text: 'node: n1\nproxy: ipvs\nleaseTTL: 10\nresyncSeconds: -1\n' };
  try {
    parseAgentConfig({ etcdEndpoints: 'http://10.0.0.1:2379,ftp://x', iface: 'a-very-long-ifname0' }, file);
    assert.fail('expected ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const lines = e.issues.map((i) => `${i.path}: ${i.message}`);
    assert.deepEqual(lines, [
      "agent.yaml: leaseTTL: unknown field 'leaseTTL'",
      "--datastore: is required: 'etcd' or 'kubernetes'",
      "--etcd-endpoints: 'ftp://x' is not an etcd client URL like http://10.0.0.1:2379 or https://10.0.0.1:2379",
      "agent.yaml: proxy: 'ipvs' is not one of nftables, iptables, none",
      "--iface: 'a-very-long-ifname0' is 19 characters; interface names allow at most 15",
      "agent.yaml: resyncSeconds: '-1' is not a whole number of seconds from 1 to 3600",
    ]);
  }
});

test('agent config: flags override the file; defaults fill the rest', () => {
  const c = parseAgentConfig(
    {
      node: 'n2',
      datastore: 'etcd',
      etcdEndpoints: 'http://10.0.0.1:2379, http://10.0.0.2:2379',
      listen: '0.0.0.0:0',
    },
    { source: 'f.json', text: '{"node": "n1", "backend": "vxlan", "resyncSeconds": 5}' },
  );
  assert.equal(c.node, 'n2');
  assert.equal(c.backend, 'vxlan');
  assert.equal(c.resyncSeconds, 5);
  assert.deepEqual(c.etcdEndpoints, ['http://10.0.0.1:2379', 'http://10.0.0.2:2379']);
  assert.deepEqual(c.listen, { host: '0.0.0.0', port: 0 });
  assert.equal(c.etcdPrefix, '/podnet');
  assert.equal(c.proxy, 'nftables');
  assert.equal(c.leaseTTLSeconds, 60);
  assert.equal(c.cniConfDir, '/etc/cni/net.d');
});

test('the example config in deploy/ is valid', async () => {
  const { readFileSync } = await import('node:fs');
  const path = new URL('../../../deploy/agent.yaml', import.meta.url);
  const c = parseAgentConfig({}, { text: readFileSync(path, 'utf8'), source: 'deploy/agent.yaml' });
  assert.equal(c.etcdEndpoints.length, 3);
  assert.equal(c.backend, 'vxlan');
  const net = readFileSync(new URL('../../../deploy/network-config.json', import.meta.url), 'utf8');
  const { parseNetworkConfig } = await import('./store/network-config.js');
  assert.equal(parseNetworkConfig(net).backend.type, 'vxlan');
});

test('agent config: etcd TLS files need https endpoints, absolute paths, and a certificate with its key', () => {
  try {
    parseAgentConfig({
      node: 'n1',
      datastore: 'etcd',
      etcdEndpoints: 'http://10.0.0.1:2379,https://10.0.0.2:2379',
      etcdCAFile: 'ca.pem',
      etcdCertFile: '/etc/podnet/etcd-client.pem',
    });
    assert.fail('expected ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(
      e.issues.map((i) => `${i.path}: ${i.message}`),
      [
        "--etcd-cafile: 'ca.pem' is not an absolute path",
        '--etcd-certfile: needs its pair: --etcd-certfile and --etcd-keyfile go together',
        "--etcd-endpoints: 'http://10.0.0.1:2379' is plain http, but etcd TLS files are given",
      ],
    );
  }
  const c = parseAgentConfig(
    { node: 'n1', datastore: 'etcd', etcdEndpoints: 'https://10.0.0.1:2379' },
    {
      source: 'agent.yaml',
      text: 'etcdCAFile: /etc/podnet/ca.pem\netcdCertFile: /etc/podnet/c.pem\netcdKeyFile: /etc/podnet/c-key.pem\n',
    },
  );
  assert.equal(c.etcdCAFile, '/etc/podnet/ca.pem');
  assert.equal(c.etcdCertFile, '/etc/podnet/c.pem');
  assert.equal(c.etcdKeyFile, '/etc/podnet/c-key.pem');
  assert.throws(
    () =>
      parseAgentConfig({
        node: 'n1',
        datastore: 'kubernetes',
        etcdCAFile: '/etc/podnet/ca.pem',
      }),
    /--etcd-cafile: goes with --datastore etcd/,
  );
});
