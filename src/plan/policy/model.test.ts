import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { expectGolden } from '../../../test/helpers/golden.js';
import type { Protocol } from '../../model/policy/types.js';
import { Ip } from '../../net/ip.js';
import { parsePolicyTable } from '../../observe/policy.js';
import { renderPolicyDiff, renderPolicyFull } from '../../render/policy-nft.js';
import { named } from '../ops.js';
import { allowed, type Endpoint, type PolicyWorld } from './evaluate.js';
import { disjointBoxes, mergeRanges, rangeText, subtract } from './intervals.js';
import { buildPolicyModel, type PolicyNodeModel } from './model.js';
import { planPolicySync, policyDiffSummary, samePolicyModel } from './plan.js';
import { SCENARIOS } from './scenarios.js';
import { cyclonusWorld, policy, scenarioWorld } from './testworld.js';

const n = (s: string) => Ip.parse(s).value;

/** Parses a range element back: `a.b.c.d`, `a.b.c.d/n` or `lo-hi`. */
function parseRange(t: string): [number, number] {
  if (t.includes('/')) {
    const [ip, len] = t.split('/');
    const size = 2 ** (32 - Number(len));
    return [n(ip!), n(ip!) + size - 1];
  }
  if (t.includes('-')) {
    const [a, b] = t.split('-');
    return [n(a!), n(b!)];
  }
  return [n(t), n(t)];
}
const inRange = (v: number, [lo, hi]: [number, number]) => v >= lo && v <= hi;

/**
 * A packet tracer over the models, as the kernel would walk podnet-policy (kube-proxy's nftables tracer idea):
 * the source node's egress chain for an isolated source pod, then the destination node's ingress chain.
 */
function traced(
  models: Record<string, PolicyNodeModel>,
  src: string,
  dst: string,
  port: number,
  proto: string,
) {
  const verdict = (m: PolicyNodeModel, chain: string, peer: string) => {
    if (m.sets[`${chain}-any`]!.some((e) => inRange(n(peer), parseRange(e)))) return true;
    return m.sets[`${chain}-ports`]!.some((e) => {
      const [ips, pr, ports] = e.split(' . ');
      const [plo, phi] = ports!.includes('-')
        ? ports!.split('-').map(Number)
        : [Number(ports), Number(ports)];
      return inRange(n(peer), parseRange(ips!)) && pr === proto && port >= plo! && port <= phi!;
    });
  };
  for (const m of Object.values(models)) {
    const c = m.egressPods[src];
    if (c && !verdict(m, c, dst)) return false;
  }
  for (const m of Object.values(models)) {
    const c = m.ingressPods[dst];
    if (c && !verdict(m, c, src)) return false;
  }
  return true;
}

const models = (w: PolicyWorld) =>
  Object.fromEntries(w.nodes.map((x) => [x.name, buildPolicyModel(w, x.name)]));

describe('NetworkPolicy nftables model', () => {
  test('ranges: merge, subtract except, print as CIDR or range', () => {
    assert.deepEqual(
      mergeRanges([
        [5, 9],
        [1, 3],
        [4, 4],
        [20, 30],
      ]),
      [
        [1, 9],
        [20, 30],
      ],
    );
    const r = subtract([n('10.0.0.0'), n('10.0.255.255')], [[n('10.0.1.0'), n('10.0.1.255')]]);
    assert.deepEqual(r.map(rangeText), ['10.0.0.0/24', '10.0.2.0-10.0.255.255']);
  });

  test('boxes come out disjoint, joined again where addresses agree', () => {
    const out = disjointBoxes([
      { ips: [1, 5], proto: 'tcp', ports: [80, 81] },
      { ips: [3, 9], proto: 'tcp', ports: [81, 90] },
      { ips: [1, 5], proto: 'udp', ports: [53, 53] },
    ]);
    assert.deepEqual(out, [
      { ips: [1, 5], proto: 'tcp', ports: [80, 80] },
      { ips: [1, 9], proto: 'tcp', ports: [81, 81] },
      { ips: [3, 9], proto: 'tcp', ports: [82, 90] },
      { ips: [1, 5], proto: 'udp', ports: [53, 53] },
    ]);
  });

  for (const s of SCENARIOS) {
    test(`the models decide as the evaluator: ${s.name}`, () => {
      const w = scenarioWorld(s);
      const m = models(w);
      const ends: Endpoint[] = [...w.pods.map((pod) => ({ pod })), { ip: Ip.parse('203.0.113.10') }];
      let cells = 0;
      for (const a of ends)
        for (const b of ends) {
          if (!('pod' in a) && !('pod' in b)) continue;
          for (const proto of ['TCP', 'UDP'] as Protocol[])
            for (const port of [80, 81]) {
              const want = allowed(w, a, b, port, proto).allowed;
              const ip = (e: Endpoint) => ('pod' in e ? e.pod.ip : e.ip).toString();
              const got = traced(m, ip(a), ip(b), port, proto.toLowerCase());
              assert.equal(got, want, `${ip(a)} -> ${ip(b)}:${port}/${proto}`);
              cells++;
            }
        }
      assert.equal(cells, (10 * 10 - 1) * 4);
    });
  }

  /** The golden world: node-0 of the cyclonus world with three policies. */
  const goldenWorld = () =>
    cyclonusWorld([
      policy('x', 'deny-ingress', { podSelector: {} }),
      {
        ...policy('x', 'allow', {
          podSelector: { matchLabels: { pod: 'a' } },
          ingress: [
            {
              from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }],
              ports: [{ port: 'serve-80-tcp' }],
            },
            { from: [{ ipBlock: { cidr: '10.200.0.0/16', except: ['10.200.1.0/24'] } }] },
          ],
        }),
        metadata: { name: 'allow', namespace: 'x', annotations: { 'podnet.dev/log-denied': 'true' } },
      },
      policy('y', 'egress', {
        podSelector: { matchLabels: { pod: 'a' } },
        egress: [{ ports: [{ protocol: 'UDP', port: 80, endPort: 81 }] }],
      }),
    ]);

  test('golden: node-0 of the cyclonus world with three policies', () => {
    const w = goldenWorld();
    expectGolden(renderPolicyFull(buildPolicyModel(w, 'node-0')), 'policy/node-0-full.nft');
  });

  test('observe reads the table nft made of the golden script back into the same model; drift is a diff', () => {
    // node-0-full.nft.json: `nft -j list table inet podnet-policy` after `nft -f node-0-full.nft` (nft 1.0).
    const json = readFileSync(
      new URL('../../../../test/golden/policy/node-0-full.nft.json', import.meta.url),
      'utf8',
    );
    const desired = buildPolicyModel(goldenWorld(), 'node-0');
    const seen = parsePolicyTable(json, 'node-0');
    assert.ok('policy' in seen, JSON.stringify(seen));
    assert.ok(samePolicyModel(seen.policy, desired), JSON.stringify(seen.policy));
    assert.deepEqual(planPolicySync({ netns: named('n0'), prev: seen.policy, next: desired }), []);

    // One element deleted by hand: the diff adds exactly it back.
    const doc = JSON.parse(json) as { nftables: { set?: { name: string; elem?: unknown[] } }[] };
    const set = doc.nftables.find((o) => o.set?.name === 'ingress-x-a-ports')!.set!;
    set.elem = set.elem!.slice(1);
    const drifted = parsePolicyTable(JSON.stringify(doc), 'node-0');
    assert.ok('policy' in drifted);
    assert.match(
      policyDiffSummary(drifted.policy, desired),
      /set ingress-x-a-ports missing 10\.200\.0\.3 \. tcp \. 80/,
    );
    assert.equal(
      renderPolicyDiff(drifted.policy, desired),
      'add element inet podnet-policy ingress-x-a-ports { 10.200.0.3 . tcp . 80 }\n',
    );

    // A rule of the base chain deleted: the table is damaged, replaced whole.
    const base = JSON.parse(json) as { nftables: { rule?: { chain: string; comment?: string } }[] };
    base.nftables = base.nftables.filter(
      (o) => !(o.rule?.chain === 'pod-forward' && /mid-stream/.test(o.rule.comment ?? '')),
    );
    assert.deepEqual(parsePolicyTable(JSON.stringify(base), 'node-0'), {
      damaged: 'base chain pod-forward differs',
    });
  });

  test('golden: a change renders only what changed (one pod relabelled)', () => {
    const pols = [
      policy('x', 'allow-from-b', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
      }),
    ];
    const before = buildPolicyModel(scenarioWorld({ policies: pols }), 'node-0');
    const after = buildPolicyModel(
      scenarioWorld({ policies: pols, podLabels: { 'x/c': { pod: 'b' } } }),
      'node-0',
    );
    const diff = renderPolicyDiff(before, after);
    assert.ok(diff);
    expectGolden(diff, 'policy/node-0-relabel.nft');
    assert.equal(renderPolicyDiff(after, after), undefined);
    // Deleting the policy removes its chain, sets and counter, after the map entry that jumped there.
    const none = buildPolicyModel(scenarioWorld({ policies: [] }), 'node-0');
    expectGolden(renderPolicyDiff(after, none)!, 'policy/node-0-delete.nft');
  });
});
