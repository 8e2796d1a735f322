import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cidr, Ip, nextFreeInRanges, nextFreeIp, podCapacity, rangeBounds } from './ipam.js';

const ip = (s: string) => Ip.parse(s);
const used = (...xs: string[]) => new Set(xs.map((x) => ip(x).value));
const at = (r: { ip: Ip; index: number } | undefined) => (r ? `${r.ip}#${r.index}` : 'none');

test('rangeBounds: host-local defaults are network+1 .. broadcast-1, gateway network+1', () => {
  const b = rangeBounds({ subnet: Cidr.parse('10.0.0.0/24') });
  assert.deepEqual(
    [b.first, b.last, b.gateway].map((v) => Ip.fromNumber(v).toString()),
    ['10.0.0.1', '10.0.0.254', '10.0.0.1'],
  );
});

test('podCapacity counts only rangeStart..rangeEnd, minus the gateway when inside; unchanged without bounds', () => {
  const c = Cidr.parse('10.0.0.0/24');
  assert.equal(podCapacity(c), 253);
  assert.equal(podCapacity(c, { gateway: ip('10.0.0.1') }), 253);
  assert.equal(podCapacity(c, { gateway: ip('10.0.0.254') }), 253);
  assert.equal(podCapacity(c, { gateway: ip('10.0.0.1'), start: ip('10.0.0.10'), end: ip('10.0.0.12') }), 3);
  assert.equal(podCapacity(c, { gateway: ip('10.0.0.11'), start: ip('10.0.0.10'), end: ip('10.0.0.12') }), 2);
  assert.equal(podCapacity(c, { gateway: ip('10.0.0.1'), start: ip('10.0.0.1'), end: ip('10.0.0.1') }), 0);
  assert.equal(podCapacity(c, { start: ip('10.0.0.20'), end: ip('10.0.0.10') }), 0);
});

test('nextFreeInRanges without bounds hands out what nextFreeIp does (the lab keeps its behaviour)', () => {
  const c = Cidr.parse('10.0.0.0/29');
  for (const [u, after] of [
    [used(), undefined],
    [used(), ip('10.0.0.4')],
    [used('10.0.0.2'), ip('10.0.0.6')],
    [used('10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'), undefined],
  ] as const)
    assert.equal(
      nextFreeInRanges([{ subnet: c }], u, after)?.ip.toString(),
      nextFreeIp(c, u, after)?.toString(),
    );
});

test('nextFreeInRanges stays inside rangeStart..rangeEnd and skips the gateway', () => {
  const r = [
    {
      subnet: Cidr.parse('10.0.0.0/24'),
      gateway: ip('10.0.0.11'),
      start: ip('10.0.0.10'),
      end: ip('10.0.0.12'),
    },
  ];
  assert.equal(at(nextFreeInRanges(r, used())), '10.0.0.10#0');
  assert.equal(at(nextFreeInRanges(r, used('10.0.0.10'))), '10.0.0.12#0');
  assert.equal(at(nextFreeInRanges(r, used(), ip('10.0.0.10'))), '10.0.0.12#0');
  assert.equal(at(nextFreeInRanges(r, used(), ip('10.0.0.12'))), '10.0.0.10#0', 'wraps to rangeStart');
  assert.equal(
    at(nextFreeInRanges(r, used(), ip('10.0.0.200'))),
    '10.0.0.10#0',
    'a last IP outside: from the start',
  );
  assert.equal(at(nextFreeInRanges(r, used('10.0.0.10', '10.0.0.12'))), 'none');
});

test('nextFreeInRanges is round-robin across the set like host-local: next range before wrapping', () => {
  const r = [
    { subnet: Cidr.parse('10.0.0.0/29'), gateway: ip('10.0.0.1'), start: ip('10.0.0.5') },
    { subnet: Cidr.parse('10.0.1.0/29'), gateway: ip('10.0.1.1'), end: ip('10.0.1.3') },
  ];
  assert.equal(at(nextFreeInRanges(r, used())), '10.0.0.5#0');
  assert.equal(at(nextFreeInRanges(r, used(), ip('10.0.0.5'))), '10.0.0.6#0');
  assert.equal(at(nextFreeInRanges(r, used(), ip('10.0.0.6'))), '10.0.1.2#1', 'gateway 10.0.1.1 skipped');
  assert.equal(at(nextFreeInRanges(r, used(), ip('10.0.1.3'))), '10.0.0.5#0', 'wraps to the first range');
  assert.equal(at(nextFreeInRanges(r, used('10.0.0.5', '10.0.1.2'), ip('10.0.1.3'))), '10.0.0.6#0');
  assert.equal(
    at(nextFreeInRanges(r, used('10.0.0.6', '10.0.1.2', '10.0.1.3'), ip('10.0.0.6'))),
    '10.0.0.5#0',
  );
  assert.equal(at(nextFreeInRanges(r, used('10.0.0.5', '10.0.0.6', '10.0.1.2', '10.0.1.3'))), 'none');
});
