import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderNftTx } from '../../render/nft.js';
import { named } from '../ops.js';
import type { ProxyModel, ProxyServicePort } from './model.js';
import { planNftFull } from './nftables.js';
import { planProxyChange } from './plan.js';

/** 2,000 service ports with 5 remote endpoints each, sorted by id as buildProxyModel sorts them. */
function bigModel(): ProxyModel {
  const services: ProxyServicePort[] = Array.from({ length: 2000 }, (_, i) => ({
    id: `default/s${String(i).padStart(4, '0')}:http`,
    clusterIP: `10.96.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    protocol: i % 2 ? 'udp' : 'tcp',
    port: 80,
    endpoints: Array.from({ length: 5 }, (_, j) => ({
      ip: `10.200.${j + 1}.${(i % 250) + 2}`,
      port: 8080,
      pod: `p${j}`,
      local: false,
    })),
  }));
  return {
    node: 'node-0',
    mode: 'nftables',
    clusterCIDR: '10.200.0.0/16',
    serviceCIDR: '10.96.0.0/16',
    egressMasquerade: true,
    services,
  };
}

/**
 * Every service port but one guarded: reading anything of it except its id (the sorted index both lists are
 * walked by) and its ClusterIP (which ports share a ClusterIP) throws. A planner that compared or expanded
 * all services (its endpoints, its protocol) fails here. The model was synced in full first (as every
 * front door's first sync is), and its list is guarded in place, so what that sync kept of it stays valid.
 */
function guarded(m: ProxyModel, except: number): ProxyModel {
  planNftFull(m);
  const services = m.services as ProxyServicePort[];
  services.forEach((s, i) => {
    if (i !== except)
      services[i] = new Proxy(s, {
        get(target, key) {
          if (key === 'id' || key === 'clusterIP') return target[key];
          throw new Error(`the planner read '${String(key)}' of unchanged service ${target.id}`);
        },
      });
  });
  return m;
}

test('a one-endpoint change is planned from that service port alone', () => {
  const k = 1001; // a UDP port: its removed endpoint's flows are flushed too
  const prev = guarded(bigModel(), k);
  const s = prev.services[k]!;
  const next: ProxyModel = {
    ...prev,
    services: prev.services.map((x, i) =>
      i === k
        ? { ...s, endpoints: s.endpoints.map((e, j) => (j === 2 ? { ...e, ip: '10.201.0.7' } : e)) }
        : x,
    ),
  };
  const ops = planProxyChange(named('n'), prev, next);
  assert.deepEqual(
    ops.map((o) => o.kind),
    ['nft.tx', 'conntrack.delete'],
  );
  const tx = ops[0]!.kind === 'nft.tx' ? renderNftTx(ops[0]!.tx) : '';
  assert.equal(
    tx,
    `delete element ip podnet-services endpoints { ${s.clusterIP} . 2 }\n` +
      `add element ip podnet-services endpoints { ${s.clusterIP} . 2 : 10.201.0.7 . 8080 }\n`,
  );
  // The next change starts from what this one left: still only that port is read.
  const again: ProxyModel = {
    ...next,
    services: next.services.map((x, i) => (i === k ? { ...x, endpoints: x.endpoints.slice(1) } : x)),
  };
  const tx2 = planProxyChange(named('n'), next, again).find((o) => o.kind === 'nft.tx');
  assert.match(
    tx2?.kind === 'nft.tx' ? renderNftTx(tx2.tx) : '',
    /delete element ip podnet-services endpoints/,
  );
});
