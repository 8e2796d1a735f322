import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTraceLine } from './nft-trace.js';

// Lines as nft 1.0.6 printed them for a ClusterIP probe in a lab on this machine.
test('a packet line: interfaces, addresses, ports and flags', () => {
  const e = parseTraceLine(
    'trace id aa867c18 inet podnet-trace-x pre packet: iif "cni0" ether saddr 1a:da:2e:a3:d5:79 ether daddr 2a:02:13:62:70:f4 ip saddr 10.200.2.2 ip daddr 10.96.0.2 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 53117 ip protocol tcp ip length 60 tcp sport 60256 tcp dport 8080 tcp flags == syn tcp window 64860 ',
  );
  assert.deepEqual(e, {
    id: 'aa867c18',
    family: 'inet',
    table: 'podnet-trace-x',
    chain: 'pre',
    kind: 'packet',
    packet: {
      iif: 'cni0',
      saddr: '10.200.2.2',
      daddr: '10.96.0.2',
      proto: 'tcp',
      length: 60,
      ipId: 53117,
      ttl: 64,
      sport: 60256,
      dport: 8080,
      tcpFlags: 'syn',
    },
  });
});

test('a rule line: the rule text and its verdict', () => {
  const e = parseTraceLine(
    'trace id aa867c18 ip podnet-services pick-2 rule meta l4proto { tcp, udp } dnat ip to ip daddr . meta mark map @endpoints (verdict accept)',
  );
  assert.equal(e?.kind, 'rule');
  assert.equal(e?.chain, 'pick-2');
  assert.equal(e?.rule, 'meta l4proto { tcp, udp } dnat ip to ip daddr . meta mark map @endpoints');
  assert.equal(e?.verdict, 'accept');
});

test('a VXLAN outer packet: the VNI from the raw bytes after the UDP header', () => {
  const e = parseTraceLine(
    'trace id 3b00d9ac inet podnet-trace-x out packet: oif "eth0" @ll,0,160 0x2aa66e4b4fcb828cc3d71d4908004500003ccf7d ip saddr 192.168.64.6 ip daddr 192.168.64.4 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 30800 ip protocol udp ip length 110 udp sport 46498 udp dport 4789 udp length 90 @th,64,96 0x8000000000001002aa66e4b ',
  );
  assert.equal(e?.packet?.oif, 'eth0');
  assert.equal(e?.packet?.dport, 4789);
  assert.equal(e?.packet?.vni, 1);
  assert.equal(e?.packet?.saddr, '192.168.64.6');
});

test('a policy line, and lines that are not trace events', () => {
  assert.equal(
    parseTraceLine('trace id b588e879 ip podnet-services postrouting policy accept ')?.verdict,
    'accept',
  );
  assert.equal(parseTraceLine('add table inet x'), undefined);
});
