import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Protocol } from '../../model/policy/types.js';
import { Ip } from '../../net/ip.js';
import { allowed, type Endpoint, type PolicyWorld } from './evaluate.js';
import { cyclonusWorld, policy } from './testworld.js';

const pod = (w: PolicyWorld, key: string): Endpoint => {
  const [ns, name] = key.split('/');
  const p = w.pods.find((x) => x.namespace === ns && x.name === name);
  assert.ok(p, key);
  return { pod: p };
};
const ip = (s: string): Endpoint => ({ ip: Ip.parse(s) });
const ok = (w: PolicyWorld, from: string, to: string, port = 80, proto: Protocol = 'TCP') =>
  allowed(
    w,
    from.includes('/') ? pod(w, from) : ip(from),
    to.includes('/') ? pod(w, to) : ip(to),
    port,
    proto,
  ).allowed;
const ALL = ['x/a', 'x/b', 'x/c', 'y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c'];
/** Sources allowed to reach `to` on port/proto. */
const into = (w: PolicyWorld, to: string, port = 80, proto: Protocol = 'TCP') =>
  ALL.filter((f) => f !== to && ok(w, f, to, port, proto));
const outOf = (w: PolicyWorld, from: string, port = 80, proto: Protocol = 'TCP') =>
  ALL.filter((t) => t !== from && ok(w, from, t, port, proto));
const others = (p: string) => ALL.filter((x) => x !== p);

describe('NetworkPolicy evaluator', () => {
  test('no policy: everything is allowed', () => {
    const w = cyclonusWorld();
    for (const a of ALL) assert.deepEqual(outOf(w, a), others(a));
  });

  test('default deny ingress isolates the selected pods only, and only for ingress', () => {
    const w = cyclonusWorld([policy('x', 'deny', { podSelector: {} })]);
    for (const p of ['x/a', 'x/b', 'x/c']) assert.deepEqual(into(w, p), []);
    assert.deepEqual(into(w, 'y/a'), others('y/a'));
    assert.deepEqual(outOf(w, 'x/a'), ['y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c']);
    const d = allowed(w, pod(w, 'y/a'), pod(w, 'x/b'), 80, 'TCP');
    assert.deepEqual(d.ingress?.isolatedBy, ['x/deny']);
    assert.match(d.reason, /ingress of x\/b: denied \(isolated by x\/deny/);
  });

  test('default deny egress (policyTypes Egress, no rules)', () => {
    const w = cyclonusWorld([policy('x', 'deny-eg', { podSelector: {}, policyTypes: ['Egress'] })]);
    assert.deepEqual(outOf(w, 'x/a'), []);
    assert.deepEqual(into(w, 'x/a'), ['y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c']);
    assert.equal(ok(w, 'x/a', '203.0.113.10'), false);
  });

  test('a pod can always reach itself; a node and its own pods always reach each other', () => {
    const w = cyclonusWorld([policy('x', 'deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })]);
    assert.equal(ok(w, 'x/a', 'x/a'), true);
    assert.equal(ok(w, '192.168.64.4', 'x/a'), true, 'x/a is on node-0');
    assert.equal(ok(w, '10.200.0.1', 'x/a'), true, 'the bridge address is node-0 too');
    assert.equal(ok(w, 'x/a', '192.168.64.4'), true);
    assert.equal(ok(w, '192.168.64.5', 'x/a'), false, 'another node is just an address');
  });

  test('ingress [{}] allows all, including outside addresses; ingress [] denies all', () => {
    const all = cyclonusWorld([policy('x', 'all', { podSelector: {}, ingress: [{}] })]);
    assert.deepEqual(into(all, 'x/a'), others('x/a'));
    assert.equal(ok(all, '203.0.113.10', 'x/a'), true);
    const none = cyclonusWorld([policy('x', 'none', { podSelector: {}, ingress: [] })]);
    assert.deepEqual(into(none, 'x/a'), []);
  });

  test('allows are a union over policies and rules; order does not matter', () => {
    const ps = [
      policy('x', 'from-b', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
      }),
      policy('x', 'from-c', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'c' } } }] }],
      }),
    ];
    const w1 = cyclonusWorld(ps);
    const w2 = cyclonusWorld([...ps].reverse());
    assert.deepEqual(into(w1, 'x/a'), ['x/b', 'x/c']);
    assert.deepEqual(into(w2, 'x/a'), ['x/b', 'x/c']);
    assert.deepEqual(allowed(w1, pod(w1, 'x/b'), pod(w1, 'x/a'), 80, 'TCP').ingress?.allowedBy, [
      { policy: 'x/from-b', direction: 'ingress', rule: 0 },
    ]);
  });

  test('podSelector alone means pods of the policy namespace; namespaceSelector alone means all pods there', () => {
    const pods = cyclonusWorld([
      policy('x', 'p', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] }),
    ]);
    assert.deepEqual(into(pods, 'x/a'), ['x/b', 'x/c']);
    const nss = cyclonusWorld([
      policy('x', 'p', {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
      }),
    ]);
    assert.deepEqual(into(nss, 'x/a'), ['y/a', 'y/b', 'y/c']);
    const allNs = cyclonusWorld([
      policy('x', 'p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] }),
    ]);
    assert.deepEqual(into(allNs, 'x/a'), others('x/a'));
    assert.equal(ok(allNs, '203.0.113.10', 'x/a'), false, 'a namespaceSelector selects pods, not addresses');
  });

  test('the automatic kubernetes.io/metadata.name label selects a namespace by name', () => {
    const w = cyclonusWorld([
      policy('x', 'p', {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'z' } } }] }],
      }),
    ]);
    assert.deepEqual(into(w, 'x/b'), ['z/a', 'z/b', 'z/c']);
  });

  test('podSelector AND namespaceSelector in one peer, OR as two peers', () => {
    const and = cyclonusWorld([
      policy('x', 'and', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } },
            ],
          },
        ],
      }),
    ]);
    assert.deepEqual(into(and, 'x/a'), ['y/b']);
    const or = cyclonusWorld([
      policy('x', 'or', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { ns: 'y' } } },
              { podSelector: { matchLabels: { pod: 'b' } } },
            ],
          },
        ],
      }),
    ]);
    assert.deepEqual(into(or, 'x/a'), ['x/b', 'y/a', 'y/b', 'y/c']);
  });

  test('matchExpressions In, NotIn, Exists, DoesNotExist in peers', () => {
    const mk = (expr: Record<string, unknown>) =>
      cyclonusWorld([
        policy('x', 'p', {
          podSelector: {},
          ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchExpressions: [expr] } }] }],
        }),
      ]);
    assert.deepEqual(into(mk({ key: 'pod', operator: 'In', values: ['b', 'c'] }), 'x/a'), [
      'x/b',
      'x/c',
      'y/b',
      'y/c',
      'z/b',
      'z/c',
    ]);
    assert.deepEqual(into(mk({ key: 'pod', operator: 'NotIn', values: ['b', 'c'] }), 'x/b'), [
      'x/a',
      'y/a',
      'z/a',
    ]);
    assert.deepEqual(into(mk({ key: 'pod', operator: 'Exists' }), 'x/a'), others('x/a'));
    assert.deepEqual(into(mk({ key: 'pod', operator: 'DoesNotExist' }), 'x/a'), []);
  });

  test('ipBlock with except, for ingress and egress, matching pod and outside addresses', () => {
    const w = cyclonusWorld([
      policy('x', 'p', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ ipBlock: { cidr: '10.200.0.0/16', except: ['10.200.1.0/24'] } }] }],
        egress: [{ to: [{ ipBlock: { cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] } }] }],
      }),
    ]);
    // node-1's pods (x/b y/b z/b: 10.200.1.x) are excepted.
    assert.deepEqual(into(w, 'x/a'), ['x/c', 'y/a', 'y/c', 'z/a', 'z/c']);
    assert.equal(ok(w, 'x/a', '203.0.113.10'), true);
    assert.equal(ok(w, 'x/a', '203.0.113.200'), false);
    assert.deepEqual(outOf(w, 'x/a'), []);
  });

  test('numeric ports, endPort ranges, protocols', () => {
    const w = cyclonusWorld([
      policy('x', 'p', {
        podSelector: {},
        ingress: [
          {
            ports: [{ port: 80 }, { protocol: 'UDP', port: 81, endPort: 90 }, { protocol: 'SCTP', port: 80 }],
          },
        ],
      }),
    ]);
    assert.equal(ok(w, 'y/a', 'x/a', 80, 'TCP'), true);
    assert.equal(ok(w, 'y/a', 'x/a', 81, 'TCP'), false);
    assert.equal(ok(w, 'y/a', 'x/a', 80, 'UDP'), false);
    assert.equal(ok(w, 'y/a', 'x/a', 81, 'UDP'), true);
    assert.equal(ok(w, 'y/a', 'x/a', 90, 'UDP'), true);
    assert.equal(ok(w, 'y/a', 'x/a', 91, 'UDP'), false);
    assert.equal(ok(w, 'y/a', 'x/a', 80, 'SCTP'), true);
    const anyUdp = cyclonusWorld([
      policy('x', 'p', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP' }] }] }),
    ]);
    assert.equal(ok(anyUdp, 'y/a', 'x/a', 12345, 'UDP'), true);
    assert.equal(ok(anyUdp, 'y/a', 'x/a', 80, 'TCP'), false);
  });

  test('named ports resolve against the destination pod, per pod and protocol', () => {
    const w = cyclonusWorld([
      policy('x', 'in', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] }),
      policy('y', 'eg', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ ports: [{ protocol: 'UDP', port: 'serve-80-udp' }] }],
      }),
    ]);
    const x = w.pods.find((p) => p.namespace === 'x' && p.name === 'b')!;
    // Give x/b a different number for the same name: the policy follows the pod.
    const w2: PolicyWorld = {
      ...w,
      pods: w.pods.map((p) =>
        p === x ? { ...p, ports: [{ name: 'serve-81-tcp', containerPort: 8081, protocol: 'TCP' }] } : p,
      ),
    };
    assert.equal(ok(w, 'z/a', 'x/a', 81, 'TCP'), true);
    assert.equal(ok(w, 'z/a', 'x/a', 80, 'TCP'), false);
    assert.equal(ok(w2, 'z/a', 'x/b', 81, 'TCP'), false);
    assert.equal(ok(w2, 'z/a', 'x/b', 8081, 'TCP'), true);
    assert.equal(ok(w, 'z/a', 'x/a', 81, 'UDP'), false, 'the name is TCP');
    // Egress: the name resolves on the destination pod; an outside address has no names.
    assert.equal(ok(w, 'y/a', 'z/b', 80, 'UDP'), true);
    assert.equal(ok(w, 'y/a', 'z/b', 81, 'UDP'), false);
    assert.equal(ok(w, 'y/a', '203.0.113.10', 80, 'UDP'), false);
  });

  test('a connection needs egress at the source AND ingress at the destination', () => {
    const w = cyclonusWorld([
      policy('x', 'eg', {
        podSelector: { matchLabels: { pod: 'a' } },
        egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
      }),
      policy('y', 'in', {
        podSelector: { matchLabels: { pod: 'b' } },
        ingress: [{ from: [{ podSelector: {} }] }],
      }),
    ]);
    assert.equal(ok(w, 'x/a', 'y/a'), true);
    assert.equal(ok(w, 'x/a', 'y/b'), false, 'y/b admits only y pods');
    assert.equal(ok(w, 'y/a', 'y/b'), true);
    assert.equal(ok(w, 'x/a', 'z/a'), false, 'x/a may only send to y');
    const d = allowed(w, pod(w, 'x/a'), pod(w, 'y/b'), 80, 'TCP');
    assert.equal(d.egress?.allowed, true);
    assert.equal(d.ingress?.allowed, false);
    // eg has egress rules, so it isolates for both directions (policyTypes defaulted).
    assert.deepEqual(into(w, 'x/a'), []);
  });

  test('policies select pods of their own namespace only', () => {
    const w = cyclonusWorld([policy('y', 'deny', { podSelector: { matchLabels: { pod: 'a' } } })]);
    assert.deepEqual(into(w, 'x/a'), others('x/a'));
    assert.deepEqual(into(w, 'y/a'), []);
  });
});
