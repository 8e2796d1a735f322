import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildPolicyModel } from '../../plan/policy/model.js';
import { cyclonusWorld, policy } from '../../plan/policy/testworld.js';
import { renderPolicyFull } from '../../render/policy-nft.js';
import { type PolicyContext, policyAction, policyContext, policyExpected, policyOf } from './policy-hop.js';
import type { MatchedRule, Visit } from './visits.js';

const world = cyclonusWorld([
  policy('x', 'deny-in', { podSelector: {} }),
  policy('x', 'web', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [] }),
  policy('y', 'deny-in', { podSelector: {} }),
  policy('y', 'from-x', {
    podSelector: { matchLabels: { pod: 'b' } },
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }], ports: [{ port: 80 }] }],
  }),
]);

/** A rule of node-0's rendered table as `nft monitor trace` prints it (counter names quoted, `add rule T C` cut). */
function traced(node: string, chain: string, match: RegExp): MatchedRule {
  const line = renderPolicyFull(buildPolicyModel(world, node))
    .split('\n')
    .find((l) => l.startsWith(`add rule inet podnet-policy ${chain} `) && match.test(l));
  assert.ok(line, `a rule of ${chain} matching ${match}`);
  const rule = line
    .slice(`add rule inet podnet-policy ${chain} `.length)
    .replace(/counter name (\S+)/g, 'counter name "$1"');
  const verdict = / drop /.test(rule) ? 'drop' : / return /.test(rule) ? 'return' : 'continue';
  return { family: 'inet', table: 'podnet-policy', chain, rule, verdict, handle: 9 };
}

const visit = (rules: MatchedRule[]): Visit => ({
  ns: 'lab-node-0',
  direction: 'request',
  layer: 'inner',
  seen: [],
  rules,
});

test("a policy drop names every policy isolating the pod, read from the deny rule's counters", () => {
  const vmap: MatchedRule = {
    family: 'inet',
    table: 'podnet-policy',
    chain: 'pod-forward',
    rule: 'ip daddr vmap @ingress-pods',
    verdict: 'jump ingress-x-a',
    handle: 7,
  };
  const p = policyOf(visit([vmap, traced('node-0', 'ingress-x-a', /drop/)]));
  assert.ok(p);
  assert.deepEqual(
    [p.verdict, p.direction, p.pod, p.policies, p.namedBy, p.chain, p.handle],
    ['dropped', 'ingress', 'x/a', ['x/deny-in', 'x/web'], 'rule', 'ingress-x-a', 9],
  );
  assert.equal(
    policyAction(p),
    'DROPPED by policies x/deny-in, x/web (ingress of x/a: isolated, none of their rules allows it; rule inet podnet-policy chain ingress-x-a handle 9)',
  );
});

test('an allow names the allowing policy from the evaluator, and says the set merges the policies', () => {
  // x/a (10.200.0.2) → y/b (10.200.1.3):80, on node-1: y/b's ingress chain returns by its port set.
  const ctx = policyContext(world, '10.200.0.2', { ip: '10.200.1.3', port: 80 }, 'tcp') as PolicyContext;
  assert.equal(ctx.decision?.allowed, true);
  const p = policyOf(visit([traced('node-1', 'ingress-y-b', /allowed port/)]), ctx);
  assert.ok(p);
  assert.deepEqual(
    [p.verdict, p.direction, p.pod, p.policies, p.namedBy, p.rules],
    ['allowed', 'ingress', 'y/b', ['y/from-x'], 'evaluator', ['y/from-x ingress[0]']],
  );
  assert.match(
    policyAction(p),
    /^allowed by policy y\/from-x \(ingress of y\/b: rule inet podnet-policy chain ingress-y-b handle 9, allowed port;/,
  );
  // The same port from z is denied: the evaluator names no allowing rule, and the drop names both policies.
  const deny = policyContext(world, '10.200.0.4', { ip: '10.200.1.3', port: 80 }, 'tcp');
  assert.equal(deny?.decision?.allowed, false);
  const d = policyOf(visit([traced('node-1', 'ingress-y-b', /drop/)]), deny);
  assert.deepEqual(d?.policies, ['y/deny-in', 'y/from-x']);
});

test('no policies: no context; other tables and the invalid-state drop are not a policy by name', () => {
  assert.equal(
    policyContext(cyclonusWorld(), '10.200.0.2', { ip: '10.200.1.3', port: 80 }, 'tcp'),
    undefined,
  );
  assert.equal(
    policyOf(
      visit([{ family: 'inet', table: 'handmade', chain: 'f', rule: 'tcp dport 80 drop', verdict: 'drop' }]),
    ),
    undefined,
  );
  const inv = policyOf(visit([traced('node-0', 'pod-forward', /invalid drop/)]));
  assert.deepEqual([inv?.verdict, inv?.policies, inv?.namedBy], ['dropped', [], 'none']);
  assert.match(
    policyAction(inv!),
    /^DROPPED by rule inet podnet-policy chain pod-forward handle 9: ct state invalid drop/,
  );
});

test('a connection the evaluator denies is expected to end at the dropping node, with no reply', () => {
  const st = (ns: string, layer: 'inner' | 'outer' = 'inner') => ({ ns, place: ns, layer, expect: 'x' });
  const path = {
    request: [st('pod z-a'), st('node-0'), st('switch'), st('node-1'), st('pod y-b')],
    reply: [st('pod y-b')],
  };
  // z/a (10.200.0.4) → y/b:80: y/b's ingress denies it, so the path ends on node-1 (y/b's node).
  const ctx = policyContext(world, '10.200.0.4', { ip: '10.200.1.3', port: 80 }, 'tcp');
  const p = policyExpected(path, ctx, (n) => n, 'node-0', 'node-1');
  assert.deepEqual(
    p.request.map((s) => s.ns),
    ['pod z-a', 'node-0', 'switch', 'node-1'],
  );
  assert.equal(
    p.request[3]!.expect,
    'dropped by policies y/deny-in, y/from-x (ingress of y/b: no rule allows it)',
  );
  assert.deepEqual(p.reply, []);
  // Allowed: unchanged.
  const ok = policyContext(world, '10.200.0.2', { ip: '10.200.1.3', port: 80 }, 'tcp');
  assert.equal(
    policyExpected(path, ok, (n) => n, 'node-0', 'node-1'),
    path,
  );
});

test('explain --walk with policies: a denied connection ends at the node whose policy drops it', async () => {
  const { resolveCluster } = await import('../../model/resolve.js');
  const { loadSpec } = await import('../spec-source.js');
  const { walkText } = await import('./walk.js');
  const docs = [
    'apiVersion: podnet.dev/v1alpha1\nkind: Cluster\nmetadata: {name: w}\nspec:\n  crossNode: host-gw\n  nodes: [{name: node-0, ip: 192.168.64.4}, {name: node-1, ip: 192.168.64.5}]\n  pods: [{name: a, node: node-0, labels: {pod: a}}, {name: b, node: node-1, labels: {pod: b}}]\n',
    'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-in, namespace: default}\nspec: {podSelector: {matchLabels: {pod: b}}}\n',
  ];
  const c = resolveCluster(loadSpec(docs.join('---\n'), 'test'));
  const w = walkText(c, 'lab', 'a', 'b');
  assert.match(
    w,
    / 4\. node-1: dropped by policy default\/deny-in \(ingress of default\/b: no rule allows it\)\n/,
  );
  assert.match(w, /no reply: the connection is denied/);
  assert.doesNotMatch(w, /pod b:/, 'the walk stops at the drop');
  assert.match(walkText(c, 'lab', 'b', 'a'), /the reply goes back/, 'the other way is not isolated');
});
