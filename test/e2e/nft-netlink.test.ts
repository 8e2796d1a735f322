import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { KernelError } from '../../src/errors.js';
import type { NftCmd } from '../../src/plan/nft.js';
import { named } from '../../src/plan/ops.js';
import type { ProxyEndpoint, ProxyModel, ProxyServicePort } from '../../src/plan/services/model.js';
import { planNftDiff, planNftFull } from '../../src/plan/services/nftables.js';
import { render } from '../../src/render/index.js';
import { renderNftTx } from '../../src/render/nft.js';
import { needsRoot } from '../helpers/cli.js';
import { listed, nftTwins } from '../helpers/nft-twins.js';

/**
 * The nftables netlink path against `nft -f`: the same transactions (the service proxy's full and partial syncs)
 * applied both ways in two throwaway namespaces must leave the same table, as `nft -j list table` prints it
 * (rule and set handles aside).
 */
const P = `pnft${process.pid.toString(36)}`;
const VIA_NL = `${P}-nl`;
const VIA_NFT = `${P}-nft`;

const ep = (ip: string, port: number, local = false): ProxyEndpoint => ({ ip, port, pod: ip, local });

/** A proxy model with every kind of portal: plain, multi-port (slots), affinity, NodePort both policies, empty. */
function model(moved = 0, big = false): ProxyModel {
  const services: ProxyServicePort[] = [];
  // A class no other service has (20 endpoints): its pick chain comes and goes with this service.
  if (big)
    services.push({
      id: 'default/big:http',
      clusterIP: '10.96.2.1',
      protocol: 'tcp',
      port: 80,
      endpoints: Array.from({ length: 20 }, (_, j) => ep(`10.200.50.${j + 2}`, 8080)),
    });
  for (let i = 0; i < 40; i++) {
    const eps = Array.from({ length: 1 + (i % 7) }, (_, j) => ep(`10.200.${i}.${j + 2}`, 8080));
    if (moved && i === 3) eps[0] = ep(`10.201.0.${moved}`, 8080);
    services.push({
      id: `default/s${String(i).padStart(3, '0')}:http`,
      clusterIP: `10.96.0.${i + 10}`,
      protocol: i % 5 === 4 ? 'udp' : 'tcp',
      port: 80,
      endpoints: eps,
    });
  }
  services.push(
    {
      id: 'default/sticky:a',
      clusterIP: '10.96.1.1',
      protocol: 'tcp',
      port: 53,
      endpoints: [ep('10.200.9.2', 5353, true), ep('10.200.9.3', 5353)],
      affinitySeconds: 60,
    },
    {
      id: 'default/sticky:b',
      clusterIP: '10.96.1.1',
      protocol: 'udp',
      port: 53,
      endpoints: [ep('10.200.9.2', 5353, true), ep('10.200.9.3', 5353)],
      affinitySeconds: 60,
    },
    {
      id: 'default/np-local:80/tcp',
      clusterIP: '10.96.1.2',
      protocol: 'tcp',
      port: 80,
      endpoints: [ep('10.200.9.2', 8080, true), ep('10.200.9.3', 8080)],
      nodePort: 30080,
      nodePortEndpoints: [ep('10.200.9.2', 8080, true)],
      nodePortLocal: true,
    },
    {
      id: 'default/np-cluster:80/tcp',
      clusterIP: '10.96.1.3',
      protocol: 'tcp',
      port: 80,
      endpoints: [ep('10.200.9.4', 8080)],
      nodePort: 30081,
      nodePortEndpoints: [ep('10.200.9.4', 8080)],
    },
    { id: 'default/empty:81/tcp', clusterIP: '10.96.1.4', protocol: 'tcp', port: 81, endpoints: [] },
  );
  services.sort((a, b) => a.id.localeCompare(b.id));
  return {
    node: 'n1',
    mode: 'nftables',
    clusterCIDR: '10.200.0.0/16',
    serviceCIDR: '10.96.0.0/12',
    egressMasquerade: true,
    services,
  };
}

const viaNft = (tx: readonly NftCmd[]) =>
  execFileSync('ip', ['netns', 'exec', VIA_NFT, 'nft', '-f', '-'], { input: renderNftTx(tx) });

describe('nftables over netlink on the real kernel', { skip: needsRoot }, () => {
  const twins = nftTwins(P);
  /** Sends a transaction the way a netlink runner does: the nft.tx op's rendered command's netfilter form. */
  const viaNl = (tx: readonly NftCmd[]) =>
    twins.sender().send(render({ kind: 'nft.tx', netns: named(VIA_NL), tx }).netfilter!);

  test('service proxy: a full sync, then partial syncs, leave the same table both ways', () => {
    const both = (tx: readonly NftCmd[]) => {
      assert.equal(viaNl(tx), true, 'every command of the transaction is encoded');
      viaNft(tx);
      assert.deepEqual(listed(VIA_NL, 'ip', 'podnet-services'), listed(VIA_NFT, 'ip', 'podnet-services'));
    };
    both(planNftFull(model()));
    // An endpoint moves: element deletes and adds.
    let prev = model();
    for (const moved of [1, 2]) {
      const next = model(moved);
      const tx = planNftDiff(prev, next)!;
      assert.ok(
        tx.some((c) => 'elements' in c && c.verb === 'delete'),
        'the partial sync deletes elements',
      );
      both(tx);
      prev = next;
    }
    // A new pick class (chain, rules, class element), then its removal (class element, flush, delete chain).
    for (const big of [true, false]) {
      const next = model(2, big);
      const tx = planNftDiff(prev, next)!;
      assert.ok(
        tx.some((c) => 'chain' in c && c.verb === (big ? 'add' : 'delete')),
        'a pick chain changes',
      );
      both(tx);
      prev = next;
    }
    // A full sync over the existing table (create, delete, create in one batch).
    both(planNftFull(prev));
  });

  test('a refused batch changes nothing and names the command the kernel refused', () => {
    const before = listed(VIA_NL, 'ip', 'podnet-services');
    const tx: NftCmd[] = [
      {
        verb: 'add',
        elements: {
          family: 'ip',
          table: 'podnet-services',
          set: 'endpoints',
          elements: [{ key: '10.96.9.9 . 0', value: '10.200.0.2 . 80' }],
        },
      },
      {
        verb: 'add',
        rule: { family: 'ip', table: 'podnet-services', chain: 'no-such-chain', expr: 'accept' },
      },
    ];
    assert.throws(
      () => viaNl(tx),
      (e: unknown) => e instanceof KernelError && /no-such-chain/.test(e.message) && e.errno === 2,
    );
    assert.deepEqual(listed(VIA_NL, 'ip', 'podnet-services'), before, 'all or nothing');
  });
});
