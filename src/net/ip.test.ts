import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HOST_VETH_RE, hostVethName, ifnameProblem } from './ifname.js';
import { Cidr, Ip } from './ip.js';
import { macFromName } from './mac.js';

test('Ip parses dotted quads and rejects everything else', () => {
  assert.equal(Ip.parse('10.200.0.2').toString(), '10.200.0.2');
  assert.equal(Ip.parse('255.255.255.255').value, 0xffffffff);
  assert.equal(Ip.parse('0.0.0.0').value, 0);
  assert.equal(Ip.parse('10.0.0.10').value, 0x0a00000a);
  for (const bad of [
    '10.200.0',
    '10.200.0.256',
    '1.2.3.4.5',
    '01.2.3.4',
    '1.2.3.04',
    '1.2.3.00',
    '1234.1.1.1',
    'a.b.c.d',
    '',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1..2.3',
    '1.2.3.',
    '.1.2.3',
    '1.2.3.4/24',
    '+1.2.3.4',
  ]) {
    assert.equal(Ip.tryParse(bad), undefined, bad);
  }
});

test('Ip.tryParse agrees with the textbook regular expression on random strings', () => {
  const reference = (t: string): number | undefined => {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t);
    if (!m) return undefined;
    const parts = m.slice(1);
    if (parts.some((p) => Number(p) > 255 || (p.length > 1 && p.startsWith('0')))) return undefined;
    return parts.reduce((v, p) => v * 256 + Number(p), 0);
  };
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let valid = 0;
  for (let i = 0; i < 20_000; i++) {
    // 3 to 5 groups of 0 to 4 digits (leading zeros, 256-999 and empty groups included), sometimes junk.
    const groups = Array.from({ length: rand(3) === 0 ? 3 + rand(3) : 4 }, () =>
      Array.from({ length: rand(8) === 0 ? rand(5) : 1 + rand(3) }, () => String(rand(10))).join(''),
    );
    let t = groups.join('.');
    if (rand(10) === 0) t = t.slice(0, rand(t.length + 1)) + ' x/'[rand(3)] + t.slice(rand(t.length + 1));
    assert.equal(Ip.tryParse(t)?.value, reference(t), JSON.stringify(t));
    if (reference(t) !== undefined) valid++;
  }
  assert.ok(valid > 200, `enough valid addresses among the samples (${valid})`);
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

test('interface names: the 15-character limit; host veths hashed, one scheme for the lab and the CNI plugin', () => {
  assert.equal(ifnameProblem('cni0'), undefined);
  assert.match(ifnameProblem('a-very-long-bridge0')!, /at most 15/);
  assert.match(ifnameProblem('br;rm')!, /may only contain/);
  assert.match(hostVethName('lab/c/a0/eth0'), HOST_VETH_RE);
  assert.notEqual(hostVethName('lab/c/a0/eth0'), hostVethName('lab/c/a1/eth0'));
  assert.equal(hostVethName('c/frontend-7d4f9'), hostVethName('c/frontend-7d4f9'), 'deterministic');
  assert.ok(hostVethName('x').length <= 15);
});

test('MACs derived from names are stable, unicast and locally administered', () => {
  const m = macFromName('node-1');
  assert.equal(m, macFromName('node-1'));
  assert.notEqual(m, macFromName('node-2'));
  const first = Number.parseInt(m.slice(0, 2), 16);
  assert.equal(first & 1, 0, 'unicast');
  assert.equal(first & 2, 2, 'locally administered');
});
