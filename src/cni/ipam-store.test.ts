import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cmdStatus } from './check-gc.js';
import { parseConfig } from './config.js';
import { CNI_ERR, CniError } from './errors.js';
import { describeRange, IpamStore } from './ipam-store.js';
import type { PluginDeps } from './plugin.js';

const root = mkdtempSync(join(tmpdir(), 'podnet-ipam-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const storeOf = () => {
  const s = new IpamStore(join(root, `net${n++}`));
  s.ensureDir();
  return s;
};
const rangesOf = (extra: object) =>
  parseConfig({ cniVersion: '1.0.0', name: 'pn', type: 'podnet', ...extra }).ranges;
const owner = (i: number) => ({ containerId: `c${i}`, ifname: 'eth0' });

test('defaults: the first address after the gateway, then round-robin, never the gateway', () => {
  const s = storeOf();
  const r = rangesOf({ subnet: '10.244.1.0/29' });
  const got = [1, 2, 3, 4, 5].map((i) => s.allocate(r, owner(i)).ip.toString());
  assert.deepEqual(got, ['10.244.1.2', '10.244.1.3', '10.244.1.4', '10.244.1.5', '10.244.1.6']);
  s.release('10.244.1.3');
  assert.equal(s.allocate(r, owner(6)).ip.toString(), '10.244.1.3');
});

test('a gateway that is not .1 leaves .1 to pods, as host-local does', () => {
  const s = storeOf();
  const r = rangesOf({ subnet: '10.244.1.0/29', gateway: '10.244.1.6' });
  const got = [1, 2, 3, 4, 5].map((i) => s.allocate(r, owner(i)).ip.toString());
  assert.deepEqual(got, ['10.244.1.1', '10.244.1.2', '10.244.1.3', '10.244.1.4', '10.244.1.5']);
});

test('an explicit range: only rangeStart..rangeEnd, the gateway inside it skipped, then "no free address"', () => {
  const s = storeOf();
  const r = rangesOf({
    subnet: '10.244.1.0/24',
    gateway: '10.244.1.11',
    rangeStart: '10.244.1.10',
    rangeEnd: '10.244.1.13',
  });
  const got = [1, 2, 3].map((i) => s.allocate(r, owner(i)));
  assert.deepEqual(
    got.map((a) => a.ip.toString()),
    ['10.244.1.10', '10.244.1.12', '10.244.1.13'],
  );
  assert.equal(got[0]!.range, r[0]);
  let err: unknown;
  try {
    s.allocate(r, owner(4));
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof CniError);
  assert.equal(err.cniCode, CNI_ERR.RANGE_EXHAUSTED);
  assert.equal(
    err.message,
    `no free address in 10.244.1.10-10.244.1.13 of 10.244.1.0/24 (3 reserved in '${s.dir}')`,
  );
  assert.equal(
    readdirSync(s.dir).filter((f) => /^\d/.test(f)).length,
    3,
    'the failed allocation reserved nothing',
  );
  s.releaseByOwner('c2', 'eth0');
  assert.equal(s.allocate(r, owner(5)).ip.toString(), '10.244.1.12');
});

test('several ranges: round-robin across the set, each inside its own bounds', () => {
  const s = storeOf();
  const r = rangesOf({
    ranges: [
      [
        { subnet: '10.9.0.0/24', rangeStart: '10.9.0.100', rangeEnd: '10.9.0.101' },
        { subnet: '10.9.1.0/24', rangeEnd: '10.9.1.2' },
      ],
    ],
  });
  const got = [1, 2, 3].map((i) => s.allocate(r, owner(i)));
  assert.deepEqual(
    got.map((a) => `${a.ip} in ${a.range.subnet}`),
    ['10.9.0.100 in 10.9.0.0/24', '10.9.0.101 in 10.9.0.0/24', '10.9.1.2 in 10.9.1.0/24'],
  );
  assert.throws(
    () => s.allocate(r, owner(4)),
    /no free address in 10\.9\.0\.100-10\.9\.0\.101 of 10\.9\.0\.0\/24, 10\.9\.1\.1-10\.9\.1\.2 of 10\.9\.1\.0\/24/,
  );
  s.release('10.9.0.101');
  s.release('10.9.0.100');
  assert.equal(
    s.allocate(r, owner(5)).ip.toString(),
    '10.9.0.100',
    'after the last range, back to the first',
  );
  assert.equal(s.allocate(r, owner(6)).ip.toString(), '10.9.0.101');
});

test('describeRange shows the bounds only when the config gave some', () => {
  assert.equal(describeRange(rangesOf({ subnet: '10.244.1.0/24' })[0]!), '10.244.1.0/24');
  assert.equal(
    describeRange(rangesOf({ subnet: '10.244.1.0/24', rangeEnd: '10.244.1.9' })[0]!),
    '10.244.1.1-10.244.1.9 of 10.244.1.0/24',
  );
});

test('STATUS counts only the usable range: 3 addresses of a /24 reserved is not ready', async () => {
  const s = storeOf();
  const conf = parseConfig({
    cniVersion: '1.1.0',
    name: 'pn',
    type: 'podnet',
    subnet: '10.244.1.0/24',
    gateway: '10.244.1.11',
    rangeStart: '10.244.1.10',
    rangeEnd: '10.244.1.13',
  });
  const deps = { store: () => s } as unknown as PluginDeps;
  await cmdStatus(conf, deps);
  for (const i of [1, 2]) s.allocate(conf.ranges, owner(i));
  await cmdStatus(conf, deps);
  s.allocate(conf.ranges, owner(3));
  await assert.rejects(cmdStatus(conf, deps), (e) => {
    assert.ok(e instanceof CniError);
    assert.equal(e.cniCode, CNI_ERR.NOT_AVAILABLE);
    assert.match(e.message, /\(3 of 3 reserved\)/);
    return true;
  });
});
