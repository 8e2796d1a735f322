import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from '../exec/runner.js';
import { emptyNodeState, type NodeModel } from '../plan/node/model.js';
import { named } from '../plan/ops.js';
import { NftGenerations } from './nft-generation.js';

const ns = named('n1');
const model = { ...emptyNodeState('n1'), policy: { marker: 1 } } as unknown as NodeModel;
const nftTx: Command = { argv: ['ip', 'netns', 'exec', 'n1', 'nft', '-f', '-'], stdin: 'add table ip t\n' };
const ipCmd: Command = { argv: ['ip', '-n', 'n1', 'route', 'replace', '10.0.0.0/24', 'dev', 'eth0'] };

/** A kernel whose generation the test moves: `commit` bumps it, as any nftables transaction does. */
function kernel() {
  const k = { genid: 7, foreignDuringNextTx: false };
  const runner = {
    run: async (cmd: Command) => {
      if (cmd.argv.includes('nft')) {
        if (k.foreignDuringNextTx) k.genid++;
        k.foreignDuringNextTx = false;
        k.genid++;
      }
      return { stdout: '', stderr: '', exitCode: 0 };
    },
  };
  return { k, runner, gens: new NftGenerations(() => k.genid) };
}

test('the content is kept only at the generation podnet settled at', () => {
  const { k, gens } = kernel();
  assert.equal(gens.check(ns).parts, undefined, 'nothing known yet: read the tables');
  gens.observed(ns, k.genid);
  assert.equal(gens.check(ns).parts, undefined, 'a read alone keeps no content');
  gens.settle(ns, model);
  assert.deepEqual(gens.check(ns).parts, { policy: { marker: 1 } });
  k.genid++; // someone commits (nft by hand, iptables-nft, …)
  assert.equal(gens.check(ns).parts, undefined, 'a foreign commit forces the read');
});

test("podnet's own transaction carries the generation; ip commands are not bracketed", async () => {
  const { k, runner, gens } = kernel();
  gens.observed(ns, k.genid);
  const tracked = gens.tracking(ns, runner);
  await tracked.run(ipCmd);
  await tracked.run(nftTx);
  gens.settle(ns, model);
  assert.equal(k.genid, 8);
  assert.ok(gens.check(ns).parts, 'one commit, ours');
});

test('a foreign commit between observe and apply, or inside the apply, is not taken for ours', async () => {
  const before = kernel();
  before.gens.observed(ns, before.k.genid);
  before.k.genid++; // foreign, after the read
  await before.gens.tracking(ns, before.runner).run(nftTx);
  before.gens.settle(ns, model);
  assert.equal(before.gens.check(ns).parts, undefined);

  const during = kernel();
  during.gens.observed(ns, during.k.genid);
  during.k.foreignDuringNextTx = true;
  await during.gens.tracking(ns, during.runner).run(nftTx);
  during.gens.settle(ns, model);
  assert.equal(during.gens.check(ns).parts, undefined);
});
