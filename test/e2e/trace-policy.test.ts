/**
 * `podnet lab trace` through NetworkPolicy on the real kernel: a probe a policy drops is answered "dropped at
 * node-X by policy ns/name …" (the policies read from the deny rule's counters, the rule's handle checked against
 * `nft -a list`, the counter seen moving), across nodes and on one node's bridge; a probe a policy allows names
 * the allowing policy (from the evaluator) beside the rule that returned; the verdict is the same untraced.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli, needsRoot, netnsWithPrefix, ROOT, run, uniqueLab } from '../helpers/cli.js';
import { policyLabFile } from '../helpers/policy-lab.js';

interface HopPolicy {
  verdict: 'dropped' | 'allowed';
  direction?: string;
  pod?: string;
  policies: string[];
  namedBy: string;
  rules?: string[];
  table: string;
  chain: string;
  handle?: number;
  rule: string;
}
interface Hop {
  place: string;
  seen: boolean;
  actions: string[];
  drop?: { table: string; chain: string; handle?: number };
  policy?: HopPolicy;
  delivered?: string;
}
interface Report {
  probe: { verdict: string };
  request: Hop[];
  answer?: { kind: string; node?: string; answer: string; policy?: HopPolicy };
  findings: string[];
}

const lab = uniqueLab('tpol');
const ARTIFACTS = join(ROOT, 'dist', 'test-artifacts', 'trace-policy');
const nsExec = (ns: string, ...argv: string[]) => run(['ip', 'netns', 'exec', `${lab}-${ns}`, ...argv]);

async function trace(from: string, to: string, ...more: string[]): Promise<{ r: Report; text: string }> {
  const j = await cli(['lab', 'trace', '--name', lab, from, to, '--json', ...more]);
  assert.ok(j.code === 0 || j.code === 3, `trace --json exit ${j.code}: ${j.stderr}`);
  const t = await cli(['lab', 'trace', '--name', lab, from, to, ...more]);
  // Kept as test artefacts: what a reader of docs/trace.md sees.
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, `${from}-${to}.txt`.replace(/[:/]/g, '_')), t.stdout);
  return { r: JSON.parse(j.stdout) as Report, text: t.stdout };
}

/** The handle of a chain's deny rule and the packets its policy's counter has seen, read with nft itself. */
async function denyRule(node: string, chain: string, counter: string) {
  const list = (await nsExec(node, 'nft', '-a', 'list', 'chain', 'inet', 'podnet-policy', chain)).stdout;
  const handle = Number(/drop .*# handle (\d+)/.exec(list)?.[1]);
  const c = (await nsExec(node, 'nft', 'list', 'counter', 'inet', 'podnet-policy', counter)).stdout;
  return { handle, packets: Number(/packets (\d+)/.exec(c)?.[1]) };
}

describe('lab trace through NetworkPolicy (real kernel)', { skip: needsRoot }, () => {
  before(async () => {
    const r = await cli(['lab', 'up', '--name', lab, '-f', policyLabFile()]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
  after(async () => {
    await cli(['lab', 'down', '--name', lab]);
    assert.deepEqual(netnsWithPrefix(`${lab}-`), [], 'lab left namespaces');
  });

  test('across nodes: y-b → x-a is dropped at node-0 by policy x/deny-in (rule handle and counter checked)', async () => {
    const before = await denyRule('node-0', 'ingress-x-a', 'deny-ingress-x/deny-in');
    const { r, text } = await trace('y-b', 'x-a');
    assert.equal(r.probe.verdict, 'timeout');
    const h = r.request.find((x) => x.place === 'node-0' && x.seen);
    assert.ok(h?.policy, `node-0's hop carries the policy: ${JSON.stringify(r.request)}`);
    assert.deepEqual(
      [h.policy.verdict, h.policy.direction, h.policy.pod, h.policy.policies, h.policy.namedBy],
      ['dropped', 'ingress', 'x/a', ['x/deny-in'], 'rule'],
    );
    assert.deepEqual([h.policy.table, h.policy.chain], ['inet podnet-policy', 'ingress-x-a']);
    assert.equal(h.policy.handle, before.handle, 'the handle nft -a lists for the deny rule');
    const answer = `dropped at node-0 by policy x/deny-in (ingress of x/a: isolated, none of its rules allows it), hook forward, inet table podnet-policy, chain ingress-x-a (from pod-forward), rule handle ${before.handle}`;
    assert.equal(r.answer?.answer, answer);
    assert.equal(r.answer?.policy?.policies[0], 'x/deny-in');
    assert.ok(text.includes(`answer: ${answer}`), text);
    assert.match(
      text,
      /DROPPED by policy x\/deny-in \(ingress of x\/a: isolated, none of its rules allows it; rule inet podnet-policy chain ingress-x-a handle \d+\)/,
    );
    assert.ok(!r.request.some((x) => x.place === 'pod x-a' && x.seen), 'x-a never saw it');
    assert.deepEqual(r.findings, [], 'the model (its policies included) expected this drop');
    assert.match(text, /expected: +dropped by policy x\/deny-in \(ingress of x\/a: no rule allows it\) ✓/);
    const afterDrop = await denyRule('node-0', 'ingress-x-a', 'deny-ingress-x/deny-in');
    assert.ok(afterDrop.packets > before.packets, "the policy's own counter moved");
  });

  test('on one bridge: y-c → y-b:8081 is dropped at node-1 by both of y-b’s policies', async () => {
    const { handle } = await denyRule('node-1', 'ingress-y-b', 'deny-ingress-y/deny-in');
    const { r, text } = await trace('y-c', 'y-b:8081');
    assert.equal(r.answer?.kind, 'drop');
    assert.equal(r.answer?.node, 'node-1');
    assert.equal(
      r.answer?.answer,
      `dropped at node-1 by policies y/deny-in, y/from-x (ingress of y/b: isolated, none of their rules allows it), hook forward, inet table podnet-policy, chain ingress-y-b (from pod-forward), rule handle ${handle}`,
    );
    assert.match(text, /DROPPED by policies y\/deny-in, y\/from-x/);
    const untraced = await cli(['lab', 'trace', '--name', lab, 'y-c', 'y-b:8081', '--no-observe', '--json']);
    assert.equal((JSON.parse(untraced.stdout) as Report).probe.verdict, r.probe.verdict);
  });

  test('allowed: x-a → y-b:8080 names policy y/from-x beside the rule that let it through', async () => {
    const { r, text } = await trace('x-a', 'y-b:8080');
    assert.equal(r.probe.verdict, 'answered');
    assert.equal(r.answer, undefined);
    const h = r.request.find((x) => x.place === 'node-1' && x.policy);
    assert.ok(h?.policy, JSON.stringify(r.request));
    assert.deepEqual(
      [h.policy.verdict, h.policy.pod, h.policy.policies, h.policy.namedBy, h.policy.rules, h.policy.chain],
      ['allowed', 'y/b', ['y/from-x'], 'evaluator', ['y/from-x ingress[0]'], 'ingress-y-b'],
    );
    assert.match(h.policy.rule, /allowed port/);
    assert.match(
      text,
      /allowed by policy y\/from-x \(ingress of y\/b: rule inet podnet-policy chain ingress-y-b/,
    );
    assert.ok(r.request.some((x) => x.place === 'pod y-b' && x.delivered));
  });
});
