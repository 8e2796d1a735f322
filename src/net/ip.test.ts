import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostVethName, ifnameProblem } from './ifname.js';
import { Cidr, Ip } from './ip.js';
import { macFromName } from './mac.js';

test('Ip parses dotted quads and rejects everything else', () => {
  assert.equal(Ip.parse('10.200.0.2').toString(), '10.200.0.2');
  assert.equal(Ip.parse('255.255.255.255').value, 0xffffffff);
  for (const bad of ['10.200.0', '10.200.0.256', '1.2.3.4.5', '01.2.3.4', 'a.b.c.d', '', ' 1.2.3.4']) {
    assert.equal(Ip.tryParse(bad), undefined, bad);
  }
});

test('Cidr: strict parsing, containment, overlap and subnets', () => {
  const c = Cidr.parse('10.200.0.0/16');
  assert.equal(c.size, 65536);
  assert.ok(c.contains(Ip.parse('10.200.255.1')));
  assert.ok(!c.contains(Ip.parse('10.201.0.1')));
  assert.equal(Cidr.tryParse('10.200.0.1/16'), undefined, 'host bits must be zero');
  assert.equal(Cidr.parse('10.200.0.1/16', false).toString(), '10.200.0.0/16');
  assert.equal(Cidr.tryParse('10.0.0.0/33'), undefined);
  assert.equal(c.subnet(24, 2).toString(), '10.200.2.0/24');
  assert.throws(() => c.subnet(24, 256), /only 256/);
  assert.ok(Cidr.parse('10.96.0.0/12').overlaps(Cidr.parse('10.100.0.0/16')));
  assert.ok(!Cidr.parse('10.96.0.0/12').overlaps(Cidr.parse('10.200.0.0/16')));
  assert.equal(Cidr.parse('192.168.64.0/24').broadcast.toString(), '192.168.64.255');
});

test('interface names: the 15-character limit, and hashed names when the readable one does not fit', () => {
  assert.equal(ifnameProblem('cni0'), undefined);
  assert.match(ifnameProblem('a-very-long-bridge0')!, /at most 15/);
  assert.match(ifnameProblem('br;rm')!, /may only contain/);
  assert.equal(hostVethName('c/a0', 'a0'), 'veth-a0');
  const long = hostVethName('c/frontend-7d4f9', 'frontend-7d4f9');
  assert.match(long, /^pn[0-9a-f]{8}$/);
  assert.equal(long, hostVethName('c/frontend-7d4f9', 'frontend-7d4f9'), 'deterministic');
});

test('MACs derived from names are stable, unicast and locally administered', () => {
  const m = macFromName('node-1');
  assert.equal(m, macFromName('node-1'));
  assert.notEqual(m, macFromName('node-2'));
  const first = Number.parseInt(m.slice(0, 2), 16);
  assert.equal(first & 1, 0, 'unicast');
  assert.equal(first & 2, 2, 'locally administered');
});
