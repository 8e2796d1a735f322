import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli, needsRoot, netnsWithPrefix, uniqueLab } from '../helpers/cli.js';
import { client, ECHO, waitAnswer } from '../helpers/services.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A Service without a selector and its EndpointSlice, from a lab file, on a real kernel (docs/spec.md,
 * "EndpointSlice"): the ClusterIP leads to the slice's ready endpoints only, on the slice's port, from a pod
 * on another node and from one on an endpoint's node; a pod the slice does not list, and one listed as not
 * ready, never answer.
 */

const echo = (name: string, node: string, ip: string) =>
  `    - {name: ${name}, node: ${node}, ip: ${ip}, labels: {app: echo}, containers: [{name: echo, command: [python3, ${ECHO}, ${name}, '9000']}]}`;

const SPEC = `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: slices}
spec:
  crossNode: vxlan
  nodes:
    - {name: node-0, ip: 192.168.64.4, podCIDR: 10.200.0.0/24}
    - {name: node-1, ip: 192.168.64.5, podCIDR: 10.200.1.0/24}
  pods:
    - {name: c, node: node-1, labels: {app: client}}
    - {name: d, node: node-0, labels: {app: client}}
${echo('e1', 'node-0', '10.200.0.10')}
${echo('e2', 'node-1', '10.200.1.10')}
${echo('idle', 'node-0', '10.200.0.11')}
${echo('other', 'node-1', '10.200.1.11')}
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  clusterIP: 10.96.0.20
  ports: [{name: tcp, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ext-1
  labels: {kubernetes.io/service-name: ext}
addressType: IPv4
endpoints:
  - addresses: [10.200.0.10]
    nodeName: node-0
  - addresses: [10.200.1.10]
  - addresses: [10.200.0.11]
    conditions: {ready: false}
ports:
  - {name: tcp, protocol: TCP, port: 9000}
`;

const labs: string[] = [];
after(async () => {
  for (const l of labs) await cli(['lab', 'down', '--name', l]);
  for (const l of labs) assert.deepEqual(netnsWithPrefix(`${l}-`), [], `lab ${l} left namespaces`);
});

describe('EndpointSlice for a Service without a selector (real kernel)', { skip: needsRoot }, () => {
  const lab = uniqueLab('eps');
  const pod = (p: string) => `${lab}-pod-${p}`;
  const N = 60;

  before(async () => {
    labs.push(lab);
    const dir = tempDir('podnet-eps');
    const file = join(dir, 'cluster.yaml');
    writeFileSync(file, SPEC);
    const up = await cli(['lab', 'up', '--name', lab, '-f', file]);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    for (const ip of ['10.200.0.10', '10.200.1.10']) await waitAnswer(pod('c'), 'tcp', ip, 9000);
  });

  for (const from of ['c', 'd'])
    test(`from ${from}: the ClusterIP reaches the slice's ready endpoints e1 and e2, on the slice's port`, async () => {
      const r = await client(pod(from), 'tcp', '10.96.0.20', 80, N);
      assert.deepEqual(r.errors, [], 'no failed connection');
      assert.deepEqual(Object.keys(r.pods).sort(), ['e1', 'e2'], `answers: ${JSON.stringify(r.pods)}`);
    });

  test("`service list` shows the slice's endpoints, named by the pods at their addresses", async () => {
    const list = await cli(['lab', 'service', 'list', '--name', lab, '--json']);
    assert.equal(list.code, 0, list.stderr);
    type Row = { service: string; endpoints: { pod: string; node: string; ready: boolean }[] };
    const svc = (JSON.parse(list.stdout) as { services: Row[] }).services.find(
      (s) => s.service === 'default/ext',
    );
    assert.ok(svc, list.stdout);
    assert.deepEqual(
      svc.endpoints.map((e) => [e.pod, e.node, e.ready]),
      [
        ['e1', 'node-0', true],
        ['e2', 'node-1', true],
        ['idle', 'node-0', false],
      ],
    );
  });
});
