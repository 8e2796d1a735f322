import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NftCmd } from '../nft.js';
import type { ProxyEndpoint, ProxyModel, ProxyServicePort } from './model.js';
import { chainCmds, classEntries, elementCmds, entries } from './nft-cmds.js';
import { elementsOf } from './nft-elements.js';
import { isStanding, NFT, pickChain } from './nft-layout.js';
import { planNftDiff } from './nftables.js';

/**
 * The partial sync against the plain definition: the element diff of the two whole tables (both expanded in
 * full, every port), on random changes of random models, with ports shared by reference (as the agent's
 * builder leaves them) and with every port a fresh copy (as a model rebuilt from scratch is).
 */

/** The reference: both tables in full, diffed map by map, in the partial sync's order. */
function fullDiff(prev: ProxyModel, next: ProxyModel): NftCmd[] {
  const a = elementsOf(prev);
  const b = elementsOf(next);
  const newClasses = [...b.classes].filter(([k, c]) => !a.classes.has(k) && !isStanding(c));
  const gone = [...a.classes].filter(([k, c]) => !b.classes.has(k) && !isStanding(c));
  const before: NftCmd[] = [];
  const after: NftCmd[] = [];
  const diff = (set: string, x: Map<string, string>, y: Map<string, string>, to = after, from = before) => {
    from.push(
      ...elementCmds(
        'delete',
        set,
        [...x].filter(([k, v]) => y.get(k) !== v).map(([key]) => ({ key })),
      ),
    );
    to.push(...elementCmds('add', set, entries(new Map([...y].filter(([k, v]) => x.get(k) !== v)))));
  };
  const portalsOut: NftCmd[] = [];
  const portalsIn: NftCmd[] = [];
  diff(NFT.serviceClasses, a.serviceClasses, b.serviceClasses, portalsIn, portalsOut);
  diff(NFT.nodeportClasses, a.nodeportClasses, b.nodeportClasses, portalsIn, portalsOut);
  diff(NFT.endpoints, a.endpoints, b.endpoints);
  diff(NFT.nodeportEndpoints, a.nodeportEndpoints, b.nodeportEndpoints);
  diff(NFT.hairpin, a.hairpin, b.hairpin);
  const out = [
    ...newClasses.filter(([, c]) => c.n > 0).flatMap(([, c]) => chainCmds(c)),
    ...elementCmds('add', NFT.classes, classEntries(newClasses)),
    ...portalsOut,
    ...before,
    ...after,
    ...portalsIn,
    ...elementCmds(
      'delete',
      NFT.classes,
      gone.map(([key]) => ({ key })),
    ),
  ];
  for (const [, c] of gone)
    if (c.n > 0) out.push({ verb: 'flush', chain: pickChain(c) }, { verb: 'delete', chain: pickChain(c) });
  return out;
}

/** A small deterministic generator (mulberry32). */
function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { int: (n: number) => Math.floor(next() * n), chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof rng>;

/** One service: 1-3 ports on one ClusterIP; endpoints from a small pool (so local ones repeat across services). */
function service(r: Rng, n: number, ip: number, nodePorts: Set<number>): ProxyServicePort[] {
  const count = r.chance(0.2) ? 20 + r.int(5) : r.int(8); // some past the 16 standing classes
  const eps = (): ProxyEndpoint[] =>
    Array.from({ length: count }, () => {
      const k = r.int(200);
      return { ip: `10.200.${k % 4}.${k + 2}`, port: 8080, pod: `p${k}`, local: k % 10 === 0 };
    });
  const affinity = r.chance(0.2) ? [60, 120][r.int(2)] : undefined;
  const ports = 1 + (r.chance(0.3) ? r.int(3) : 0);
  return Array.from({ length: ports }, (_, i) => {
    let nodePort: number | undefined;
    if (r.chance(0.3)) {
      nodePort = 30000 + r.int(200);
      if (nodePorts.has(nodePort)) nodePort = undefined;
      else nodePorts.add(nodePort);
    }
    const endpoints = eps();
    const local = r.chance(0.5);
    return {
      id: `ns/s${String(n).padStart(4, '0')}:p${i}`,
      clusterIP: `10.96.${ip >> 8}.${ip & 255}`,
      protocol: r.chance(0.3) ? 'udp' : 'tcp',
      port: 80 + i,
      endpoints,
      ...(nodePort !== undefined
        ? {
            nodePort,
            nodePortEndpoints: local ? endpoints.filter((e) => e.local) : endpoints,
            nodePortLocal: local,
          }
        : {}),
      ...(affinity ? { affinitySeconds: affinity } : {}),
    };
  });
}

const model = (services: ProxyServicePort[]): ProxyModel => ({
  node: 'n',
  mode: 'nftables',
  clusterCIDR: '10.200.0.0/16',
  serviceCIDR: '10.96.0.0/16',
  egressMasquerade: true,
  services: [...services].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
});

/** A random change: services added, removed (their ClusterIPs reused), or their ports or endpoints changed. */
function change(r: Rng, m: ProxyModel, fresh: number): ProxyModel {
  const byService = new Map<string, ProxyServicePort[]>();
  for (const s of m.services) {
    const k = s.id.split(':')[0]!;
    byService.set(k, [...(byService.get(k) ?? []), s]);
  }
  const keys = [...byService.keys()];
  const nodePorts = new Set(m.services.flatMap((s) => (s.nodePort ? [s.nodePort] : [])));
  const freeIPs: number[] = [];
  for (let c = 1 + r.int(3); c > 0 && keys.length; c--) {
    const k = keys[r.int(keys.length)]!;
    const ports = byService.get(k);
    if (!ports) continue; // removed by this change already
    const kind = r.int(4);
    if (kind === 0) {
      byService.delete(k);
      freeIPs.push(
        Number(ports[0]!.clusterIP.split('.')[3]) + Number(ports[0]!.clusterIP.split('.')[2]) * 256,
      );
    } else if (kind === 1) {
      // one endpoint moves or goes
      const p = r.int(ports.length);
      const s = ports[p]!;
      const endpoints = s.endpoints.filter((_, i) => i !== 0);
      if (r.chance(0.5))
        endpoints.push({ ip: `10.201.0.${r.int(200)}`, port: 8080, pod: 'new', local: false });
      byService.set(
        k,
        ports.map((x, i) => (i === p ? { ...s, endpoints } : x)),
      );
    } else if (kind === 2) {
      // a port removed (the others' slots move) or the whole service rebuilt on its ClusterIP
      if (ports.length > 1) byService.set(k, ports.slice(1));
      else {
        for (const x of ports) if (x.nodePort) nodePorts.delete(x.nodePort);
        const ip = ports[0]!.clusterIP.split('.').map(Number);
        byService.set(
          k,
          service(r, Number(k.slice(4)), ip[2]! * 256 + ip[3]!, nodePorts).map((x) => ({
            ...x,
            id: `${k}:${x.id.split(':')[1]}`,
          })),
        );
      }
    } else {
      const s = ports[0]!;
      byService.set(k, [{ ...s, affinitySeconds: s.affinitySeconds ? undefined : 90 }, ...ports.slice(1)]);
    }
  }
  for (const ip of freeIPs.length ? freeIPs : r.chance(0.5) ? [1000 + fresh] : []) {
    const n = 5000 + fresh;
    byService.set(`ns/s${n}`, service(r, n, ip, nodePorts));
  }
  return model([...byService.values()].flat());
}

const copy = (m: ProxyModel): ProxyModel => ({ ...m, services: m.services.map((s) => structuredClone(s)) });

test('the partial sync equals the diff of the two whole tables, on random changes', () => {
  const stats = { chainsGone: 0, hairDel: 0, hairAdd: 0, newChains: 0 };
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(seed);
    const nodePorts = new Set<number>();
    let m = model(Array.from({ length: 30 }, (_, i) => service(r, i, i + 1, nodePorts)).flat());
    for (let step = 0; step < 25; step++) {
      const next = change(r, m, seed * 100 + step);
      const want = fullDiff(m, next);
      for (const c of want) {
        if ('chain' in c && c.verb === 'delete') stats.chainsGone++;
        if ('chain' in c && c.verb === 'add') stats.newChains++;
        if ('elements' in c && c.elements.set === 'hairpin')
          stats[c.verb === 'add' ? 'hairAdd' : 'hairDel']++;
      }
      assert.deepEqual(planNftDiff(m, next), want, `seed ${seed} step ${step}, ports shared`);
      assert.deepEqual(planNftDiff(copy(m), copy(next)), want, `seed ${seed} step ${step}, ports copied`);
      m = next;
    }
  }
  for (const [what, n] of Object.entries(stats)) assert.ok(n > 0, `the random changes never reach ${what}`);
});

test('the counts carried from change to change stay those of the whole model', () => {
  // A chain of changes diffed only incrementally (the counts move along), then compared once more in full.
  const r = rng(7);
  const nodePorts = new Set<number>();
  const first = model(Array.from({ length: 40 }, (_, i) => service(r, i, i + 1, nodePorts)).flat());
  let m = first;
  for (let step = 0; step < 60; step++) {
    const next = change(r, m, step);
    const got = planNftDiff(m, next);
    assert.deepEqual(got, fullDiff(m, next), `step ${step}`);
    m = next;
  }
  assert.deepEqual(planNftDiff(first, m), fullDiff(first, m), 'a jump over all the changes');
});
