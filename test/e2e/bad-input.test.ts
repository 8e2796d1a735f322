import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cli, netnsWithPrefix, STATE_DIR, uniqueLab } from '../helpers/cli.js';

/**
 * Bad input is refused the same way whatever the flags (issue 9, "Done when"): every file below is run through
 * `podnet lab up -f FILE` with no flag, with each override flag, with all of them, and with `--dry-run`. Each run
 * must exit 2, name the document, the field path (as written in the file, with line and column) and the value,
 * list every problem, and create nothing: no namespace with the lab's prefix, no state directory.
 * Runs as root when it can, so that a run that got past validation would really build (and be caught).
 */
const dir = mkdtempSync(join(tmpdir(), 'podnet-bad-input-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CLUSTER = `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata:
  name: c1
spec:
  crossNode: vxlan
  nodes:
    - name: node-0
      ip: 192.168.64.4
  pods:
    - name: a0
      node: node-0
`;
const POD = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  nodeName: node-0
  containers:
    - name: c
      image: busybox
      command: [httpd, -f]
`;
const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: svc
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 8080
`;

/** A Service without a selector and its EndpointSlice (docs/spec.md, "EndpointSlice"): document 2 is the slice. */
const SLICE = `apiVersion: v1
kind: Service
metadata:
  name: ext
spec:
  ports:
    - name: tcp
      port: 80
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ext-1
  labels: {kubernetes.io/service-name: ext}
addressType: IPv4
endpoints:
  - addresses: [10.200.0.10]
    conditions: {ready: true}
    targetRef: {kind: Pod, name: a0}
ports:
  - name: tcp
    port: 9000
`;

/** `text` with `line` inserted after the first line that contains `after` (same indentation as the next line). */
function insert(text: string, afterText: string, line: string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes(afterText));
  assert.ok(i >= 0, `fixture has '${afterText}'`);
  lines.splice(i + 1, 0, line);
  return lines.join('\n');
}

interface Case {
  readonly what: string;
  readonly text: string | Buffer;
  /** Each must match the error output: document, field path (line, column) and value. */
  readonly expect: readonly RegExp[];
}

const cases: Case[] = [
  // Unknown fields at every level of each kind (and a suggestion where one is close).
  {
    what: 'Cluster: unknown top-level field',
    text: `${CLUSTER}extra: 1\n`,
    expect: [
      /document 1 \(Cluster c1\): extra \(line 13, column 1\): unknown field/,
      /allowed here: apiVersion, kind, metadata, spec/,
    ],
  },
  {
    what: 'Cluster: unknown metadata field, misspelt',
    text: insert(CLUSTER, 'name: c1', '  nmae: x'),
    expect: [
      /document 1 \(Cluster c1\): metadata\.nmae \(line 5, column 3\): unknown field/,
      /allowed here: name/,
    ],
  },
  {
    what: 'Cluster: misspelt spec field with a suggestion',
    text: CLUSTER.replace('crossNode: vxlan', 'crossnode: vxlan'),
    expect: [
      /document 1 \(Cluster c1\): spec\.crossnode \(line 6, column 3\): unknown field; did you mean 'crossNode'\?/,
    ],
  },
  {
    what: 'Cluster: unknown field in a node',
    text: insert(CLUSTER, 'ip: 192.168.64.4', '      podCidr: 10.200.0.0/24'),
    expect: [/spec\.nodes\[0\]\.podCidr \(line 10, column 7\): unknown field; did you mean 'podCIDR'\?/],
  },
  {
    what: 'Cluster: unknown field in a pod',
    text: `${CLUSTER}      lables: {app: web}\n`,
    expect: [/spec\.pods\[0\]\.lables \(line 13, column 7\): unknown field; did you mean 'labels'\?/],
  },
  {
    what: 'Cluster: unknown field in a pod container',
    text: `${CLUSTER}      containers:\n        - name: c\n          command: [sh]\n          rootFS: busybox\n`,
    expect: [
      /spec\.pods\[0\]\.containers\[0\]\.rootFS \(line 16, column 11\): unknown field; did you mean 'rootfs'\?/,
    ],
  },
  {
    what: 'Cluster: unknown field in spec.vxlan',
    text: insert(CLUSTER, 'crossNode: vxlan', '  vxlan: {vni: 1, lerning: unicast}'),
    expect: [/spec\.vxlan\.lerning \(line 7, column 19\): unknown field; did you mean 'learning'\?/],
  },
  {
    what: 'Pod: unknown top-level field',
    text: `${POD}stauts: {}\n`,
    expect: [/document 1 \(Pod web\): stauts \(line 12, column 1\): unknown field; did you mean 'status'\?/],
  },
  {
    what: 'Pod: metadata.label (the issue example)',
    text: POD.replace('labels:', 'label:'),
    expect: [
      /document 1 \(Pod web\): metadata\.label \(line 5, column 3\): unknown field; did you mean 'labels'\?/,
    ],
  },
  {
    what: 'Pod: unknown spec field',
    text: insert(POD, 'nodeName: node-0', '  nodname: x'),
    expect: [
      /document 1 \(Pod web\): spec\.nodname \(line 8, column 3\): unknown field; did you mean 'nodeName'\?/,
    ],
  },
  {
    what: 'Pod: unknown container field',
    text: insert(POD, 'image: busybox', '      commnd: [x]'),
    expect: [
      /document 1 \(Pod web\): spec\.containers\[0\]\.commnd \(line 11, column 7\): unknown field; did you mean 'command'\?/,
    ],
  },
  {
    what: 'Service: unknown top-level field',
    text: `${SERVICE}specs: {}\n`,
    expect: [/document 1 \(Service svc\): specs \(line 10, column 1\): unknown field; did you mean 'spec'\?/],
  },
  {
    what: 'Service: unknown metadata field',
    text: insert(SERVICE, 'name: svc', '  namspace: default'),
    expect: [
      /document 1 \(Service svc\): metadata\.namspace \(line 5, column 3\): unknown field; did you mean 'namespace'\?/,
    ],
  },
  {
    what: 'Service: unknown spec field',
    text: insert(SERVICE, 'selector:', '  selektor: {}'),
    expect: [
      /document 1 \(Service svc\): spec\.selektor \(line 7, column 3\): unknown field; did you mean 'selector'\?/,
    ],
  },
  {
    what: 'Service: unknown port field',
    text: insert(SERVICE, 'targetPort: 8080', '      protocl: TCP'),
    expect: [
      /document 1 \(Service svc\): spec\.ports\[0\]\.protocl \(line 10, column 7\): unknown field; did you mean 'protocol'\?/,
    ],
  },
  {
    what: 'EndpointSlice: unknown top-level field, misspelt',
    text: `${SLICE}adressType: IPv4\n`,
    expect: [
      /document 2 \(EndpointSlice ext-1\): adressType \(line 23, column 1\): unknown field; did you mean 'addressType'\?/,
      /allowed here: apiVersion, kind, metadata, addressType, endpoints, ports/,
    ],
  },
  {
    what: 'EndpointSlice: unknown metadata field',
    text: insert(SLICE, 'name: ext-1', '  lables: {}'),
    expect: [
      /document 2 \(EndpointSlice ext-1\): metadata\.lables \(line 14, column 3\): unknown field; did you mean 'labels'\?/,
    ],
  },
  {
    what: 'EndpointSlice: unknown endpoint field',
    text: insert(SLICE, 'addresses: [10.200.0.10]', '    nodename: node-0'),
    expect: [
      /document 2 \(EndpointSlice ext-1\): endpoints\[0\]\.nodename \(line 18, column 5\): unknown field; did you mean 'nodeName'\?/,
    ],
  },
  {
    what: "EndpointSlice: unknown field in an endpoint's conditions and targetRef",
    text: SLICE.replace('{ready: true}', '{redy: true}').replace('name: a0}', 'nam: a0}'),
    expect: [
      /endpoints\[0\]\.conditions\.redy \(line 18, column 18\): unknown field; did you mean 'ready'\?/,
      /endpoints\[0\]\.targetRef\.nam \(line 19, column 28\): unknown field; did you mean 'name'\?/,
    ],
  },
  {
    what: 'EndpointSlice: unknown port field',
    text: insert(SLICE, 'port: 9000', '    protocl: TCP'),
    expect: [
      /document 2 \(EndpointSlice ext-1\): ports\[0\]\.protocl \(line 23, column 5\): unknown field; did you mean 'protocol'\?/,
    ],
  },
  {
    what: 'EndpointSlice: wrong type and wrong value',
    text: SLICE.replace('port: 9000', 'port: "9000"').replace('addressType: IPv4', 'addressType: IPv6'),
    expect: [
      /document 2 \(EndpointSlice ext-1\): addressType \(line 15, column 14\): "IPv6" is not allowed; did you mean 'IPv4'\?/,
      /document 2 \(EndpointSlice ext-1\): ports\[0\]\.port \(line 22, column 11\): "9000" is a string; expected a number/,
    ],
  },
  {
    what: 'EndpointSlice: names no Service of the file (semantic, with a suggestion)',
    text: SLICE.replace('service-name: ext}', 'service-name: exd}'),
    expect: [
      /document 2 \(EndpointSlice ext-1\): metadata\.labels\["kubernetes\.io\/service-name"\] \(line 14, column \d+\): 'exd' names no Service of namespace 'default' in this file; did you mean 'ext'\?/,
    ],
  },
  // Kinds lab up does not build from a file: the document and its kind are named, whatever else it holds.
  ...(['Namespace', 'NetworkPolicy', 'EndpointSlice'] as const).map((kind) => ({
    what: `${kind}: unknown field (refused by name and path if lab up accepts the kind, else the kind)`,
    text: `${POD}---\napiVersion: v1\nkind: ${kind}\nmetadata:\n  name: x1\nspc: {}\n`,
    expect: [
      new RegExp(`document 2 \\(${kind} x1\\)`),
      new RegExp(
        `(spc \\(line 17, column 1\\): unknown field|kind \\(line 14, column 7\\): "${kind}" is not supported)`,
      ),
    ],
  })),
  // Semantic errors name the fields as written in the file (spec.nodeName, spec.containers[1]), not the model's.
  {
    what: 'semantic: a Pod on a node that does not exist, and two containers of one name',
    text: `${POD}    - name: c\n      command: [sh]\n`.replace('nodeName: node-0', 'nodeName: node-9'),
    expect: [
      /document 1 \(Pod web\): spec\.nodeName \(line 7, column 13\): 'node-9' is not a node of this cluster/,
      /nodes: node-0, node-1, node-2/,
      /document 1 \(Pod web\): spec\.containers\[1\]\.name \(line 12, column 13\): 'c' is used by another container/,
    ],
  },
  // Wrong types, syntax, shapes.
  {
    what: 'wrong type: a string for a port number',
    text: SERVICE.replace('port: 80', 'port: "eighty"'),
    expect: [
      /document 1 \(Service svc\): spec\.ports\[0\]\.port \(line 8, column 13\): "eighty" is a string; expected a number/,
    ],
  },
  {
    what: 'wrong type: a number for the node list',
    text: CLUSTER.replace(/ {2}nodes:\n.*\n.*\n/, '  nodes: 3\n'),
    expect: [
      /document 1 \(Cluster c1\): spec\.nodes \(line 7, column 10\): 3 is an integer; expected a list/,
    ],
  },
  {
    what: 'wrong value: an enum with a near miss',
    text: CLUSTER.replace('crossNode: vxlan', 'crossNode: vxlann'),
    expect: [
      /spec\.crossNode \(line 6, column 14\): "vxlann" is not allowed; did you mean 'vxlan'\?/,
      /one of: none, host-gw, vxlan, ipip/,
    ],
  },
  {
    what: 'YAML syntax error',
    text: `${POD}  labels: [a\n`,
    expect: [/document 1 \(line \d+, column \d+\): is not valid YAML\/JSON/],
  },
  {
    what: 'JSON syntax error',
    text: '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}',
    expect: [/document 1 \(line 1, column \d+\): is not valid YAML\/JSON/],
  },
  {
    what: 'a document that is a list, not a mapping',
    text: `${POD}---\n- a\n- b\n`,
    expect: [/document 2 \(line 13, column 1\): is a list, not a mapping/],
  },
  {
    what: 'a document that is a string',
    text: 'just some words\n',
    expect: [/document 1 \(line 1, column 1\): is the string "just some words", not a mapping/],
  },
  {
    what: 'duplicate key',
    text: insert(POD, 'nodeName: node-0', '  nodeName: node-1'),
    expect: [/document 1 \(Pod web\): spec\.nodeName \(line 8, column 3\): duplicate key 'nodeName'/],
  },
  { what: 'empty file', text: '', expect: [/\(file\): holds no objects/, /no objects passed to apply/] },
  {
    what: 'only comments and separators',
    text: '# nothing\n---\n---\n',
    expect: [/\(file\): holds no objects/],
  },
  {
    what: 'binary garbage',
    text: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0xff, 0xfe]),
    expect: [/\(file\) \(line 1, column \d+\): is not a YAML or JSON text file/],
  },
  {
    what: 'several problems at once, in several documents: all listed',
    text: `${POD.replace('labels:', 'label:')}---\n${SERVICE.replace('port: 80', 'port: "x"')}extra: 1\n`,
    expect: [
      /has 3 problem\(s\)/,
      /document 1 \(Pod web\): metadata\.label \(line 5, column 3\)/,
      /document 2 \(Service svc\): spec\.ports\[0\]\.port \(line 20, column 13\): "x"/,
      /document 2 \(Service svc\): extra \(line 22, column 1\): unknown field/,
    ],
  },
];

/** Every override flag (valid values, so the file's problems are the only ones), alone, all together, and dry runs. */
const OVERRIDES = [
  ['--proxy', 'iptables'],
  ['--cross-node', 'host-gw'],
  ['--same-node', 'bridge'],
  ['--vxlan-learning', 'multicast'],
];
const VARIANTS: string[][] = [
  [],
  ...OVERRIDES,
  OVERRIDES.flat(),
  ['--dry-run'],
  ['--dry-run', ...OVERRIDES.flat()],
];

describe('bad input: exit 2, every problem named by document, path and value, nothing created', () => {
  for (const [i, c] of cases.entries()) {
    test(c.what, async () => {
      const file = join(dir, `case-${i}.yaml`);
      writeFileSync(file, c.text);
      for (const flags of VARIANTS) {
        const lab = uniqueLab('bad');
        const r = await cli(['lab', 'up', '--name', lab, '-f', file, ...flags]);
        const said = `flags [${flags.join(' ')}]:\n${r.stderr}`;
        // A run that got past validation built a lab: remove it before failing, so nothing is left behind.
        if (r.code !== 2) await cli(['lab', 'down', '--name', lab]);
        assert.equal(r.code, 2, said);
        assert.equal(r.stdout, '', `nothing on stdout (no plan printed): ${said}`);
        assert.match(
          r.stderr,
          new RegExp(`^podnet: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} has \\d+ problem`),
          said,
        );
        for (const e of c.expect) assert.match(r.stderr, e, said);
        assert.doesNotMatch(r.stderr, /unexpected error/, said);
        assert.deepEqual(netnsWithPrefix(`${lab}-`), [], `no namespace: ${said}`);
        assert.equal(existsSync(join(STATE_DIR, lab)), false, `no state directory: ${said}`);
      }
    });
  }

  test('a bad override value is listed beside the file problems, with the flag named', async () => {
    const file = join(dir, 'flag.yaml');
    writeFileSync(file, POD.replace('labels:', 'label:'));
    const lab = uniqueLab('bad');
    const r = await cli(['lab', 'up', '--name', lab, '-f', file, '--cross-node', 'vxlam', '--proxy', 'ipvs']);
    if (r.code !== 2) await cli(['lab', 'down', '--name', lab]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--cross-node: "vxlam" is not allowed; did you mean 'vxlan'\?/);
    assert.match(r.stderr, /--proxy: "ipvs" is not allowed/);
    assert.match(r.stderr, /metadata\.label \(line 5, column 3\)/);
    assert.deepEqual(netnsWithPrefix(`${lab}-`), []);
  });
});
