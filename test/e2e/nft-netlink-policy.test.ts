import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { LOG_ANNOTATION } from '../../src/model/policy/types.js';
import { named } from '../../src/plan/ops.js';
import { buildPolicyModel, type PolicyNodeModel } from '../../src/plan/policy/model.js';
import { policy, scenarioWorld } from '../../src/plan/policy/testworld.js';
import { render } from '../../src/render/index.js';
import { needsRoot } from '../helpers/cli.js';
import { listed, nftTwins } from '../helpers/nft-twins.js';

/**
 * The NetworkPolicy table over netlink against `nft -f`: the same `nft.policy` ops (a full sync, partial syncs,
 * a removal) applied both ways in two throwaway namespaces must leave the same table, as `nft -j list table`
 * prints it (handles aside): interval sets (single addresses, prefixes, ranges, one open at the top),
 * concatenated ranges (address . protocol . port range), named counters, `log prefix`, verdict maps.
 */
const P = `pnlp${process.pid.toString(36)}`;
const VIA_NL = `${P}-nl`;
const VIA_NFT = `${P}-nft`;
const NODE = 'node-0';

const logged = (p: ReturnType<typeof policy>) => ({
  ...p,
  metadata: { ...p.metadata, annotations: { [LOG_ANNOTATION]: 'true' } },
});

/** Policies with every kind of element the table holds; `step` moves the world through partial changes. */
function model(step: number): PolicyNodeModel {
  const policies = [
    logged(
      policy('x', 'from-y', {
        podSelector: {},
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }],
            ports: [
              { port: 80, protocol: 'TCP' },
              { port: 81, endPort: step >= 1 ? 95 : 90, protocol: 'UDP' },
              { port: 'serve-81-tcp' },
            ],
          },
        ],
      }),
    ),
    policy('x', 'egress-blocks', {
      podSelector: { matchLabels: { pod: 'a' } },
      policyTypes: ['Egress'],
      egress: [
        { to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.200.1.0/24', '10.200.2.3/32'] } }] },
        {
          to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['192.168.0.0/16'] } }],
          ports: [{ port: 53, protocol: 'UDP' }],
        },
        { to: [{ ipBlock: { cidr: '200.0.0.0/5' } }], ports: [{ port: 1000, endPort: 65535 }] },
        // Up to 255.255.255.255 in an address set: a range open at the top.
        { to: [{ ipBlock: { cidr: '128.0.0.0/1' } }] },
      ],
    }),
    policy('y', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
  ];
  if (step < 3)
    policies.push(
      logged(
        policy('z', 'z-from-x', {
          podSelector: {},
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }] }],
        }),
      ),
    );
  const podLabels = step >= 2 ? { 'x/a': { pod: 'moved' } } : undefined;
  return buildPolicyModel(scenarioWorld({ policies, ...(podLabels ? { podLabels } : {}) }), NODE);
}

const tableExists = (ns: string) =>
  execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables'], { encoding: 'utf8' }).includes(
    'podnet-policy',
  );

describe('the NetworkPolicy table over netlink on the real kernel', { skip: needsRoot }, () => {
  const twins = nftTwins(P);
  /** The op both ways: its netlink form from this process, its `nft -f` text through an nft process. */
  const both = (prev: PolicyNodeModel | undefined, next: PolicyNodeModel | undefined) => {
    const op = (ns: string) => ({
      kind: 'nft.policy' as const,
      netns: named(ns),
      ...(prev ? { prev } : {}),
      ...(next ? { next } : {}),
    });
    const cmd = render(op(VIA_NL));
    assert.equal(twins.sender().send(cmd.netfilter!), true, 'every command of the transaction is encoded');
    execFileSync('ip', ['netns', 'exec', VIA_NFT, 'nft', '-f', '-'], { input: render(op(VIA_NFT)).stdin });
    return cmd.stdin ?? '';
  };

  test('a full sync, partial syncs and a removal leave the same table both ways', () => {
    const first = model(0);
    const text = both(undefined, first);
    for (const what of [
      'flags interval',
      'add counter',
      'counter name',
      'log prefix',
      '128.0.0.0/1',
      ' . udp . 81-90',
    ])
      assert.ok(text.includes(what), `the full sync has ${what}`);
    assert.match(text, /add element inet podnet-policy \S+-any \{[^}]*\//, 'an address set holds a prefix');
    assert.deepEqual(listed(VIA_NL, 'inet', 'podnet-policy'), listed(VIA_NFT, 'inet', 'podnet-policy'));
    // A port range moves (concatenated range elements out and in), a pod is relabelled (pod maps, sets), a
    // policy goes (its counter, its pods' chains and sets deleted), a full sync over the table.
    let prev = first;
    const seen = { deleteElement: false, deleteSet: false, deleteCounter: false };
    for (const step of [1, 2, 3]) {
      const next = model(step);
      const diff = both(prev, next);
      assert.ok(diff.length > 0, `step ${step} changes something`);
      seen.deleteElement ||= /delete element inet podnet-policy \S+-(ports|any) /.test(diff);
      seen.deleteSet ||= diff.includes('delete set ');
      seen.deleteCounter ||= diff.includes('delete counter ');
      assert.deepEqual(
        listed(VIA_NL, 'inet', 'podnet-policy'),
        listed(VIA_NFT, 'inet', 'podnet-policy'),
        `after step ${step}`,
      );
      prev = next;
    }
    assert.deepEqual(seen, { deleteElement: true, deleteSet: true, deleteCounter: true });
    both(undefined, prev);
    assert.deepEqual(
      listed(VIA_NL, 'inet', 'podnet-policy'),
      listed(VIA_NFT, 'inet', 'podnet-policy'),
      'a full sync over the table',
    );
    both(prev, undefined);
    assert.equal(tableExists(VIA_NL), false, 'removed over netlink');
    assert.equal(tableExists(VIA_NFT), false);
  });
});
