import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../errors.js';
import { Cidr, Ip } from '../net/ip.js';
import { parseClusterDocs, parseClusterFile } from './parse.js';
import { resolveCluster } from './resolve.js';
import { allocateClusterIPs, type ServiceSpec, servicesByKey } from './service.js';
import { endpointSliceOf, selects } from './service-endpoints.js';
import { parseServiceManifest } from './service-manifest.js';

const svcYaml = (extra = '') => `apiVersion: v1
kind: Service
metadata: {name: api${extra ? `, ${extra}` : ''}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`;

describe('Service manifests', () => {
  test('a plain Kubernetes Service document is accepted next to the default cluster', () => {
    const spec = parseClusterFile(svcYaml());
    const names = (spec.services ?? []).map((s) => s.name);
    assert.deepEqual(names, ['web', 'api'], 'the seed service and the file one');
    const api = spec.services!.find((s) => s.name === 'api')!;
    assert.equal(api.namespace, 'default');
    assert.deepEqual(api.ports, [{ name: '', protocol: 'TCP', port: 80, targetPort: 8080 }]);
    assert.equal(api.sessionAffinity, 'None');
    assert.equal(api.internalTrafficPolicy, 'Cluster');
  });

  test('every problem is reported with its path', () => {
    const bad = `apiVersion: v1
kind: Service
metadata: {name: bad}
spec:
  type: NodePort
  clusterIP: 10.300.0.1
  selector: {app: web}
  ports:
    - {port: 80, targetPort: http}
    - {port: 80}
`;
    assert.throws(
      () => parseClusterFile(bad),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        const paths = e.issues.map((i) => i.path);
        for (const p of [
          'spec.clusterIP',
          'spec.ports[0].name',
          'spec.ports[0].targetPort',
          'spec.ports[0].nodePort',
          'spec.ports[1].port',
        ])
          assert.ok(
            paths.some((x) => x.endsWith(p)),
            `reports ${p}: ${paths.join(', ')}`,
          );
        return true;
      },
    );
  });

  test('a ClusterIP outside the service CIDR and a duplicate are refused', () => {
    const two = `${svcYaml()}---\n${svcYaml()}`.replace('selector', 'clusterIP: 10.200.0.9\n  selector');
    assert.throws(
      () => parseClusterFile(two),
      /outside|not a usable address of the service CIDR[\s\S]*defined twice|defined twice/,
    );
  });

  test('sessionAffinity and traffic policies are read', () => {
    const issues: never[] = [];
    const s = parseServiceManifest(
      {
        metadata: { name: 'x' },
        spec: {
          selector: { a: 'b' },
          ports: [{ port: 53, protocol: 'UDP' }],
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
          internalTrafficPolicy: 'Local',
        },
      },
      '',
      issues,
    );
    assert.ok(s);
    assert.equal(s.affinityTimeoutSeconds, 60);
    assert.equal(s.internalTrafficPolicy, 'Local');
    assert.equal(s.ports[0]!.protocol, 'UDP');
  });
});

describe('ClusterIP allocation', () => {
  const base: Omit<ServiceSpec, 'name'> = {
    namespace: 'default',
    type: 'ClusterIP',
    selector: { app: 'x' },
    ports: [{ name: '', protocol: 'TCP', port: 80, targetPort: 80 }],
    sessionAffinity: 'None',
    affinityTimeoutSeconds: 10800,
    internalTrafficPolicy: 'Cluster',
    externalTrafficPolicy: 'Cluster',
  };
  const cidr = Cidr.parse('10.96.0.0/29');

  test('pinned addresses are kept, the rest get the lowest free from .2, earlier ones stay', () => {
    const a = { ...base, name: 'a' };
    const b = { ...base, name: 'b', clusterIP: Ip.parse('10.96.0.2') };
    const c = { ...base, name: 'c' };
    const first = allocateClusterIPs([a, b, c], cidr);
    assert.deepEqual(
      first.map((s) => s.clusterIP.toString()),
      ['10.96.0.3', '10.96.0.2', '10.96.0.4'],
    );
    const again = allocateClusterIPs([c, b], cidr, { 'default/c': '10.96.0.4' });
    assert.deepEqual(
      again.map((s) => s.clusterIP.toString()),
      ['10.96.0.4', '10.96.0.2'],
      'c keeps its address',
    );
  });

  test('a full range is an issue, not a crash', () => {
    const issues: { path: string; message: string }[] = [];
    const many = Array.from({ length: 7 }, (_, i) => ({ ...base, name: `s${i}` }));
    const out = allocateClusterIPs(many, cidr, {}, issues);
    assert.equal(out.length, 5, '.2 to .6 of a /29');
    assert.equal(issues.length, 2);
    assert.match(issues[0]!.message, /full/);
  });

  test('the allocated list comes indexed by namespace/name; a list made elsewhere is indexed on first use', () => {
    const many = Array.from({ length: 7 }, (_, i) => ({ ...base, name: `s${i}`, namespace: `n${i % 2}` }));
    const out = allocateClusterIPs(many, cidr, {}, []);
    const index = servicesByKey(out);
    assert.deepEqual(
      [...index.keys()],
      ['n0/s0', 'n1/s1', 'n0/s2', 'n1/s3', 'n0/s4'],
      'the two without an address are not in it',
    );
    for (const s of out)
      assert.equal(index.get(`${s.namespace}/${s.name}`), s, 'the very objects of the list');
    assert.equal(servicesByKey(out), index, 'kept with the list');
    const other = out.slice(1);
    assert.deepEqual([...servicesByKey(other).keys()], ['n1/s1', 'n0/s2', 'n1/s3', 'n0/s4']);
  });
});

describe('EndpointSlices', () => {
  test('the seed service selects a0 and b, sorted, with their nodes', () => {
    const c = resolveCluster(parseClusterDocs([]));
    const web = c.services.find((s) => s.name === 'web')!;
    assert.equal(web.clusterIP.toString(), '10.96.0.2');
    const slice = endpointSliceOf(web, c.pods);
    assert.equal(slice.kind, 'EndpointSlice');
    assert.deepEqual(
      slice.endpoints.map((e) => [e.targetRef.name, e.addresses[0], e.nodeName]),
      [
        ['a0', '10.200.0.2', 'node-0'],
        ['b', '10.200.1.2', 'node-1'],
      ],
    );
    assert.deepEqual(slice.ports, [{ name: 'http', protocol: 'TCP', port: 8080 }]);
  });

  test('an empty selector selects nothing', () => {
    assert.equal(selects({}, { app: 'web' }), false);
    assert.equal(selects({ app: 'web' }, { app: 'web', x: 'y' }), true);
  });
});
