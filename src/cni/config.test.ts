import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeConfig, parseConfig, unknownFields } from './config.js';
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

test('rangeStart/rangeEnd are absent by default, and read next to subnet or inside each range', () => {
  const d = parseConfig(base).ranges[0]!;
  assert.equal(d.start, undefined);
  assert.equal(d.end, undefined);
  const s = parseConfig({ ...base, rangeStart: '10.244.1.10', rangeEnd: '10.244.1.20' }).ranges[0]!;
  assert.equal(`${s.start}-${s.end} gw ${s.gateway}`, '10.244.1.10-10.244.1.20 gw 10.244.1.1');
  const r = parseConfig({
    ...base,
    subnet: undefined,
    ranges: [
      [
        { subnet: '10.9.0.0/24', rangeStart: '10.9.0.100' },
        { subnet: '10.9.1.0/24', rangeEnd: '10.9.1.50', gateway: '10.9.1.20' },
      ],
    ],
  }).ranges;
  assert.deepEqual(
    r.map((x) => `${x.start}-${x.end} gw ${x.gateway}`),
    ['10.9.0.100-undefined gw 10.9.0.1', 'undefined-10.9.1.50 gw 10.9.1.20'],
  );
  // A gateway inside the range is accepted (it is skipped when allocating).
  const g = parseConfig({ ...base, rangeStart: '10.244.1.1', rangeEnd: '10.244.1.3' }).ranges[0]!;
  assert.equal(`${g.start}-${g.end}`, '10.244.1.1-10.244.1.3');
});

test('bad rangeStart/rangeEnd are all listed in one code-7 error with path and value', () => {
  const { code, msg } = codeOf(() =>
    parseConfig({
      ...base,
      subnet: undefined,
      rangeStart: '10.9.0.5',
      ranges: [
        [
          { subnet: '10.9.0.0/24', rangeStart: '10.9.0.300', rangeEnd: 7 },
          { subnet: '10.9.1.0/24', rangeStart: '10.9.2.1' },
          { subnet: '10.9.3.0/24', rangeEnd: '10.9.3.255' },
          { subnet: '10.9.4.0/24', rangeStart: '10.9.4.0' },
          { subnet: '10.9.5.0/24', rangeStart: '10.9.5.20', rangeEnd: '10.9.5.10' },
          { subnet: '10.9.6.0/24', rangeStart: '10.9.6.1', rangeEnd: '10.9.6.1' },
        ],
      ],
    }),
  );
  assert.equal(code, CNI_ERR.INVALID_CONFIG);
  for (const part of [
    "rangeStart: '10.9.0.5' goes with subnet",
    "ranges[0][0].rangeStart: '10.9.0.300' is not an IPv4 address",
    'ranges[0][0].rangeEnd: 7 is not an IPv4 address',
    "ranges[0][1].rangeStart: '10.9.2.1' is not a host address of 10.9.1.0/24",
    "ranges[0][2].rangeEnd: '10.9.3.255' is not a host address of 10.9.3.0/24",
    "ranges[0][3].rangeStart: '10.9.4.0' is not a host address of 10.9.4.0/24",
    "ranges[0][4].rangeEnd: '10.9.5.10' is before rangeStart '10.9.5.20'",
    'ranges[0][5].rangeStart: 10.9.6.1-10.9.6.1 holds no address but the gateway 10.9.6.1',
  ])
    assert.ok(msg.includes(part), `${part} missing in: ${msg}`);
  // The subnet form names the top-level fields.
  const top = codeOf(() => parseConfig({ ...base, rangeStart: '10.244.2.1', rangeEnd: 'x' })).msg;
  assert.match(top, /rangeStart: '10\.244\.2\.1' is not a host address of 10\.244\.1\.0\/24/);
  assert.match(top, /rangeEnd: 'x' is not an IPv4 address/);
});

test('rangeStart/rangeEnd are known fields (no unknown-field warning)', () => {
  assert.deepEqual(unknownFields({ ...base, rangeStart: '10.244.1.10', rangeEnd: '10.244.1.20' }), []);
});
