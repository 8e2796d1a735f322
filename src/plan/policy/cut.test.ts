import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConntrack } from '../../observe/conntrack.js';
import { named } from '../ops.js';
import { planPolicyCuts } from './cut.js';
import { buildPolicyModel } from './model.js';
import { stricter } from './plan.js';
import { netpol } from './scenarios.js';
import { scenarioWorld } from './testworld.js';

const TABLE = `tcp      6 431999 ESTABLISHED src=10.200.0.3 dst=10.96.0.10 sport=40000 dport=80 src=10.200.1.3 dst=10.200.0.3 sport=80 dport=40000 [ASSURED] mark=0 use=1
tcp      6 100 TIME_WAIT src=10.200.0.4 dst=10.200.1.3 sport=40001 dport=80 src=10.200.1.3 dst=10.200.0.4 sport=80 dport=40001 [ASSURED] mark=0 use=1
udp      17 29 src=10.200.0.2 dst=10.200.1.3 sport=5000 dport=81 src=10.200.1.3 dst=10.200.0.2 sport=81 dport=5000 mark=0 use=1
udp      17 29 src=10.200.0.4 dst=10.200.1.3 sport=5001 dport=81 src=10.200.1.3 dst=10.200.0.4 sport=81 dport=5001 mark=0 use=1
udp      17 29 src=192.168.64.4 dst=192.168.64.5 sport=5002 dport=4789 [UNREPLIED] src=192.168.64.5 dst=192.168.64.4 sport=4789 dport=5002 mark=0 use=1
icmp     1 29 src=10.200.0.2 dst=10.200.1.3 type=8 code=0 id=1 src=10.200.1.3 dst=10.200.0.2 type=0 code=0 id=1 mark=0 use=1
`;

test('conntrack -L is read as flows: original source, reply source and port, TCP state; ICMP skipped', () => {
  const f = parseConntrack(TABLE);
  assert.equal(f.length, 5);
  assert.deepEqual(f[0], {
    protocol: 'tcp',
    src: '10.200.0.3',
    replySrc: '10.200.1.3',
    replyPort: 80,
    state: 'ESTABLISHED',
  });
  assert.deepEqual(f[2], { protocol: 'udp', src: '10.200.0.2', replySrc: '10.200.1.3', replyPort: 81 });
});

test('a change cuts only the newly denied flows: by client where some stay, by server where none do', () => {
  // y/b (10.200.1.3) accepts only namespace x: y/a (10.200.0.3) and z/a (10.200.0.4) are newly denied.
  const before = scenarioWorld({ policies: [] });
  const after = scenarioWorld({
    policies: [
      netpol('y', 'only-x', {
        podSelector: { matchLabels: { pod: 'b' } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }] }],
      }),
    ],
  });
  const ops = planPolicyCuts(after, named('n'), parseConntrack(TABLE), before, '/tmp/cuts');
  assert.equal(ops.length, 1);
  const op = ops[0]!;
  assert.ok(op.kind === 'conntrack.delete-flows');
  // tcp/80: one client, cut (through the ClusterIP: judged at the endpoint); TIME_WAIT is over already.
  // udp/81: x/a stays allowed, z/a is cut by its own address.
  assert.deepEqual(
    op.flows.map((f) => `${f.protocol} ${f.src ?? '*'} ${f.replySrc}:${f.replyPort}`),
    ['tcp * 10.200.1.3:80', 'udp 10.200.0.4 10.200.1.3:81'],
  );
  assert.equal(op.connections, 2);
  // Nothing newly denied: nothing cut.
  assert.deepEqual(planPolicyCuts(after, named('n'), parseConntrack(TABLE), after, '/tmp/cuts'), []);
});

test('only a node whose enforcement got stricter is searched for flows to cut', () => {
  const deny = netpol('y', 'deny', { podSelector: {} });
  const open = buildPolicyModel(scenarioWorld({ policies: [] }), 'node-1');
  const closed = buildPolicyModel(scenarioWorld({ policies: [deny] }), 'node-1');
  const allowX = buildPolicyModel(
    scenarioWorld({
      policies: [
        deny,
        netpol('y', 'x', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] }),
      ],
    }),
    'node-1',
  );
  assert.equal(stricter(open, closed), true);
  assert.equal(stricter(closed, allowX), false);
  assert.equal(stricter(allowX, closed), true);
  assert.equal(stricter(closed, open), false);
});
