import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseNetworkPolicy } from '../../model/policy/parse.js';
import { Ip } from '../../net/ip.js';
import { renderPolicyDiff } from '../../render/policy-nft.js';
import type { NodeModel } from '../node/model.js';
import { planNodeSync } from '../node/sync.js';
import { named } from '../ops.js';
import type { PolicyPod, PolicyWorld } from './evaluate.js';
import { buildPolicyModel, type PolicyNodeModel } from './model.js';
import { samePolicyModel } from './plan.js';
import { PolicyPlanner } from './planner.js';
import { cyclonusWorld, policy } from './testworld.js';

const parse = (doc: Record<string, unknown>) => parseNetworkPolicy(doc, '', [])!;
const P1 = policy('x', 'p1', {
  podSelector: { matchLabels: { pod: 'a' } },
  ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
});
const P2 = policy('y', 'p2', {
  podSelector: {},
  ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }], ports: [{ port: 80 }] }],
});
const P3 = policy('z', 'p3', {
  podSelector: { matchLabels: { pod: 'a' } },
  policyTypes: ['Egress'],
  egress: [{ to: [{ podSelector: { matchLabels: { pod: 'c' } } }], ports: [{ port: 'serve-80-tcp' }] }],
});
const base = () => cyclonusWorld([P1, P2, P3]);
const relabel = (w: PolicyWorld, key: string, labels: Record<string, string>): PolicyWorld => ({
  ...w,
  pods: w.pods.map((p) => (`${p.namespace}/${p.name}` === key ? { ...p, labels } : p)),
});

/** A planner that has seen `w`, and the set arrays of its model (to check which ones were rebuilt). */
function primed(w: PolicyWorld) {
  const planner = new PolicyPlanner('node-0');
  const model = planner.update(w);
  return { planner, model };
}

/** Sets whose arrays are new objects (recomputed), by name. */
const rebuilt = (a: PolicyNodeModel, b: PolicyNodeModel) =>
  Object.keys(b.sets)
    .filter((k) => a.sets[k] !== b.sets[k])
    .sort();

describe('incremental policy planner', () => {
  test('a first update computes every isolated own pod direction, as the whole-model build does', () => {
    const { planner, model } = primed(base());
    assert.deepEqual(planner.recomputed.filter((c) => !c.startsWith('(')).sort(), [
      'egress-z-a',
      'ingress-x-a',
      'ingress-y-a',
    ]);
    assert.ok(samePolicyModel(model, buildPolicyModel(base(), 'node-0')));
  });

  test('an unchanged world recomputes nothing and returns the same set arrays', () => {
    const { planner, model } = primed(base());
    const again = planner.update(base()); // equal objects, not the same ones
    assert.deepEqual(planner.recomputed, []);
    assert.deepEqual(rebuilt(model, again), []);
  });

  test('a policy change recomputes only the chains of the pods its podSelector picks', () => {
    const { planner, model } = primed(base());
    const w = base();
    const p1 = parse(
      policy('x', 'p1', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'c' } } }] }],
      }),
    );
    const next = planner.update({ ...w, policies: w.policies.map((p) => (p.name === 'p1' ? p1 : p)) });
    assert.deepEqual(planner.recomputed, ['ingress-x-a', '(egress x/a: not isolated)']);
    assert.deepEqual(rebuilt(model, next), ['ingress-x-a-any', 'ingress-x-a-ports']);
    assert.deepEqual(next.sets['ingress-x-a-any'], ['10.200.0.2', '10.200.2.2']); // itself, and x/c
  });

  test('a pod relabel recomputes only the chains whose peers gained or lost it', () => {
    const { planner, model } = primed(base());
    // x/b leaves P1's peers (pod=b in x): only x/a's ingress changes on node-0.
    const next = planner.update(relabel(base(), 'x/b', { pod: 'q' }));
    assert.deepEqual(planner.recomputed, ['ingress-x-a', '(egress x/a: not isolated)']);
    assert.deepEqual(rebuilt(model, next), ['ingress-x-a-any', 'ingress-x-a-ports']);
    assert.ok(!next.sets['ingress-x-a-any']!.includes('10.200.1.2'));
    // z/c changes labels but stays in P2's peers (namespace z, any labels) and leaves P3's (pod=c).
    const third = planner.update(relabel(relabel(base(), 'x/b', { pod: 'q' }), 'z/c', { pod: 'q' }));
    assert.deepEqual(planner.recomputed, ['(ingress z/a: not isolated)', 'egress-z-a']);
    assert.deepEqual(rebuilt(next, third), ['egress-z-a-any', 'egress-z-a-ports']);
  });

  test('a relabel of a pod on another node no policy names recomputes nothing', () => {
    const { planner } = primed(base());
    planner.update(relabel(base(), 'y/b', { pod: 'b', extra: 'yes' }));
    assert.deepEqual(planner.recomputed, []);
  });

  test('a namespace relabel recomputes only chains with a namespaceSelector it flips', () => {
    const { planner, model } = primed(base());
    const w = base();
    const next = planner.update({
      ...w,
      namespaces: w.namespaces.map((n) => (n.name === 'x' ? { ...n, labels: { ...n.labels, ns: 'z' } } : n)),
    });
    assert.deepEqual(planner.recomputed, ['ingress-y-a', '(egress y/a: not isolated)']);
    assert.deepEqual(rebuilt(model, next), ['ingress-y-a-any', 'ingress-y-a-ports']);
  });

  test('through planNodeSync: one nft op whose script touches only the changed set', () => {
    const { planner, model } = primed(base());
    const node = (policy: PolicyNodeModel): NodeModel => ({
      node: 'node-0',
      podCIDR: '10.200.0.0/24',
      sysctls: {},
      routes: [],
      fdb: [],
      neighbours: [],
      policy,
    });
    const next = planner.update(relabel(base(), 'x/b', { pod: 'q' }));
    const ops = planNodeSync(node(model), node(next), { netns: named('n0') });
    assert.equal(ops.length, 1);
    assert.equal(
      renderPolicyDiff(model, next),
      'delete element inet podnet-policy ingress-x-a-any { 10.200.1.2 }\n',
    );
  });

  test('after any sequence of changes the model equals one built from scratch', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const extra = [
      P1,
      P2,
      P3,
      policy('y', 'deny', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Ingress', 'Egress'] }),
      policy('x', 'blocks', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [{ ipBlock: { cidr: '10.200.0.0/16', except: ['10.200.1.0/24'] } }],
            ports: [{ port: 'serve-81-udp', protocol: 'UDP' }],
          },
        ],
      }),
      policy('z', 'ns-and-pod', {
        podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['a', 'c', 'q'] }] },
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { team: 'blue' } },
                podSelector: { matchLabels: { pod: 'b' } },
              },
            ],
            ports: [
              { port: 80, endPort: 90 },
              { port: 'serve-80-udp', protocol: 'UDP' },
            ],
          },
        ],
      }),
    ].map(parse);
    let w: PolicyWorld = { ...cyclonusWorld(), policies: [] };
    const planners = [0, 1, 2].map((n) => new PolicyPlanner(`node-${n}`));
    for (const p of planners) p.update(w);
    for (let step = 0; step < 120; step++) {
      const pods = [...w.pods];
      const i = rand(pods.length);
      const pod = pods[i]!;
      switch (rand(6)) {
        case 0: {
          const p = extra[rand(extra.length)]!;
          const has = w.policies.some((x) => x.name === p.name && x.namespace === p.namespace);
          w = { ...w, policies: has ? w.policies.filter((x) => x !== p) : [...w.policies, p] };
          break;
        }
        case 1:
          pods[i] = { ...pod, labels: { pod: ['a', 'b', 'c', 'q'][rand(4)]! } };
          w = { ...w, pods };
          break;
        case 2:
          w = {
            ...w,
            namespaces: w.namespaces.map((n, k) =>
              k === rand(3) ? { ...n, labels: { ...n.labels, team: rand(2) ? 'blue' : 'red' } } : n,
            ),
          };
          break;
        case 3:
          pods[i] = { ...pod, node: `node-${rand(3)}` };
          w = { ...w, pods };
          break;
        case 4:
          // A pod leaves, or comes back at a new address.
          if (pods.length > 6) w = { ...w, pods: pods.filter((_, k) => k !== i) };
          else w = { ...w, pods: [...pods, moved(pod, step)] };
          break;
        default:
          pods[i] = { ...pod, ports: rand(2) ? [] : cyclonusWorld().pods[0]!.ports };
          w = { ...w, pods };
      }
      for (const p of planners) {
        const got = p.update(w);
        const want = buildPolicyModel(w, p.node);
        if (!samePolicyModel(got, want)) assert.deepEqual(got, want, `step ${step}: ${p.node}`);
      }
    }
  });
});

const moved = (p: PolicyPod, n: number): PolicyPod => ({
  ...p,
  name: `${p.name}${n}`,
  ip: Ip.parse(`10.200.${Number(p.node.slice(5))}.${100 + n}`),
});
