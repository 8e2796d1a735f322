import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CniResult, convertResult, versionInfo } from './version.js';

const full: CniResult = {
  cniVersion: '1.1.0',
  interfaces: [
    { name: 'podnet0' },
    { name: 'pn12345678' },
    { name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1500, sandbox: '/run/netns/x' },
  ],
  ips: [{ address: '10.244.1.2/24', gateway: '10.244.1.1', interface: 2 }],
  routes: [{ dst: '0.0.0.0/0', gw: '10.244.1.1', mtu: 1400 }],
  dns: {},
};

test('1.1.0 keeps the fields 1.1.0 added', () => {
  const r = convertResult(full, '1.1.0');
  assert.equal(r.interfaces![2]!.mtu, 1500);
  assert.equal(r.routes![0]!.mtu, 1400);
});

test('1.0.0 drops interface and route fields that only 1.1.0 knows', () => {
  const r = convertResult(full, '1.0.0');
  assert.equal(r.cniVersion, '1.0.0');
  assert.deepEqual(r.interfaces![2], { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/x' });
  assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0', gw: '10.244.1.1' }]);
  assert.equal(r.ips![0]!.version, undefined);
});

test('0.4.0, 0.3.1 and 0.3.0 results carry ips[].version', () => {
  for (const v of ['0.4.0', '0.3.1', '0.3.0'] as const) {
    const r = convertResult(full, v);
    assert.equal(r.cniVersion, v);
    assert.deepEqual(r.ips, [
      { address: '10.244.1.2/24', gateway: '10.244.1.1', interface: 2, version: '4' },
    ]);
  }
});

test('VERSION answers with the requested version when supported and lists all five', () => {
  assert.deepEqual(versionInfo('0.4.0'), {
    cniVersion: '0.4.0',
    supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
  });
  assert.equal(versionInfo('7.0.0').cniVersion, '1.1.0');
});
