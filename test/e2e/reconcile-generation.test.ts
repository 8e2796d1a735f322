/**
 * A long-running loop's resync on the real kernel, with the nftables generation id: podnet's tables are not
 * re-read while the generation is the one podnet left, and any hand-made nftables change (which bumps it) is
 * still read, named and repaired; a foreign commit in the middle of podnet's own apply is not mistaken for ours.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { apply } from '../../src/apply/apply.js';
import { compileNetlinkAddon } from '../../src/exec/netlink/build.js';
import { loadNativeFile } from '../../src/exec/netlink/native.js';
import { NftGenReader } from '../../src/exec/netlink/nft-gen.js';
import { ProcessRunner } from '../../src/exec/process-runner.js';
import type { Command, Runner } from '../../src/exec/runner.js';
import { loadSpec } from '../../src/lab/spec-source.js';
import { resolveCluster } from '../../src/model/resolve.js';
import { NftGenerations } from '../../src/observe/nft-generation.js';
import { observeNode, scopeOf } from '../../src/observe/node.js';
import { buildNodeModel } from '../../src/plan/node/build.js';
import type { NodeModel } from '../../src/plan/node/model.js';
import { diffNode } from '../../src/plan/node/sync.js';
import { named } from '../../src/plan/ops.js';
import { needsRoot } from '../helpers/cli.js';

const P = `png${process.pid.toString(36)}`;
const NODE = `${P}-n`;
const PEER = `${P}-s`;
const netns = named(NODE);

/** Counts `nft … list` reads: the commands the generation check saves. */
class CountingRunner implements Runner {
  reads = 0;
  constructor(private readonly inner: Runner) {}
  run(cmd: Command) {
    if (cmd.argv.includes('nft') && cmd.argv.includes('list')) this.reads++;
    return this.inner.run(cmd);
  }
}

const nft = (...args: string[]) => execFileSync('ip', ['netns', 'exec', NODE, 'nft', ...args]);

describe('resync with the nftables generation id (real kernel)', { skip: needsRoot }, () => {
  const procs = new ProcessRunner();
  const runner = new CountingRunner(procs);
  let dir: string;
  let reader: NftGenReader;
  let gens: NftGenerations;
  let model: NodeModel;

  /** One pass of a node loop: observe, diff, apply, settle; returns the drift lines. */
  async function pass(want: NodeModel): Promise<string[]> {
    const seen = await observeNode(runner, netns, scopeOf(want), { generations: gens });
    const drift = diffNode(seen, want, { netns });
    const ops = drift.flatMap((d) => d.ops);
    if (ops.length) await apply([{ title: 'sync', ops }], gens.tracking(netns, procs), { batch: true });
    gens.settle(netns, want);
    return drift.map((d) => d.what);
  }

  before(async () => {
    for (const n of [NODE, PEER]) execFileSync('ip', ['netns', 'add', n]);
    execFileSync('ip', [
      '-n',
      NODE,
      'link',
      'add',
      'eth0',
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      PEER,
    ]);
    execFileSync('ip', ['-n', NODE, 'addr', 'add', '192.168.64.4/24', 'dev', 'eth0']);
    execFileSync('ip', ['-n', NODE, 'link', 'set', 'eth0', 'up']);
    dir = mkdtempSync(join(tmpdir(), `${P}-`));
    const addon = await compileNetlinkAddon();
    writeFileSync(join(dir, 'netlink.node'), addon.bytes);
    reader = NftGenReader.open(loadNativeFile(join(dir, 'netlink.node')), `/run/netns/${NODE}`);
    gens = new NftGenerations(() => reader.read());
    const cluster = resolveCluster(
      loadSpec(
        `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: gen}
spec:
  crossNode: vxlan
  nodes:
    - {name: node-0, ip: 192.168.64.4}
    - {name: node-1, ip: 192.168.64.5}
  pods:
    - {name: a, node: node-0, labels: {app: web}}
    - {name: b, node: node-1, labels: {app: web}}
  services:
    - {metadata: {name: web}, spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}}
`,
        'gen',
      ),
    );
    model = buildNodeModel(cluster, 'node-0');
  });
  after(() => {
    reader?.close();
    for (const n of [NODE, PEER])
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      } catch {}
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('in sync: the tables are read once, then not again while the generation stays', async () => {
    assert.ok((await pass(model)).length > 0, 'the first pass builds the node');
    runner.reads = 0;
    assert.deepEqual(await pass(model), [], 'nothing to repair after the first pass');
    assert.deepEqual(await pass(model), []);
    assert.equal(runner.reads, 0, 'no nft list while the generation is the one podnet left');
  });

  test('a hand-deleted endpoint element bumps the generation: read, named, restored', async () => {
    const ep = model.proxy!.services[0]!.endpoints[0]!;
    const key = `${model.proxy!.services[0]!.clusterIP} . 0`;
    nft('delete', 'element', 'ip', 'podnet-services', 'endpoints', `{ ${key} }`);
    runner.reads = 0;
    const drift = await pass(model);
    assert.ok(runner.reads > 0, 'the tables were re-read');
    assert.deepEqual(drift, [`nft endpoints element ${key} missing`]);
    const listed = nft('list', 'map', 'ip', 'podnet-services', 'endpoints').toString();
    assert.match(listed, new RegExp(`${ep.ip} \\. ${ep.port}`), 'the element is back');
    runner.reads = 0;
    assert.deepEqual(await pass(model), []);
    assert.equal(runner.reads, 0, 'the repair was podnet own commit: nothing to re-read');
  });

  test('a hand-flushed chain and a foreign table: the chain is repaired, the table stays', async () => {
    nft('flush', 'chain', 'ip', 'podnet-services', 'services');
    nft('add', 'table', 'inet', 'foreign');
    runner.reads = 0;
    const drift = await pass(model);
    assert.ok(runner.reads > 0);
    assert.equal(drift.length, 1, drift.join('\n'));
    assert.match(drift[0]!, /nft chain services has 0 rule\(s\), want 4/);
    assert.deepEqual(await pass(model), []);
    assert.match(nft('list', 'tables').toString(), /table inet foreign/, 'the foreign table stays');
  });

  test('a foreign commit while podnet applies is not taken for podnet own', async () => {
    assert.deepEqual(await pass(model), []);
    // Observe (generation known), then someone commits before podnet's change goes in.
    const seen = await observeNode(runner, netns, scopeOf(model), { generations: gens });
    nft('add', 'element', 'ip', 'podnet-services', 'endpoints', '{ 10.96.0.1 . 999 : 10.201.0.9 . 80 }');
    const moved: NodeModel = {
      ...model,
      proxy: { ...model.proxy!, services: [{ ...model.proxy!.services[0]!, endpoints: [] }] },
    };
    const ops = diffNode(seen, moved, { netns }).flatMap((d) => d.ops);
    await apply([{ title: 'change', ops }], gens.tracking(netns, procs), { batch: true });
    gens.settle(netns, moved);
    runner.reads = 0;
    const drift = await pass(moved);
    assert.ok(runner.reads > 0, 'the tables were re-read');
    assert.deepEqual(drift, ['nft endpoints element 10.96.0.1 . 999 not desired']);
  });
});
