import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeMessage, NLM_F } from '../exec/netlink/codec.js';
import { named } from '../plan/ops.js';
import { fdbRequest, neighRequest, type Request, vxlanRequest } from './netlink-messages.js';

/*
 * What iproute2 6.1 sent for the rendered commands, captured with `strace -e trace=sendmsg -xx` in a throwaway
 * namespace where eth0 had index 3 and vxlan.1 index 4: the nlmsghdr's type and flags, then the payload.
 */
const CAPTURED = {
  vxlan: {
    argv: 'ip link add vxlan.1 address 2a:a6:6e:4b:4f:cb mtu 1450 type vxlan id 1 local 192.168.64.4 dev eth0 dstport 4789 nolearning',
    type: 0x10,
    flags: 0x605,
    payload:
      '00000000000000000000000000000000 0a0001002aa66e4b4fcb0000 08000400aa050000 0c00030076786c616e2e3100 3c00120009000100' +
      '76786c616e000000 2c000200 0800030003000000 0800010001000000 08000400c0a84004 0500070000000000 06000f0012b50000',
  },
  vxlanGroup: {
    argv: 'ip link add vx2 mtu 1450 type vxlan id 7 local 192.168.64.4 group 239.1.1.1 dev eth0 dstport 4789',
    type: 0x10,
    flags: 0x605,
    payload:
      '00000000000000000000000000000000 08000400aa050000 0800030076783200 4400120009000100 76786c616e000000 34000200' +
      '0800030003000000 0800010007000000 08000400c0a84004 08000200ef010101 0500070001000000 06000f0012b50000',
  },
  neigh: {
    argv: 'ip neigh replace 10.200.1.0 lladdr c6:6f:01:69:73:55 dev vxlan.1 nud permanent',
    type: 0x1c,
    flags: 0x505,
    payload: '020000000400000080000000 080001000ac80100 0a000200c66f016973550000',
  },
  fdbReplace: {
    argv: 'bridge fdb replace c6:6f:01:69:73:55 dev vxlan.1 dst 192.168.64.5 self permanent',
    type: 0x1c,
    flags: 0x505,
    payload: '0700000004000000c0000200 0a000200c66f016973550000 08000100c0a84005',
  },
  fdbAppend: {
    argv: 'bridge fdb append 00:00:00:00:00:00 dev vxlan.1 dst 192.168.64.5',
    type: 0x1c,
    flags: 0xc05,
    payload: '0700000004000000c0000200 0a0002000000000000000000 08000100c0a84005',
  },
};

const indexOf = (name: string) => ({ eth0: 3, 'vxlan.1': 4 })[name] ?? assert.fail(`no link ${name}`);
const ns = named('x');

function bytesOf(r: Request): { type: number; flags: number; payload: string } {
  const m = encodeMessage(r.type, NLM_F.REQUEST | NLM_F.ACK | r.flags, 0, r.header, r.attrs);
  const dv = new DataView(m.buffer, m.byteOffset);
  return {
    type: dv.getUint16(4, true),
    flags: dv.getUint16(6, true),
    payload: Buffer.from(m.subarray(16)).toString('hex'),
  };
}
const expected = (c: { type: number; flags: number; payload: string }) => ({
  type: c.type,
  flags: c.flags,
  payload: c.payload.replaceAll(' ', ''),
});

test('a vxlan device request is byte for byte what ip link add sends (unicast, no learning)', () => {
  const r = vxlanRequest(
    {
      kind: 'link.add-vxlan',
      netns: ns,
      name: 'vxlan.1',
      mac: '2a:a6:6e:4b:4f:cb',
      mtu: 1450,
      vni: 1,
      local: '192.168.64.4',
      dev: 'eth0',
      port: 4789,
      learning: false,
    },
    indexOf,
  );
  assert.deepEqual(bytesOf(r), expected(CAPTURED.vxlan));
});

test('a multicast vxlan device request carries the group and learning on, as ip sends it', () => {
  const r = vxlanRequest(
    {
      kind: 'link.add-vxlan',
      netns: ns,
      name: 'vx2',
      mtu: 1450,
      vni: 7,
      local: '192.168.64.4',
      group: '239.1.1.1',
      dev: 'eth0',
      port: 4789,
      learning: true,
    },
    indexOf,
  );
  assert.deepEqual(bytesOf(r), expected(CAPTURED.vxlanGroup));
});

test('neighbour and FDB requests are byte for byte what ip neigh / bridge fdb send', () => {
  const neigh = neighRequest(
    { kind: 'neigh.replace', netns: ns, ip: '10.200.1.0', mac: 'c6:6f:01:69:73:55', dev: 'vxlan.1' },
    indexOf,
  );
  assert.deepEqual(bytesOf(neigh), expected(CAPTURED.neigh));
  const fdb = fdbRequest(
    { kind: 'fdb.replace', netns: ns, mac: 'c6:6f:01:69:73:55', dev: 'vxlan.1', dst: '192.168.64.5' },
    indexOf,
  );
  assert.deepEqual(bytesOf(fdb), expected(CAPTURED.fdbReplace));
  const append = fdbRequest(
    { kind: 'fdb.append', netns: ns, mac: '00:00:00:00:00:00', dev: 'vxlan.1', dst: '192.168.64.5' },
    indexOf,
  );
  assert.deepEqual(bytesOf(append), expected(CAPTURED.fdbAppend));
});
