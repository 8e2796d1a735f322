import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeAttrs, decodeMessages } from '../../exec/netlink/codec.js';
import type { NftCmd } from '../../plan/nft.js';
import { named } from '../../plan/ops.js';
import { buildPolicyModel } from '../../plan/policy/model.js';
import { policy, scenarioWorld } from '../../plan/policy/testworld.js';
import { MAPS, TABLE } from '../../plan/services/nft-layout.js';
import { render } from '../index.js';
import { encodeNftBatch } from './batch.js';
import { writeIntervalElement } from './intervals.js';
import { compileRule } from './rule.js';
import { layoutOf, NotEncoded, setUserdata } from './types.js';
import { Wire } from './wire.js';

/*
 * Expected bytes and expression lists below are what nft 1.0.6 sends for the same commands, read from
 * `nft --debug=netlink` and `nft --debug=mnl`; the e2e test (test/e2e/nft-netlink.test.ts) checks the kernel
 * ends up with the same table both ways.
 */

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const NLA_NESTED = 0x8000;

/** The attributes of a nested attribute's payload, in order (type, bytes). */
function list(b: Uint8Array): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let at = 0; at + 4 <= b.length; at += (dv.getUint16(at, true) + 3) & ~3)
    out.push([dv.getUint16(at + 2, true) & ~NLA_NESTED, b.subarray(at + 4, at + dv.getUint16(at, true))]);
  return out;
}

const elements = (set: string, items: { key: string; value?: string }[], verb: 'add' | 'delete' = 'add') =>
  ({ verb, elements: { ...TABLE, set, elements: items } }) as NftCmd;

describe('nftables batch encoder', () => {
  test('one batch: BEGIN and END around the commands, numbered in order, the last command acknowledged', () => {
    const tx: NftCmd[] = [
      { verb: 'note', text: 'not a command' },
      { verb: 'add', table: TABLE },
      ...MAPS.map((set): NftCmd => ({ verb: 'add', set })),
      elements('hairpin', [{ key: '10.200.0.2 . 10.200.0.2' }]),
    ];
    const b = encodeNftBatch(tx);
    const msgs = decodeMessages(b.bytes);
    assert.deepEqual(
      msgs.map((m) => m.seq),
      msgs.map((_, i) => i),
    );
    assert.equal(msgs[0]!.type, 0x10, 'NFNL_MSG_BATCH_BEGIN');
    assert.equal(hex(msgs[0]!.payload), '0000000a', 'res_id: NFNL_SUBSYS_NFTABLES, big-endian');
    assert.equal(msgs.at(-1)!.type, 0x11, 'NFNL_MSG_BATCH_END');
    assert.deepEqual(
      msgs.slice(1, -1).map((m) => m.type),
      [0xa00, ...MAPS.map(() => 0xa09), 0xa0c],
      'NEWTABLE, NEWSET per map, NEWSETELEM',
    );
    assert.deepEqual(
      msgs.map((m) => (m.flags & 4 ? 1 : 0)),
      msgs.map((_, i) => (i === msgs.length - 2 ? 1 : 0)),
      'only the last command asks for an ACK',
    );
    assert.equal(b.lastSeq, msgs.length - 2);
    assert.deepEqual([...b.cmdOf], [-1, 1, ...MAPS.map((_, i) => 2 + i), 2 + MAPS.length, -1]);
  });

  test('map elements: concatenated keys padded per field, marks in host order, as nft lays them out', () => {
    const msgs = decodeMessages(
      encodeNftBatch([elements('service-classes', [{ key: '10.96.0.3 . tcp . 53', value: '0x408a3dcb' }])])
        .bytes,
    );
    const attrs = decodeAttrs(msgs[1]!.payload, 4);
    const [[, elem]] = list(attrs.get(3)!) as [[number, Uint8Array]];
    const [[, key], [, data]] = list(elem) as [[number, Uint8Array], [number, Uint8Array]];
    // nft --debug=netlink: element 0300600a 00000006 00003500  : 408a3dcb
    assert.equal(hex(list(key)[0]![1]), '0a600003' + '06000000' + '00350000');
    assert.equal(hex(list(data)[0]![1]), 'cb3d8a40');
  });

  test('elements are split so no list outgrows a netlink attribute (16-bit length)', () => {
    const items = Array.from({ length: 12000 }, (_, i) => ({
      key: `10.96.${i >> 8}.${i & 255} . ${i % 5}`,
      value: `10.200.${i >> 8}.${i & 255} . 8080`,
    }));
    const msgs = decodeMessages(encodeNftBatch([elements('endpoints', items)]).bytes).slice(1, -1);
    assert.ok(msgs.length > 1, 'more than one message');
    let n = 0;
    for (const m of msgs) {
      const list3 = decodeAttrs(m.payload, 4).get(3)!;
      assert.ok(list3.length + 4 <= 0xffff);
      n += list(list3).length;
    }
    assert.equal(n, items.length, 'every element sent once');
  });

  test("a set's user data is what nft writes (key/data byte order, concatenation markers, comment)", () => {
    // nft --debug=mnl, `add map … service-classes { type ipv4_addr . inet_proto . inet_service : mark; comment … }`
    assert.equal(
      hex(setUserdata(layoutOf('ipv4_addr . inet_proto . inet_service'), layoutOf('mark'), 'c')),
      '000400000000' + '010401000000' + '030800040d0000000100' + '060400000000' + '07026300',
    );
    assert.equal(
      hex(setUserdata(layoutOf('mark'), 'verdict', 'c')),
      '000401000000' + '010400000000' + '060400000000' + '07026300',
    );
  });

  test('rules compile to the expressions nft sends for them', () => {
    const ctx = {
      setTypes: (name: string) => {
        const s = MAPS.find((m) => m.set === name);
        return s && { key: s.key, ...(s.value !== undefined ? { value: s.value } : {}) };
      },
      nextSetId: () => 1,
    };
    const names = (expr: string) => compileRule(expr, ctx).exprs.map((e) => e.name);
    // Each list is `nft --debug=netlink`'s for the same rule.
    assert.deepEqual(names('meta l4proto { tcp, udp } dnat to ip daddr . meta mark map @endpoints'), [
      'meta',
      'lookup',
      'payload',
      'meta',
      'lookup',
      'nat',
    ]);
    assert.deepEqual(names('meta mark != 0-1 meta mark set numgen random mod 2'), [
      'meta',
      'byteorder',
      'range',
      'numgen',
      'meta',
    ]);
    assert.deepEqual(
      names('update @affinity { ip saddr . ip daddr . meta l4proto . th dport timeout 60s : meta mark }'),
      ['payload', 'payload', 'meta', 'payload', 'meta', 'dynset'],
    );
    assert.deepEqual(names('ct status dnat ip saddr . ip daddr @hairpin masquerade'), [
      'ct',
      'bitwise',
      'cmp',
      'payload',
      'payload',
      'lookup',
      'masq',
    ]);
    assert.deepEqual(
      names('fib daddr type local meta mark set meta l4proto . th dport map @nodeport-classes'),
      ['fib', 'cmp', 'meta', 'payload', 'lookup', 'meta'],
    );
    assert.deepEqual(names('ip saddr 10.200.0.0/16 ip daddr != 10.0.0.0/12 masquerade fully-random'), [
      'payload',
      'cmp',
      'payload',
      'bitwise',
      'cmp',
      'masq',
    ]);
    assert.equal(compileRule('meta l4proto { tcp, udp } accept', ctx).anon.length, 1, 'the anonymous set');
  });

  test('what is not encoded says so (the caller falls back to nft -f)', () => {
    const rule = (expr: string): NftCmd => ({ verb: 'add', rule: { ...TABLE, chain: 'c', expr } });
    for (const tx of [
      [rule('log level warn drop')],
      [rule('ip saddr 10.0.0.0/33 accept')],
      [elements('no-such-set', [{ key: '1' }])],
      [{ verb: 'add', set: { ...TABLE, set: 's', key: 'ipv4_addr', flags: ['constant'] } }],
      [{ verb: 'add', set: { ...TABLE, set: 's', key: 'ipv6_addr' } }],
    ] as NftCmd[][])
      assert.throws(() => encodeNftBatch(tx), NotEncoded);
  });

  test("the policy table's statements: inet dependency, interval concatenation, named counter, log", () => {
    const ctx = {
      setTypes: (name: string) =>
        name === 'ports' ? { key: 'ipv4_addr . inet_proto . inet_service', interval: true } : undefined,
      nextSetId: () => 1,
      family: 'inet' as const,
    };
    const names = (expr: string) => compileRule(expr, ctx).exprs.map((e) => e.name);
    // `nft --debug=netlink` for the same rules in an inet table.
    assert.deepEqual(names('ip saddr . meta l4proto . th dport @ports return'), [
      'meta',
      'cmp',
      'payload',
      'meta',
      'byteorder',
      'payload',
      'lookup',
      'immediate',
    ]);
    assert.deepEqual(names('counter name deny-x counter name deny-y log prefix "pol x: " drop'), [
      'objref',
      'objref',
      'log',
      'immediate',
    ]);
    assert.deepEqual(names('ct state established,related accept'), ['ct', 'bitwise', 'cmp', 'immediate']);
  });

  test('interval elements are the bytes nft sends (nft --debug=mnl)', () => {
    const el = (type: string, text: string) => {
      const w = new Wire(256);
      writeIntervalElement(w, layoutOf(type), text);
      return hex(w.done());
    };
    // A range: its start, then an end element (flag INTERVAL_END) one past it.
    assert.equal(
      el('ipv4_addr', '10.2.0.1-10.2.0.9'),
      '100001800c000180080001000a020001' + '18000180080003000000000' + '10c000180080001000a02000a',
    );
    assert.equal(
      el('ipv4_addr', '10.1.0.0/16'),
      '100001800c000180080001000a010000' + '18000180080003000000000' + '10c000180080001000a020000',
    );
    // Up to the top: no end element, the start marked open (udata NFTNL_SET_ELEM_F_INTERVAL_OPEN).
    assert.equal(
      el('ipv4_addr', '255.255.255.0/24'),
      '1c0001800c00018008000100ffffff000a000600010401000000' + '0000',
    );
    // A concatenation: KEY and KEY_END, each field padded to 4 bytes.
    assert.equal(
      el('ipv4_addr . inet_proto . inet_service', '10.1.0.0/16 . udp . 80-90'),
      '2c000180' +
        '14000180100001000a010000' +
        '1100000000500000' +
        '14000a80100001000a01ffff' +
        '11000000005a0000',
    );
  });

  test("the policy table's full and partial syncs are encoded whole (no fallback to nft -f)", () => {
    const model = (endPort: number) =>
      buildPolicyModel(
        scenarioWorld({
          policies: [
            policy('x', 'p', {
              podSelector: {},
              ingress: [
                {
                  from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.200.1.0/24'] } }],
                  ports: [{ port: 80, endPort }],
                },
              ],
              egress: [{ to: [{ namespaceSelector: {} }] }],
              policyTypes: ['Ingress', 'Egress'],
            }),
          ],
        }),
        'node-0',
      );
    const encoded = (
      prev: ReturnType<typeof model> | undefined,
      next: ReturnType<typeof model> | undefined,
    ) =>
      render({
        kind: 'nft.policy',
        netns: named('n'),
        ...(prev ? { prev } : {}),
        ...(next ? { next } : {}),
      }).netfilter?.encode();
    assert.ok(encoded(undefined, model(90)), 'full');
    assert.ok(encoded(model(90), model(95)), 'partial');
    assert.ok(encoded(model(90), undefined), 'removal');
  });
});
