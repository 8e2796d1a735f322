import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, cli, needsRoot, netnsWithPrefix, run, uniqueLab } from '../helpers/cli.js';

/**
 * The CLI behaves like the tools people already use (issue 9): `lab list`, `--json` with one documented shape per
 * read command (docs/lab.md), a missing lab as JSON that says so (exit 1), colour only on a terminal and never
 * with NO_COLOR, no progress lines on a pipe. A small real lab (2 nodes, 2 pods) is built once for the tests.
 */
const ESC = '\x1b[';
const lab = uniqueLab('cli');
const dir = mkdtempSync(join(tmpdir(), 'podnet-cli-conv-'));
const spec = join(dir, 'two.yaml');

/** Runs the CLI on a pseudo-terminal (python's pty), as a person at a terminal would; returns what it showed. */
function onTerminal(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  return run(
    [
      'python3',
      '-c',
      'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))',
      'node',
      CLI,
      ...args,
    ],
    { env: { TERM: 'xterm', ...env } },
  );
}

const json = (text: string) =>
  JSON.parse(text) as Record<string, unknown> & { kind: string; apiVersion: string };

describe('CLI conventions', { skip: needsRoot }, () => {
  before(async () => {
    writeFileSync(
      spec,
      `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: two}
spec:
  crossNode: host-gw
  nodes:
    - {name: n1, ip: 192.168.64.4}
    - {name: n2, ip: 192.168.64.5}
  pods:
    - {name: p1, node: n1}
    - {name: p2, node: n2}
`,
    );
    const r = await cli(['lab', 'up', '--name', lab, '-f', spec]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no progress line on a pipe');
    assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colour on a pipe');
  });
  after(async () => {
    await cli(['lab', 'down', '--name', lab]);
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(netnsWithPrefix(`${lab}-`), []);
  });

  test('lab list shows the lab with its state, in text and as LabList JSON', async () => {
    const text = await cli(['lab', 'list']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^LAB +STATE +NODES +PODS +CREATED +FROM$/m);
    assert.match(text.stdout, new RegExp(`^${lab} +up +2 +2 +\\d{4}-\\d\\d-\\d\\dT\\S+ +${spec}$`, 'm'));
    const j = await cli(['lab', 'list', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const doc = json(j.stdout);
    assert.equal(doc.apiVersion, 'podnet.dev/v1alpha1');
    assert.equal(doc.kind, 'LabList');
    const mine = (doc.labs as Record<string, unknown>[]).find((l) => l.name === lab);
    assert.deepEqual(Object.keys(mine ?? {}), [
      'name',
      'state',
      'nodes',
      'pods',
      'podsRunning',
      'createdAt',
      'source',
      'stateDir',
    ]);
    assert.equal(mine!.state, 'up');
    assert.equal(mine!.nodes, 2);
    assert.equal(mine!.pods, 2);
    assert.equal(mine!.podsRunning, 2);
    assert.equal(mine!.source, spec);
  });

  test('status --json: LabStatus with the documented fields, what the kernel has now', async () => {
    const r = await cli(['lab', 'status', '--name', lab, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = json(r.stdout);
    assert.deepEqual(Object.keys(doc), ['apiVersion', 'kind', 'lab', 'exists', 'status', 'nodes', 'pods']);
    assert.equal(doc.kind, 'LabStatus');
    assert.equal(doc.exists, true);
    const nodes = doc.nodes as {
      name: string;
      present: boolean;
      addresses: { dev: string; cidr: string }[];
    }[];
    assert.deepEqual(
      nodes.map((n) => [n.name, n.present]),
      [
        ['n1', true],
        ['n2', true],
      ],
    );
    assert.ok(nodes[0]!.addresses.some((a) => a.dev === 'eth0' && a.cidr === '192.168.64.4/24'));
    const pods = doc.pods as { name: string; running: boolean; pausePid: number | null; ip: string }[];
    assert.deepEqual(Object.keys(pods[0]!), [
      'name',
      'node',
      'ip',
      'netns',
      'running',
      'pausePid',
      'addresses',
    ]);
    assert.ok(pods.every((p) => p.running && typeof p.pausePid === 'number'));
  });

  test('verify --json: VerifyReport, every probe passing, exit 0; nothing on stderr on a pipe', async () => {
    const r = await cli(['lab', 'verify', '--name', lab, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, '');
    const doc = json(r.stdout);
    assert.deepEqual(Object.keys(doc), [
      'apiVersion',
      'kind',
      'lab',
      'exists',
      'passed',
      'failed',
      'results',
      'sharedNs',
      'services',
      'nodes',
      'nodeStateBy',
    ]);
    assert.equal(doc.failed, 0);
    assert.deepEqual(
      (doc.nodes as { node: string; drift: string[] }[]).map((n) => [n.node, n.drift]),
      [
        ['n1', []],
        ['n2', []],
      ],
      'each node in sync with its model',
    );
    assert.equal(doc.nodeStateBy, null);
    const probes = doc.results as Record<string, unknown>[];
    assert.ok(probes.length > 0);
    assert.deepEqual(Object.keys(probes[0]!), [
      'id',
      'from',
      'to',
      'kind',
      'host',
      'port',
      'expect',
      'ok',
      'ms',
      'answer',
      'error',
    ]);
    assert.ok(probes.some((p) => p.from === 'p1' && p.to === 'p2' && p.kind === 'tcp' && p.ok === true));
  });

  test('every read command on a missing lab: exit 1 and JSON of its kind saying so', async () => {
    const missing = uniqueLab('none');
    for (const [cmd, kind] of [
      ['status', 'LabStatus'],
      ['verify', 'VerifyReport'],
      ['inspect', 'Inspection'],
      ['service list', 'ServiceList'],
    ] as const) {
      const r = await cli(['lab', ...cmd.split(' '), '--name', missing, '--json']);
      assert.equal(r.code, 1, `${cmd}: ${r.stderr}`);
      assert.equal(r.stderr, '', cmd);
      const doc = json(r.stdout);
      assert.equal(doc.kind, kind, cmd);
      assert.equal(doc.lab, missing, cmd);
      assert.equal(doc.exists, false, cmd);
      assert.equal((doc.error as { code: string }).code, 'LAB_NOT_FOUND', cmd);
      const plain = await cli(['lab', ...cmd.split(' '), '--name', missing]);
      assert.equal(plain.code, 1, cmd);
      assert.match(plain.stderr, new RegExp(`^podnet: no lab named '${missing}'`), cmd);
    }
  });

  test('colour on a terminal only, and never with NO_COLOR', async () => {
    const tty = await onTerminal(['lab', 'status', '--name', lab]);
    assert.equal(tty.code, 0, tty.stdout);
    assert.ok(
      tty.stdout.includes(`${ESC}32m✓${ESC}0m`),
      `green marks on a terminal: ${JSON.stringify(tty.stdout)}`,
    );
    const noColor = await onTerminal(['lab', 'status', '--name', lab], { NO_COLOR: '1' });
    assert.equal(noColor.code, 0);
    assert.match(noColor.stdout, /✓ n1/);
    assert.ok(!noColor.stdout.includes(ESC), 'NO_COLOR: no escape sequence');
    const dumb = await onTerminal(['lab', 'status', '--name', lab], { TERM: 'dumb' });
    assert.ok(!dumb.stdout.includes(ESC), 'TERM=dumb: no escape sequence');
    const piped = await cli(['lab', 'status', '--name', lab]);
    assert.match(piped.stdout, /✓ n1/);
    assert.ok(!piped.stdout.includes(ESC), 'a pipe: no escape sequence');
    const err = await onTerminal(['lab', 'status', '--name', uniqueLab('none')]);
    assert.equal(err.code, 1);
    assert.ok(err.stdout.startsWith(`${ESC}31mpodnet:${ESC}0m no lab named`), JSON.stringify(err.stdout));
  });

  test('a file of only Pods says, before anything is built, that it joined the default cluster and what it kept', async () => {
    const pods = join(dir, 'pods.yaml');
    writeFileSync(
      pods,
      'apiVersion: v1\nkind: Pod\nmetadata: {name: extra}\nspec:\n  nodeName: node-1\n  containers: [{name: c, command: [sleep, "1"]}]\n',
    );
    const r = await cli(['lab', 'up', '--name', uniqueLab('pods'), '-f', pods, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^note: .*pods\.yaml has no Cluster document: its 1 object\(s\) joined the default cluster \(the seed's: nodes node-0, node-1, node-2, crossNode vxlan\), which keeps its own pods a0, a1, b, c and service default\/web/,
    );
    assert.match(r.stdout, /extra/, 'the dry run builds the pod of the file too');
  });

  test('help: podnet help, GROUP --help and COMMAND --help name lab list and its flag', async () => {
    const top = await cli(['help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /podnet lab list +every lab on this machine, with its state/);
    const group = await cli(['lab', '--help']);
    assert.match(group.stdout, /podnet lab list/);
    const own = await cli(['lab', 'list', '--help']);
    assert.match(own.stdout, /^usage: podnet lab list \[--json\]/);
    assert.match(own.stdout, /--json +print JSON, kind LabList/);
    const bad = await cli(['lab', 'list', '--nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Unknown option '--nope'/);
  });
});
