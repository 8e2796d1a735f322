import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { parseClusterFile } from './parse.js';
import { suggest } from './strict.js';

function issues(text: string): ConfigIssue[] {
  try {
    parseClusterFile(text, 't.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return [...e.issues];
    throw e;
  }
  assert.fail('expected a ConfigError');
}

const pod = (extra: string) =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  nodeName: node-2\n  containers: [{name: c, command: [sleep, "1"]}]\n${extra}`;

test('unknown Pod fields are errors, with the allowed list, a suggestion and the position', () => {
  const i = issues(pod('  nodname: x\n'));
  assert.equal(i.length, 1);
  assert.equal(i[0]!.path, 'document 1 (Pod web): spec.nodname');
  assert.match(i[0]!.message, /unknown field; did you mean 'nodeName'/);
  assert.match(i[0]!.hint!, /allowed here: nodeName, containers/);
  assert.deepEqual([i[0]!.line, i[0]!.column], [7, 3]);
});

test('ignored Kubernetes fields pass; refused ones name the reason', () => {
  assert.doesNotThrow(() => parseClusterFile(pod('  restartPolicy: Always\nstatus: {phase: Running}\n')));
  const i = issues(pod('  hostNetwork: true\n'));
  assert.match(i[0]!.message, /true is not supported: every podnet pod has its own network namespace/);
});

test('semantic errors of a Kubernetes Pod name its own fields (spec.nodeName, not metadata.node)', () => {
  const i = issues(pod('').replace('node-2', 'node-9'));
  assert.equal(i[0]!.path, 'document 1 (Pod web): spec.nodeName');
  assert.equal(i[0]!.line, 5);
});

test('empty file, binary, duplicate key, non-mapping: each refused with a clear message', () => {
  assert.match(issues('')[0]!.message, /holds no objects/);
  assert.match(issues('---\n---\n')[0]!.message, /holds no objects/);
  assert.match(issues('a\u0000b')[0]!.message, /NUL byte/);
  const dup = issues('kind: Pod\nmetadata: {name: web}\nspec:\n  x: 1\n  x: 2\n')[0]!;
  assert.equal(dup.path, 'document 1 (Pod web): spec.x');
  assert.match(dup.message, /duplicate key 'x' \(first at line 4\)/);
  assert.equal(dup.line, 5);
  const all = issues(`- x\n---\n${pod('  bogus: 1\n')}`);
  assert.deepEqual(
    all.map((x) => x.path),
    ['document 1', 'document 2 (Pod web): spec.bogus'],
  );
});

test('suggest: close spellings only', () => {
  assert.equal(suggest('label', ['name', 'labels', 'annotations']), 'labels');
  assert.equal(suggest('clusterCidr', ['clusterCIDR', 'serviceCIDR']), 'clusterCIDR');
  assert.equal(suggest('zzz', ['name', 'labels']), undefined);
});
