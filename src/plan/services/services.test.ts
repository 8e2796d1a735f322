import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { expectGolden } from '../../../test/helpers/golden.js';
import { parseClusterFile } from '../../model/parse.js';
import { resolveCluster } from '../../model/resolve.js';
import { render } from '../../render/index.js';
import { renderNftDiff, renderNftFull } from '../../render/nft-proxy.js';
import { iptStateOfScript } from './ipt-state.js';
import { chainName, probability, renderIptables } from './iptables.js';
import { buildProxyModel, type ProxyModel } from './model.js';
import { classChain, classMark } from './nftables.js';
import { planProxyChange } from './plan.js';
import { planProxyRepair } from './proxy-state.js';

const extra = `apiVersion: v1
kind: Service
metadata: {name: dns}
spec:
  selector: {app: web}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  ports:
    - {name: dns-udp, protocol: UDP, port: 53, targetPort: 5353}
    - {name: dns-tcp, protocol: TCP, port: 53, targetPort: 5353}
---
apiVersion: v1
kind: Service
metadata: {name: np}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec:
  selector: {app: nothing}
  ports: [{port: 81}]
`;

const cluster = () => resolveCluster(parseClusterFile(extra));
const node0 = (): ProxyModel => buildProxyModel(cluster(), 'node-0');

describe('proxy model', () => {
  test('endpoints per node: Local policies keep only the node own endpoints', () => {
    const m = node0();
    const np = m.services.find((s) => s.id === 'default/np:80/tcp')!;
    assert.deepEqual(
      np.endpoints.map((e) => e.pod),
      ['a0', 'b'],
      'ClusterIP traffic: every endpoint',
    );
    assert.deepEqual(
      np.nodePortEndpoints!.map((e) => e.pod),
      ['a0'],
      'NodePort, externalTrafficPolicy Local: node-0 only',
    );
    assert.equal(m.services.find((s) => s.id === 'default/empty:81/tcp')!.endpoints.length, 0);
  });
});

describe('nftables renderer (flat layout)', () => {
  test('full sync of node-0 matches its golden script', () => {
    expectGolden(renderNftFull(node0()), 'services/node-0.nft');
  });

  test('class marks are stable, tagged and distinct per pick chain', () => {
    const a = { n: 5, slot: 0, nodePort: false, local: false };
    assert.equal(classMark(a), classMark({ ...a }));
    assert.notEqual(classMark(a), classMark({ ...a, n: 4 }));
    assert.equal(classMark(a) & 0x40000000, 0x40000000);
    assert.equal(classChain({ ...a, affinity: 60, slot: 1 }), 'pick-5-p1-aff60');
    assert.equal(classChain({ ...a, n: 0 }), 'no-endpoints');
  });

  test('an endpoint removal is a handful of element changes, no chains, no table rewrite', () => {
    const before = node0();
    const web = before.services.find((s) => s.id === 'default/web:http')!;
    const after: ProxyModel = {
      ...before,
      services: before.services.map((s) => (s === web ? { ...s, endpoints: s.endpoints.slice(1) } : s)),
    };
    const diff = renderNftDiff(before, after)!;
    assert.doesNotMatch(diff, /chain|table|flush/);
    assert.match(diff, /delete element ip podnet-services service-classes \{ 10\.96\.0\.2 \. tcp \. 8080 \}/);
    assert.match(
      diff,
      /delete element ip podnet-services endpoints \{ 10\.96\.0\.2 \. 0, 10\.96\.0\.2 \. 1 \}/,
    );
    assert.match(
      diff,
      /add element ip podnet-services endpoints \{ 10\.96\.0\.2 \. 0 : 10\.200\.1\.2 \. 8080 \}/,
    );
    assert.equal(renderNftDiff(after, after), '', 'no change, no transaction');
    // Portals go out before endpoints change and come back after: no packet sees a half-updated service.
    const order = diff.split('\n').filter(Boolean);
    assert.ok(
      order.findIndex((l) => l.includes('add element ip podnet-services service-classes')) ===
        order.length - 1,
    );
  });

  test('a class the last of its services stops using is removed by the partial sync, as a full sync would', () => {
    const before = node0();
    const after: ProxyModel = {
      ...before,
      services: before.services.filter((s) => !s.id.startsWith('default/dns:')),
    };
    const diff = renderNftDiff(before, after)!;
    // dns held the only affinity classes (pick-2-aff60 for its first port, pick-2-p1-aff60 for its second)
    for (const chain of ['pick-2-aff60', 'pick-2-p1-aff60']) {
      assert.match(
        diff,
        new RegExp(`flush chain ip podnet-services ${chain}\n.*delete chain ip podnet-services ${chain}`),
      );
      assert.doesNotMatch(renderNftFull(after), new RegExp(chain));
    }
    // a class another service still uses stays: removing only one of dns's ports drops only that port's class
    const one: ProxyModel = {
      ...before,
      services: before.services.filter((s) => s.id !== 'default/dns:dns-tcp'),
    };
    const partial = renderNftDiff(before, one)!;
    assert.doesNotMatch(partial, /delete chain ip podnet-services pick-2-aff60\n/);
  });

  test('a node-wide change (egress masquerade off) asks for a full sync', () => {
    const m = node0();
    assert.equal(renderNftDiff(m, { ...m, egressMasquerade: false }), undefined);
    assert.doesNotMatch(renderNftFull({ ...m, egressMasquerade: false }), /egress/);
  });
});

describe('iptables renderer (kube-proxy layout)', () => {
  test('full sync of node-0 matches its golden restore input', () => {
    expectGolden(renderIptables({ ...node0(), mode: 'iptables' }), 'services/node-0.iptables');
  });

  test('statistic cascade 1/n, 1/(n-1), ..., last unconditional', () => {
    assert.equal(probability(2), '0.5000000000');
    const text = renderIptables({ ...node0(), mode: 'iptables' });
    const svc = chainName('PODNET-SVC-', 'default/web:http');
    const rules = text.split('\n').filter((l) => l.startsWith(`-A ${svc}`) && l.includes('PODNET-SEP-'));
    assert.equal(rules.length, 2);
    assert.match(rules[0]!, /--probability 0\.5000000000/);
    assert.doesNotMatch(rules[1]!, /statistic/);
    assert.ok(svc.length <= 28, 'iptables chain names are at most 28 characters');
  });

  test('a partial sync rewrites dispatch chains and the changed service only, and deletes gone chains', () => {
    const before = { ...node0(), mode: 'iptables' as const };
    const after = { ...before, services: before.services.filter((s) => !s.id.startsWith('default/dns')) };
    const text = renderIptables(after, before);
    assert.doesNotMatch(text, /-A PREROUTING/, 'hooks are added once');
    assert.match(text, new RegExp(`-X ${chainName('PODNET-SVC-', 'default/dns:dns-tcp')}`));
    assert.doesNotMatch(
      text,
      new RegExp(`:${chainName('PODNET-SVC-', 'default/web:http')}`),
      'unchanged service untouched',
    );
  });
});

describe('planProxyChange (the proxy part of planNodeSync)', () => {
  test('removing a UDP endpoint flushes its conntrack entries', () => {
    const before = node0();
    const after: ProxyModel = {
      ...before,
      services: before.services.map((s) =>
        s.id === 'default/dns:dns-udp' ? { ...s, endpoints: s.endpoints.slice(0, 1) } : s,
      ),
    };
    const ops = planProxyChange({ kind: 'named', name: 'x' }, before, after);
    const ct = ops.filter((o) => o.kind === 'conntrack.delete');
    assert.equal(ct.length, 1);
    assert.deepEqual(
      { ...ct[0], note: undefined },
      {
        kind: 'conntrack.delete',
        netns: { kind: 'named', name: 'x' },
        protocol: 'udp',
        origDst: before.services.find((s) => s.id === 'default/dns:dns-udp')!.clusterIP,
        origDstPort: 53,
        replySrc: '10.200.1.2',
        note: undefined,
      },
    );
  });

  test('switching mode removes the other mode first', () => {
    const before = node0();
    const ops = planProxyChange({ kind: 'named', name: 'x' }, before, { ...before, mode: 'iptables' });
    assert.deepEqual(
      ops.map((o) => o.kind),
      ['nft.tx', 'iptables.restore'],
    );
    assert.match(render(ops[0]!).stdin ?? '', /delete table ip podnet-services/);
  });
});

describe('iptables repair from the observed rules', () => {
  test('UDP DNAT targets are read back, and one that goes is flushed with the repair', () => {
    const before = node0();
    const dns = before.services.find((s) => s.id === 'default/dns:dns-udp')!;
    const seen = iptStateOfScript(renderIptables({ ...before, mode: 'iptables' }));
    assert.ok(seen.kind === 'iptables');
    assert.deepEqual(
      (seen.udp ?? []).map((u) => `${u.clusterIP} ${u.endpoint}`).sort(),
      dns.endpoints.map((e) => `${dns.clusterIP} ${e.ip}`).sort(),
    );
    const after: ProxyModel = {
      ...before,
      mode: 'iptables',
      services: before.services.map((s) => (s === dns ? { ...s, endpoints: s.endpoints.slice(0, 1) } : s)),
    };
    const ops = planProxyRepair('node-0', { kind: 'named', name: 'x' }, seen, after).flatMap((d) => d.ops);
    const ct = ops.filter((o) => o.kind === 'conntrack.delete');
    assert.deepEqual(
      ct.map((o) => (o.kind === 'conntrack.delete' ? `${o.origDst} ${o.replySrc}` : '')),
      [`${dns.clusterIP} ${dns.endpoints[1]!.ip}`],
    );
    const restore = ops.find((o) => o.kind === 'iptables.restore');
    assert.ok(restore && restore.kind === 'iptables.restore');
    const lines = restore.script.split('\n');
    const firstDelete = lines.findIndex((l) => l.startsWith('-X '));
    assert.ok(firstDelete > 0, 'a chain that goes is deleted');
    const commit = lines.indexOf('COMMIT', firstDelete);
    assert.ok(
      !lines.slice(firstDelete, commit).some((l) => l.startsWith(':')),
      'every chain that goes is flushed before any is deleted',
    );
  });
});
