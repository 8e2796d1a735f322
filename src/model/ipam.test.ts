import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cidr, Ip } from '../net/ip.js';
import { allocateNodeCidrs, allocatePodIps, gatewayOf, nextFreeIp, podCapacity } from './ipam.js';

const cluster = Cidr.parse('10.200.0.0/16');

test('node CIDRs: in order, pinned honoured, previous kept, exhaustion reported', () => {
  const { assigned } = allocateNodeCidrs(cluster, 24, [
    { name: 'node-0' },
    { name: 'node-1' },
    { name: 'node-2' },
  ]);
  assert.deepEqual([...assigned.values()].map(String), ['10.200.0.0/24', '10.200.1.0/24', '10.200.2.0/24']);

  const pinned = allocateNodeCidrs(cluster, 24, [
    { name: 'a' },
    { name: 'b', pinned: Cidr.parse('10.200.0.0/24') },
  ]);
  assert.equal(pinned.assigned.get('b')!.toString(), '10.200.0.0/24');
  assert.equal(pinned.assigned.get('a')!.toString(), '10.200.1.0/24', 'skips the pinned subnet');

  const previous = new Map([['node-1', Cidr.parse('10.200.7.0/24')]]);
  const kept = allocateNodeCidrs(cluster, 24, [{ name: 'node-0' }, { name: 'node-1' }], previous);
  assert.equal(kept.assigned.get('node-1')!.toString(), '10.200.7.0/24');

  const small = allocateNodeCidrs(Cidr.parse('10.200.0.0/23'), 24, [
    { name: 'a' },
    { name: 'b' },
    { name: 'c' },
  ]);
  assert.deepEqual(small.exhausted, ['c']);
});

test("pod IPs: .1 is the gateway, the seed's addresses come out in order", () => {
  const node0 = Cidr.parse('10.200.0.0/24');
  assert.equal(gatewayOf(node0).toString(), '10.200.0.1');
  assert.equal(podCapacity(node0), 253);
  const { assigned } = allocatePodIps(node0, [{ name: 'a0' }, { name: 'a1' }]);
  assert.equal(assigned.get('a0')!.toString(), '10.200.0.2');
  assert.equal(assigned.get('a1')!.toString(), '10.200.0.3');
});

test('pod IPs: pinned first, previous kept, the rest fill gaps; a full range is reported', () => {
  const c = Cidr.parse('10.200.0.0/29'); // usable .2-.6
  const { assigned, exhausted } = allocatePodIps(
    c,
    [
      { name: 'x' },
      { name: 'y', pinned: Ip.parse('10.200.0.2') },
      { name: 'z' },
      { name: 'p' },
      { name: 'q' },
      { name: 'r' },
    ],
    new Map([['z', Ip.parse('10.200.0.6')]]),
  );
  assert.equal(assigned.get('y')!.toString(), '10.200.0.2');
  assert.equal(assigned.get('z')!.toString(), '10.200.0.6');
  assert.equal(assigned.get('x')!.toString(), '10.200.0.3');
  assert.deepEqual(exhausted, ['r']);
});

test('nextFreeIp is round-robin after the last allocation and wraps around', () => {
  const c = Cidr.parse('10.0.0.0/29');
  assert.equal(nextFreeIp(c, new Set())!.toString(), '10.0.0.2');
  assert.equal(nextFreeIp(c, new Set(), Ip.parse('10.0.0.4'))!.toString(), '10.0.0.5');
  assert.equal(
    nextFreeIp(c, new Set([Ip.parse('10.0.0.2').value]), Ip.parse('10.0.0.6'))!.toString(),
    '10.0.0.3',
  );
  const all = new Set([2, 3, 4, 5, 6].map((n) => Ip.parse(`10.0.0.${n}`).value));
  assert.equal(nextFreeIp(c, all), undefined);
  assert.equal(nextFreeIp(Cidr.parse('10.0.0.0/31'), new Set()), undefined, 'no room for gateway and a pod');
});
