import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeAttrs,
  decodeError,
  decodeMessages,
  encodeMessage,
  IFLA,
  IFLA_INFO,
  ifinfomsg,
  NLM_F,
  NLMSG,
  nested,
  RTM,
  str,
  u32,
} from './codec.js';

test('a link request is laid out as rtnetlink expects: header, ifinfomsg, padded and nested attributes', () => {
  const msg = encodeMessage(RTM.NEWLINK, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE, 7, ifinfomsg(), [
    str(IFLA.IFNAME, 'br0'),
    u32(IFLA.MTU, 1450),
    nested(IFLA.LINKINFO, [str(IFLA_INFO.KIND, 'bridge')]),
  ]).slice();
  const bytes = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  // nlmsghdr(16) + ifinfomsg(16) + IFNAME(4+4) + MTU(4+4) + LINKINFO(4 + KIND(4+7→8))
  assert.equal(msg.length, 16 + 16 + 8 + 8 + 16);
  assert.equal(bytes.readUInt32LE(0), msg.length);
  assert.equal(bytes.readUInt16LE(4), 16);
  assert.equal(bytes.readUInt16LE(6), 0x405);
  assert.equal(bytes.readUInt32LE(8), 7);
  const attrs = decodeAttrs(bytes.subarray(16), 16);
  assert.equal(Buffer.from(attrs.get(IFLA.IFNAME)!).toString(), 'br0\0');
  assert.equal(Buffer.from(attrs.get(IFLA.MTU)!).readUInt32LE(0), 1450);
  // The nested attribute's length covers its children with their padding, as iproute2's addattr_nest_end.
  assert.equal(bytes.readUInt16LE(48), 4 + 4 + 8);
  assert.equal(
    Buffer.from(decodeAttrs(attrs.get(IFLA.LINKINFO)!).get(IFLA_INFO.KIND)!).toString(),
    'bridge\0',
  );
});

test('an error answer gives errno and the kernel message (extended ack, capped)', () => {
  const text = Buffer.from('Unknown device type\0');
  const tlv = Buffer.alloc(4 + ((text.length + 3) & ~3));
  tlv.writeUInt16LE(4 + text.length, 0);
  tlv.writeUInt16LE(1, 2); // NLMSGERR_ATTR_MSG
  text.copy(tlv, 4);
  const payload = Buffer.alloc(4 + 16);
  payload.writeInt32LE(-95, 0);
  const body = Buffer.concat([payload, tlv]);
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32LE(16 + body.length, 0);
  hdr.writeUInt16LE(NLMSG.ERROR, 4);
  hdr.writeUInt16LE(NLM_F.CAPPED | NLM_F.ACK_TLVS, 6);
  hdr.writeUInt32LE(42, 8);
  const [m] = decodeMessages(Buffer.concat([hdr, body]));
  assert.equal(m?.seq, 42);
  assert.deepEqual(decodeError(m!), { errno: 95, extack: 'Unknown device type' });
});

test('an acknowledgement is errno 0, and truncated input is refused', () => {
  const ack = Buffer.alloc(36);
  ack.writeUInt32LE(36, 0);
  ack.writeUInt16LE(NLMSG.ERROR, 4);
  assert.deepEqual(decodeError(decodeMessages(ack)[0]!), { errno: 0 });
  assert.throws(() => decodeMessages(ack.subarray(0, 20)), /malformed netlink message/);
});

test('string attributes are NUL-terminated ASCII; anything else is refused, not mangled', () => {
  assert.deepEqual([...(str(IFLA.IFNAME, 'eth0').value as Uint8Array)], [101, 116, 104, 48, 0]);
  assert.throws(() => str(IFLA.IFNAME, 'éth0'), /not printable ASCII/);
});
