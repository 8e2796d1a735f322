import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';
import { tempDir } from './tmp.js';

/**
 * A small lab with NetworkPolicy (host-gw, 2 nodes): x/a on node-0, y/b and y/c on node-1, each a who-am-I
 * server on TCP 8080 and 8081; x/deny-in and y/deny-in isolate every pod for ingress, y/from-x allows
 * namespace x to y/b on 8080. Expected: nothing reaches x/a; only x/a → y/b:8080 reaches y's pods.
 */
const docs: unknown[] = [
  {
    apiVersion: 'podnet.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'tp' },
    spec: {
      crossNode: 'host-gw',
      nodes: [0, 1].map((i) => ({ name: `node-${i}`, ip: `192.168.64.${4 + i}` })),
      pods: [],
    },
  },
  ...['x', 'y'].map((n) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: n, labels: { ns: n } },
  })),
  ...[
    ['x', 'a', 0],
    ['y', 'b', 1],
    ['y', 'c', 1],
  ].map(([ns, p, node]) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p, namespace: ns, labels: { pod: p } },
    spec: {
      nodeName: `node-${node}`,
      containers: [
        {
          name: 'server',
          image: 'ignored',
          command: ['python3', join(ROOT, 'assets', 'echo.py'), `${ns}/${p}`, '8080', '8081'],
          ports: [8080, 8081].map((containerPort) => ({ containerPort, protocol: 'TCP' })),
        },
      ],
    },
  })),
  ...[
    ['x', 'deny-in', { podSelector: {} }],
    ['y', 'deny-in', { podSelector: {} }],
    [
      'y',
      'from-x',
      {
        podSelector: { matchLabels: { pod: 'b' } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }], ports: [{ port: 8080 }] }],
      },
    ],
  ].map(([namespace, name, spec]) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace },
    spec,
  })),
];

/** Writes the lab's cluster file (JSON documents) to a fresh temporary directory. */
export function policyLabFile(): string {
  const file = join(tempDir('podnet-policy-lab'), 'cluster.yaml');
  writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n---\n'));
  return file;
}
