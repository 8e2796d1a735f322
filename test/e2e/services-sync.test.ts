import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { exec } from '../../src/exec/process-runner.js';
import type { ProxyEndpoint, ProxyModel, ProxyServicePort } from '../../src/plan/services/model.js';
import { NFT } from '../../src/plan/services/nftables.js';
import { renderNftDiff, renderNftFull } from '../../src/render/nft-proxy.js';
import { needsRoot } from '../helpers/cli.js';

/**
 * Partial syncs are only correct if, after any sequence of them, the table holds exactly what a full sync of
 * the final model would: checked on a real kernel in a private namespace, over random endpoint changes,
 * service additions and removals, class changes (endpoint counts 0-20, so chains appear) and port slots.
 */

const NS = `pt${process.pid % 100000}-sync`;
after(async () => {
  await exec(['ip', 'netns', 'del', NS]);
  await exec(['ip', 'netns', 'del', `${NS}-ref`]);
});

let seed = 42;
const rand = (n: number) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};

function randomModel(): ProxyModel {
  const services: ProxyServicePort[] = [];
  for (let i = 0; i < 60; i++) {
    if (rand(5) === 0) continue;
    const ports = 1 + (i % 3 === 0 ? rand(3) : 0);
    for (let p = 0; p < ports; p++) {
      const n = rand(10) === 0 ? 17 + rand(4) : rand(7);
      const endpoints: ProxyEndpoint[] = Array.from({ length: n }, (_, k) => ({
        ip: `10.200.${rand(3)}.${2 + rand(40)}`,
        port: 8000 + k,
        pod: `p${k}`,
        local: rand(4) === 0,
      }));
      services.push({
        id: `default/s${String(i).padStart(3, '0')}:p${p}`,
        clusterIP: `10.96.1.${i + 2}`,
        protocol: p === 1 ? 'udp' : 'tcp',
        port: 80 + p,
        endpoints,
        ...(i % 7 === 0 ? { affinitySeconds: 60 } : {}),
        ...(i % 11 === 0
          ? { nodePort: 30000 + i * 3 + p, nodePortEndpoints: endpoints, nodePortLocal: false }
          : {}),
      });
    }
  }
  return {
    node: 'n',
    mode: 'nftables',
    clusterCIDR: '10.200.0.0/16',
    serviceCIDR: '10.96.0.0/12',
    egressMasquerade: true,
    services,
  };
}

async function nft(ns: string, script: string): Promise<void> {
  const r = await exec(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], script);
  assert.equal(r.exitCode, 0, `${r.stderr}\n${script.slice(0, 2000)}`);
}

/** Every element of every map and set of the table, as sorted text (handles and order do not matter). */
async function elements(ns: string): Promise<Record<string, string[]>> {
  const r = await exec(['ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'table', NFT.family, NFT.table]);
  const out: Record<string, string[]> = {};
  for (const o of (JSON.parse(r.stdout) as { nftables: Record<string, { name: string; elem?: unknown[] }>[] })
    .nftables) {
    const set = o.map ?? o.set;
    if (!set || set.name === NFT.affinity || set.name === NFT.classes) continue;
    out[set.name] = (set.elem ?? []).map((e) => JSON.stringify(e)).sort();
  }
  return out;
}

describe('nftables partial sync (real kernel)', { skip: needsRoot }, () => {
  test('any sequence of partial syncs leaves what a full sync of the final model leaves', async () => {
    for (const ns of [NS, `${NS}-ref`]) assert.equal((await exec(['ip', 'netns', 'add', ns])).exitCode, 0);
    let prev = randomModel();
    await nft(NS, renderNftFull(prev));
    for (let round = 0; round < 12; round++) {
      const next = randomModel();
      const diff = renderNftDiff(prev, next);
      assert.ok(diff !== undefined);
      await nft(NS, diff);
      prev = next;
    }
    await nft(`${NS}-ref`, renderNftFull(prev));
    assert.deepEqual(await elements(NS), await elements(`${NS}-ref`));
  });
});
