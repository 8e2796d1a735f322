import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ConfigIssue } from '../../errors.js';
import { parseNamespace, parseNetworkPolicy } from './parse.js';
import { formatSelector, matches } from './selector.js';

const np = (spec: unknown, meta: Record<string, unknown> = { name: 'p', namespace: 'x' }) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: meta,
  spec,
});

function parse(doc: Record<string, unknown>) {
  const issues: ConfigIssue[] = [];
  const p = parseNetworkPolicy(doc, '', issues);
  return { p, issues };
}

describe('NetworkPolicy parsing', () => {
  test('policyTypes default to Ingress, plus Egress when egress rules are present', () => {
    assert.deepEqual(parse(np({ podSelector: {} })).p?.policyTypes, ['Ingress']);
    assert.deepEqual(parse(np({ podSelector: {}, egress: [] })).p?.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(parse(np({ podSelector: {}, policyTypes: ['Egress'] })).p?.policyTypes, ['Egress']);
  });

  test('ingress [{}] is one rule with no peers and no ports (allow all); [] is no rule (deny all)', () => {
    assert.deepEqual(parse(np({ podSelector: {}, ingress: [{}] })).p?.ingress, [{}]);
    assert.deepEqual(parse(np({ podSelector: {}, ingress: [] })).p?.ingress, []);
    // from: [] and ports: [] mean "every source" and "every port", like absent ones.
    assert.deepEqual(parse(np({ podSelector: {}, ingress: [{ from: [], ports: [] }] })).p?.ingress, [{}]);
  });

  test('namespace defaults to "default"; protocol to TCP', () => {
    const { p } = parse(np({ podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] }, { name: 'p' }));
    assert.equal(p?.namespace, 'default');
    assert.deepEqual(p?.ingress[0]?.ports, [{ protocol: 'TCP', port: 80 }]);
  });

  test('peers: pod+namespace selectors in one peer, ipBlock with except, named ports, endPort, SCTP', () => {
    const { p, issues } = parse(
      np({
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: { pod: 'a' } }, namespaceSelector: { matchLabels: { ns: 'y' } } },
              { ipBlock: { cidr: '10.0.0.1/8', except: ['10.1.0.0/16'] } },
            ],
            ports: [{ port: 'http' }, { protocol: 'UDP', port: 1000, endPort: 2000 }, { protocol: 'SCTP' }],
          },
        ],
      }),
    );
    assert.deepEqual(issues, []);
    const peers = p!.ingress[0]!.peers!;
    assert.equal(peers[0]!.kind, 'pods');
    assert.equal(peers[1]!.kind === 'ipBlock' && peers[1]!.ipBlock.cidr.toString(), '10.0.0.0/8');
    assert.deepEqual(p!.ingress[0]!.ports, [
      { protocol: 'TCP', port: 'http' },
      { protocol: 'UDP', port: 1000, endPort: 2000 },
      { protocol: 'SCTP' },
    ]);
  });

  test('every problem is listed with its path, in one pass', () => {
    const { p, issues } = parse({
      ...np(
        {
          podSelector: {
            matchExpressions: [
              { key: 'a', operator: 'Has' },
              { key: 'b', operator: 'In' },
            ],
          },
          policyTypes: ['Ingress', 'Sideways'],
          ingress: [
            {
              from: [
                {},
                { ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] }, podSelector: {} },
                { ipBlock: { cidr: '10.0.0.0/33' } },
                { ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] } },
              ],
              ports: [
                { port: 0 },
                { port: 'Http' },
                { port: 'http', endPort: 90 },
                { port: 90, endPort: 80 },
                { protocol: 'ICMP' },
                { port: '80' },
                { prot: 'TCP' },
              ],
            },
          ],
          egress: [
            {
              to: [
                {
                  namespaceSelector: { matchExpressions: [{ key: 'k', operator: 'Exists', values: ['v'] }] },
                },
              ],
            },
          ],
          extra: 1,
        },
        { name: 'Bad_Name', namespace: 'x', labels: { 'bad key!': 'v' } },
      ),
      apiVersion: 'networking.k8s.io/v1beta1',
    });
    assert.equal(p, undefined);
    const paths = issues.map((i) => i.path);
    for (const want of [
      'apiVersion',
      'metadata.name',
      'metadata.labels.bad key!',
      'spec.extra',
      'spec.podSelector.matchExpressions[0].operator',
      'spec.podSelector.matchExpressions[1].values',
      'spec.policyTypes[1]',
      'spec.ingress[0].from[0]',
      'spec.ingress[0].from[1]',
      'spec.ingress[0].from[2].ipBlock.cidr',
      'spec.ingress[0].from[3].ipBlock.except[0]',
      'spec.ingress[0].ports[0].port',
      'spec.ingress[0].ports[1].port',
      'spec.ingress[0].ports[2].endPort',
      'spec.ingress[0].ports[3].endPort',
      'spec.ingress[0].ports[4].protocol',
      'spec.ingress[0].ports[5].port',
      'spec.ingress[0].ports[6].prot',
      'spec.egress[0].to[0].namespaceSelector.matchExpressions[0].values',
    ])
      assert.ok(paths.includes(want), `expected an issue at ${want}; got:\n${paths.join('\n')}`);
    assert.match(issues.find((i) => i.path === 'spec.extra')!.message, /^unknown field/);
  });

  test('a selector that can never match is valid (as in Kubernetes)', () => {
    const { issues } = parse(
      np({
        podSelector: { matchLabels: { a: '1' }, matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] },
      }),
    );
    assert.deepEqual(issues, []);
  });
});

describe('label selectors', () => {
  const sel = (s: unknown) => {
    const issues: ConfigIssue[] = [];
    const p = parseNetworkPolicy(np({ podSelector: s }), '', issues);
    assert.deepEqual(issues, []);
    return p!.podSelector;
  };
  test('matchLabels and every operator', () => {
    const s = sel({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['a', 'b'] },
        { key: 'env', operator: 'NotIn', values: ['prod'] },
        { key: 'team', operator: 'Exists' },
        { key: 'debug', operator: 'DoesNotExist' },
      ],
    });
    assert.equal(matches(s, { app: 'web', tier: 'a', team: 't' }), true);
    assert.equal(matches(s, { app: 'web', tier: 'a', team: 't', env: 'dev' }), true);
    assert.equal(matches(s, { app: 'web', tier: 'a', team: 't', env: 'prod' }), false);
    assert.equal(matches(s, { app: 'web', tier: 'c', team: 't' }), false);
    assert.equal(matches(s, { app: 'web', team: 't' }), false, 'In needs the key');
    assert.equal(matches(s, { app: 'web', tier: 'a' }), false, 'Exists');
    assert.equal(matches(s, { app: 'web', tier: 'a', team: 't', debug: '' }), false, 'DoesNotExist');
    assert.equal(matches(s, { app: 'db', tier: 'a', team: 't' }), false);
    assert.equal(formatSelector(s), 'app=web,tier in (a,b),env notin (prod),team,!debug');
  });
  test('an empty selector selects everything', () => {
    assert.equal(matches(sel({}), {}), true);
    assert.equal(matches(sel({}), { any: 'thing' }), true);
  });
});

describe('Namespace parsing', () => {
  test('the kubernetes.io/metadata.name label is set automatically', () => {
    const issues: ConfigIssue[] = [];
    const n = parseNamespace(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'y', labels: { team: 't' } } },
      '',
      issues,
    );
    assert.deepEqual(issues, []);
    assert.deepEqual(n?.labels, { team: 't', 'kubernetes.io/metadata.name': 'y' });
  });
  test('a bad name and an unknown field are both reported', () => {
    const issues: ConfigIssue[] = [];
    parseNamespace(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'Y.z', label: {} } },
      'document 2: ',
      issues,
    );
    assert.deepEqual(issues.map((i) => i.path).sort(), [
      'document 2: metadata.label',
      'document 2: metadata.name',
    ]);
  });
});
