import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeConfig, parseConfig } from './config.js';
import { CNI_ERR, CniError } from './errors.js';

const base = { cniVersion: '1.0.0', name: 'pn', type: 'podnet', subnet: '10.244.1.0/24' };

const codeOf = (fn: () => unknown): { code: number; msg: string } => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CniError, `expected CniError, got ${e}`);
    return { code: e.cniCode, msg: e.message };
  }
  assert.fail('expected an error');
};

test('a minimal configuration gets the documented defaults', () => {
  const c = parseConfig(base);
  assert.equal(c.bridge, 'podnet0');
  assert.equal(c.mtu, 1500);
  assert.equal(c.isGateway, true);
  assert.equal(c.isDefaultGateway, true);
  assert.equal(c.hairpinMode, false);
  assert.equal(c.ipMasq, false);
  assert.equal(c.dataDir, '/var/lib/cni/podnet');
  assert.equal(c.ranges.length, 1);
  assert.equal(c.ranges[0]!.subnet.toString(), '10.244.1.0/24');
  assert.equal(c.ranges[0]!.gateway.toString(), '10.244.1.1');
});

test('host-local style ranges with an explicit gateway are accepted', () => {
  const c = parseConfig({
    ...base,
    subnet: undefined,
    ranges: [[{ subnet: '10.9.0.0/24', gateway: '10.9.0.254' }, { subnet: '10.9.1.0/24' }]],
    ipam: { dataDir: '/tmp/x' },
  });
  assert.deepEqual(
    c.ranges.map((r) => `${r.subnet} ${r.gateway}`),
    ['10.9.0.0/24 10.9.0.254', '10.9.1.0/24 10.9.1.1'],
  );
  assert.equal(c.dataDir, '/tmp/x');
});

test('every problem of a bad configuration is listed in one code-7 error', () => {
  const { code, msg } = codeOf(() =>
    parseConfig({
      ...base,
      name: '../etc',
      subnet: '10.244.1.0/33',
      bridge: 'a-very-long-bridge-name',
      mtu: 10,
      hairpinMode: 'yes',
      ipam: { dataDir: 'relative/dir' },
    }),
  );
  assert.equal(code, CNI_ERR.INVALID_CONFIG);
  for (const part of [
    "name: '../etc'",
    "subnet: '10.244.1.0/33'",
    'bridge:',
    'mtu: 10',
    'hairpinMode',
    'ipam.dataDir',
  ])
    assert.ok(msg.includes(part), `${part} missing in: ${msg}`);
});

test('CIDRs with host bits, gateways outside the subnet and overlapping ranges are refused', () => {
  assert.match(codeOf(() => parseConfig({ ...base, subnet: '10.244.1.5/24' })).msg, /zero host bits/);
  assert.match(codeOf(() => parseConfig({ ...base, gateway: '10.0.0.1' })).msg, /not a host address/);
  assert.match(
    codeOf(() =>
      parseConfig({
        ...base,
        subnet: undefined,
        ranges: [[{ subnet: '10.1.0.0/16' }, { subnet: '10.1.2.0/24' }]],
      }),
    ).msg,
    /overlaps/,
  );
  assert.match(codeOf(() => parseConfig({ ...base, subnet: undefined })).msg, /subnet: is required/);
});

test('an unknown cniVersion is code 1, a foreign IPAM type code 2, bad JSON code 6', () => {
  assert.equal(
    codeOf(() => parseConfig({ ...base, cniVersion: '0.2.0' })).code,
    CNI_ERR.INCOMPATIBLE_VERSION,
  );
  assert.equal(
    codeOf(() => parseConfig({ ...base, cniVersion: '9.9.9' })).code,
    CNI_ERR.INCOMPATIBLE_VERSION,
  );
  assert.equal(
    codeOf(() => parseConfig({ ...base, ipam: { type: 'host-local' } })).code,
    CNI_ERR.UNSUPPORTED_FIELD,
  );
  assert.equal(codeOf(() => decodeConfig('{"cniVersion": ')).code, CNI_ERR.DECODE);
  assert.equal(codeOf(() => decodeConfig('[1,2]')).code, CNI_ERR.DECODE);
});

test('GC attachments are read from cni.dev/valid-attachments', () => {
  const c = parseConfig({ ...base, 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] });
  assert.deepEqual(c.validAttachments, [{ containerID: 'a', ifname: 'eth0' }]);
  assert.equal(codeOf(() => parseConfig({ ...base, 'cni.dev/valid-attachments': [{ id: 1 }] })).code, 7);
});
