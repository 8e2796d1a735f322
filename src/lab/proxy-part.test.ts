import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Rng, rng } from '../../test/helpers/rng.js';
import { defaultClusterDoc } from '../model/defaults.js';
import { parseClusterFile } from '../model/parse.js';
import { type Cluster, type PodView, resolveCluster } from '../model/resolve.js';
import type { ServicePortSpec, ServiceView } from '../model/service.js';
import { Ip } from '../net/ip.js';
import { named, type Op } from '../plan/ops.js';
import { buildProxyModel } from '../plan/services/model.js';
import { type ProxyUses, proxyUsesOf } from '../plan/services/nft-diff.js';
import { classChain } from '../plan/services/nft-layout.js';
import { planProxyChange } from '../plan/services/plan.js';
import { type ProxyTouch, planLabProxyPart, portsOfServices, touchedServices } from './proxy-part.js';

/**
 * A lab change planned from the Services it touched only, against the definition: the diff of the two whole
 * proxy models, on random service and pod edits; and the use counts it hands on are the next whole model's.
 */

const base = resolveCluster(parseClusterFile(JSON.stringify(defaultClusterDoc())));
const NODES = base.nodes.map((n) => n.name);

const APPS = ['a', 'b', 'c', 'd'];

function service(r: Rng, i: number): ServiceView {
  const nodePort = r(4) === 0;
  const ports: ServicePortSpec[] = [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 + r(2) }];
  if (r(3) === 0) ports.push({ name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 });
  return {
    name: `s${i}`,
    namespace: 'default',
    clusterIP: Ip.fromNumber(Ip.parse('10.96.0.10').value + i),
    type: nodePort ? 'NodePort' : 'ClusterIP',
    selector: { app: APPS[r(APPS.length)]! },
    ports: ports.map((p, k) => (nodePort ? { ...p, nodePort: 30000 + i * 2 + k } : p)),
    sessionAffinity: r(5) === 0 ? 'ClientIP' : 'None',
    affinityTimeoutSeconds: 60 + r(2),
    internalTrafficPolicy: r(4) === 0 ? 'Local' : 'Cluster',
    externalTrafficPolicy: r(2) ? 'Local' : 'Cluster',
  };
}

function pod(r: Rng, i: number): PodView {
  return {
    name: `p${i}`,
    node: NODES[r(NODES.length)]!,
    ip: Ip.fromNumber(Ip.parse('10.244.9.2').value + i),
    prefix: 24,
    labels: { app: APPS[r(APPS.length)]! },
    containers: [],
  };
}

/** One random edit, as `lab service|pod add|remove` makes it, and what it touched. */
function edit(r: Rng, c: Cluster, n: { i: number }): { next: Cluster; touch: ProxyTouch } {
  const i = n.i++;
  switch (r(4)) {
    case 0: {
      const s = service(r, i);
      const services = [...c.services.filter((x) => x.name !== s.name), s];
      return { next: { ...c, services }, touch: { services: [`default/${s.name}`] } };
    }
    case 1: {
      const s = c.services[r(c.services.length)];
      if (!s) return edit(r, c, n);
      return {
        next: { ...c, services: c.services.filter((x) => x !== s) },
        touch: { services: [`default/${s.name}`] },
      };
    }
    case 2: {
      const p = pod(r, i);
      return { next: { ...c, pods: [...c.pods, p] }, touch: { pods: [p.name] } };
    }
    default: {
      const p = c.pods[r(c.pods.length)];
      if (!p) return edit(r, c, n);
      return { next: { ...c, pods: c.pods.filter((x) => x !== p) }, touch: { pods: [p.name] } };
    }
  }
}

/** An op without its note (the partial one says how many services it looked at). */
const bare = (o: Op) => ({ ...o, note: '' });
const sorted = (u: ProxyUses) => ({
  // Classes by mark and chain: every 0-endpoint class is the one no-endpoints chain, whichever object says so.
  classes: u.classes.map(([k, c]) => [k, classChain(c)]).sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
  classUses: [...u.classUses].sort((x, y) => (x[0] < y[0] ? -1 : 1)),
  hairpinUses: [...u.hairpinUses].sort((x, y) => (x[0] < y[0] ? -1 : 1)),
});

test('a lab change planned from the touched Services only is the diff of the two whole models', () => {
  let partial = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const r = rng(seed);
    const n = { i: 0 };
    let c: Cluster = {
      ...base,
      services: Array.from({ length: 12 }, () => service(r, n.i++)),
      pods: Array.from({ length: 16 }, () => pod(r, n.i++)),
    };
    const node = NODES[seed % NODES.length]!;
    let uses = proxyUsesOf(buildProxyModel(c, node));
    for (let step = 0; step < 30; step++) {
      const { next, touch } = edit(r, c, n);
      const keys = touchedServices(c, next, touch);
      const got = planLabProxyPart(c, next, node, keys, uses, named('n'))!;
      const want = planProxyChange(named('n'), buildProxyModel(c, node), buildProxyModel(next, node));
      assert.deepEqual(got.ops.map(bare), want.map(bare), `seed ${seed} step ${step}`);
      assert.deepEqual(
        sorted(got.uses),
        sorted(proxyUsesOf(buildProxyModel(next, node))),
        `seed ${seed} step ${step}: counts`,
      );
      partial += got.ops.length ? 1 : 0;
      uses = got.uses;
      c = next;
    }
  }
  assert.ok(partial > 100, `most edits changed the proxy (${partial})`);
});

test('a change finds its Services by namespace and name, not by name alone', () => {
  const r = rng(7);
  const a = { ...service(r, 1), name: 'web', namespace: 'shop' };
  const b = { ...service(r, 2), name: 'web', namespace: 'blog' };
  const c: Cluster = { ...base, services: [a, b], pods: [] };
  const node = NODES[0]!;
  const ids = (k: string) => portsOfServices(c, new Set([k]), node).map((p) => p.id);
  assert.deepEqual(
    ids('shop/web'),
    buildProxyModel({ ...c, services: [a] }, node).services.map((p) => p.id),
  );
  assert.deepEqual(
    ids('blog/web'),
    buildProxyModel({ ...c, services: [b] }, node).services.map((p) => p.id),
  );
  assert.deepEqual(ids('default/web'), []);
});
