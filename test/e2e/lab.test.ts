import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { hostVethName } from '../../src/net/ifname.js';
import {
  cli,
  liveProcessesMentioning,
  needsRoot,
  netnsWithPrefix,
  run,
  STATE_DIR,
  uniqueLab,
} from '../helpers/cli.js';

const labs: string[] = [];
function newLab(tag: string): string {
  const l = uniqueLab(tag);
  labs.push(l);
  return l;
}
after(async () => {
  for (const l of labs) await cli(['lab', 'down', '--name', l]);
  for (const l of labs) assert.deepEqual(netnsWithPrefix(`${l}-`), [], `lab ${l} left namespaces`);
});

describe('lab (real kernel)', { skip: needsRoot }, () => {
  test('default lab: up, verify all green, down leaves nothing', async () => {
    const lab = newLab('def');
    const up = await cli(['lab', 'up', '--name', lab]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /pod a0\s+10\.200\.0\.2/);
    assert.match(up.stdout, /pod a1\s+10\.200\.0\.3/);
    assert.match(up.stdout, /pod b\s+10\.200\.1\.2/);
    assert.match(up.stdout, /pod c\s+10\.200\.2\.2/);
    assert.equal(netnsWithPrefix(`${lab}-`).length, 8, 'switch + 3 nodes + 4 pods');

    const v = await cli(['lab', 'verify', '--name', lab, '--json']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const report = JSON.parse(v.stdout);
    assert.equal(report.failed, 0);
    const pairs = report.results.map(
      (r: { from: string; to: string; kind: string }) => `${r.from}>${r.to}:${r.kind}`,
    );
    for (const want of [
      'a0>a1:icmp',
      'a0>a1:tcp',
      'a1>a0:tcp',
      'a0>localhost:tcp',
      'b>gateway:icmp',
      'c>gateway:icmp',
    ]) {
      assert.ok(pairs.includes(want), `verify probes ${want}`);
    }
    // Each pod's pause process and both containers share one network namespace.
    for (const s of report.sharedNs) {
      assert.ok(s.ok, s.detail);
      assert.equal(s.processes, 3);
    }
    const nets = new Set(report.sharedNs.map((s: { netns: string }) => s.netns));
    assert.equal(nets.size, 4, 'every pod has its own network namespace');

    const down = await cli(['lab', 'down', '--name', lab]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(netnsWithPrefix(`${lab}-`), []);
    assert.deepEqual(liveProcessesMentioning(`/${lab}/`), []);
    const again = await cli(['lab', 'down', '--name', lab]);
    assert.equal(again.code, 0, 'down is idempotent');
  });

  test('verify fails (exit 3) when a path is broken', async () => {
    const lab = newLab('brk');
    assert.equal((await cli(['lab', 'up', '--name', lab])).code, 0);
    // Break a1's cable on node-0: a0<->a1 must now fail.
    // The default cluster is named 'seed': its pods' host veths hash 'lab/seed/<pod>/eth0'.
    const veth = hostVethName('lab/seed/a1/eth0');
    const r = await run(['ip', '-n', `${lab}-node-0`, 'link', 'set', veth, 'down']);
    assert.equal(r.code, 0, r.stderr);
    const v = await cli(['lab', 'verify', '--name', lab]);
    assert.equal(v.code, 3, v.stdout);
    assert.match(v.stdout, /✗ a0 -> a1 icmp/);
    await cli(['lab', 'down', '--name', lab]);
  });

  test('veth mode: the seed §3.1 direct pair between two pods', async () => {
    const lab = newLab('veth');
    const spec = join(STATE_DIR, `${lab}.yaml`);
    writeFileSync(
      spec,
      `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: pair}
spec:
  sameNode: veth
  nodes: [{name: node-0, ip: 192.168.64.4}]
  pods:
    - {name: a0, node: node-0}
    - {name: a1, node: node-0}
`,
    );
    const up = await cli(['lab', 'up', '--name', lab, '-f', spec]);
    assert.equal(up.code, 0, up.stderr);
    const link = await run(['ip', '-j', '-n', `${lab}-pod-a0`, '-d', 'link', 'show', 'veth-a0']);
    assert.equal(JSON.parse(link.stdout)[0].linkinfo.info_kind, 'veth');
    const v = await cli(['lab', 'verify', '--name', lab, '--json']);
    assert.equal(v.code, 0, v.stdout);
    const results = JSON.parse(v.stdout).results;
    assert.ok(
      results.some(
        (r: { from: string; to: string; ok: boolean }) => r.from === 'a1' && r.to === 'a0' && r.ok,
      ),
    );
    assert.ok(!results.some((r: { to: string }) => r.to === 'gateway'), 'no bridge, so no gateway');
    await cli(['lab', 'down', '--name', lab]);
  });

  test('veth mode refuses a topology it cannot build, creating nothing', async () => {
    const lab = newLab('vbad');
    const r = await cli(['lab', 'up', '--name', lab, '--same-node', 'veth']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /spec\.sameNode: 'veth' joins exactly two pods on one node/);
    assert.deepEqual(netnsWithPrefix(`${lab}-`), []);
  });

  test('exec runs inside the pod: its hostname, address and PID namespace', async () => {
    const lab = newLab('exec');
    assert.equal((await cli(['lab', 'up', '--name', lab])).code, 0);
    const host = await cli(['lab', 'exec', '--name', lab, 'b', '--', 'hostname']);
    assert.equal(host.stdout.trim(), 'b');
    const addr = await cli([
      'lab',
      'exec',
      '--name',
      lab,
      'b',
      '-c',
      'web',
      '--',
      'ip',
      '-4',
      '-o',
      'addr',
      'show',
      'eth0',
    ]);
    assert.match(addr.stdout, /10\.200\.1\.2\/24/);
    const pid1 = await cli(['lab', 'exec', '--name', lab, 'a0', '--', 'cat', '/proc/1/cmdline']);
    assert.match(pid1.stdout.replace(/\0/g, ' '), /^sleep infinity/, 'the pause process is PID 1 of the pod');
    const code = await cli(['lab', 'exec', '--name', lab, 'a0', '--', 'sh', '-c', 'exit 7']);
    assert.equal(code.code, 7, 'exit code passes through');
    const bad = await cli(['lab', 'exec', '--name', lab, 'zz', '--', 'true']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no pod 'zz'/);
    await cli(['lab', 'down', '--name', lab]);
  });

  test('containers with a busybox overlay root talk over localhost and share one net namespace', async () => {
    const lab = newLab('root');
    const spec = join(STATE_DIR, `${lab}.yaml`);
    writeFileSync(
      spec,
      `apiVersion: v1
kind: Pod
metadata: {name: duo, labels: {app: duo}}
spec:
  nodeName: node-0
  containers:
    - name: server
      image: busybox
      command: [httpd, -f, -p, "9000", -h, /etc]
    - name: client
      image: busybox
      command: [sleep, "3600"]
`,
    );
    // A Pod-only file: the default topology with this pod; give the containers busybox roots through the Cluster form.
    const clusterSpec = join(STATE_DIR, `${lab}-c.yaml`);
    writeFileSync(
      clusterSpec,
      `apiVersion: podnet.dev/v1alpha1
kind: Cluster
spec:
  nodes: [{name: node-0, ip: 192.168.64.4}]
  pods:
    - name: duo
      node: node-0
      containers:
        - {name: server, rootfs: busybox, command: [httpd, -f, -p, "9000", -h, /etc]}
        - {name: client, rootfs: busybox, command: [sleep, "3600"]}
`,
    );
    const up = await cli(['lab', 'up', '--name', lab, '-f', clusterSpec]);
    assert.equal(up.code, 0, up.stderr);
    // The server container starts asynchronously: retry for a few seconds.
    const fetch = [
      'lab',
      'exec',
      '--name',
      lab,
      'duo',
      '-c',
      'client',
      '--',
      'wget',
      '-q',
      '-O',
      '-',
      'http://127.0.0.1:9000/passwd',
    ];
    let got = await cli(fetch);
    for (let i = 0; i < 50 && got.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      got = await cli(fetch);
    }
    assert.equal(got.code, 0, got.stderr);
    assert.match(
      got.stdout,
      /^root:x:0:0/,
      'client reached server over localhost, and the file came from the busybox layer',
    );
    const root = await cli(['lab', 'exec', '--name', lab, 'duo', '-c', 'client', '--', 'ls', '/bin/busybox']);
    assert.equal(root.code, 0, 'the container sees its own root filesystem');
    const v = await cli(['lab', 'verify', '--name', lab, '--json']);
    const shared = JSON.parse(v.stdout).sharedNs[0];
    assert.ok(shared.ok, shared.detail);
    await cli(['lab', 'down', '--name', lab]);
    assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(`/${lab}/`), 'no overlay mount left');
    // The Pod-only file is accepted too (default topology plus this pod).
    const dry = await cli(['lab', 'up', '--name', lab, '-f', spec, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /httpd -f -p 9000/);
  });

  test('down after a killed up removes everything', async () => {
    const lab = newLab('kill');
    const child = (await import('node:child_process')).spawn(
      'node',
      [join(process.cwd(), 'bin', 'podnet.js'), 'lab', 'up', '--name', lab],
      {
        env: { ...process.env, PODNET_STATE_DIR: STATE_DIR },
        stdio: 'ignore',
      },
    );
    // Kill it once it has started pause processes (part-way through the build).
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline && netnsWithPrefix(`${lab}-pod-`).length < 1)
      await new Promise((r) => setTimeout(r, 2));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    assert.ok(netnsWithPrefix(`${lab}-`).length > 0, 'the killed up left something to clean');
    const down = await cli(['lab', 'down', '--name', lab]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(netnsWithPrefix(`${lab}-`), []);
    assert.deepEqual(liveProcessesMentioning(`/${lab}/`), []);
  });

  test('two labs with different prefixes coexist', async () => {
    const l1 = newLab('one');
    const l2 = newLab('two');
    assert.equal((await cli(['lab', 'up', '--name', l1])).code, 0);
    assert.equal((await cli(['lab', 'up', '--name', l2])).code, 0);
    const clobber = await cli(['lab', 'up', '--name', l1]);
    assert.equal(clobber.code, 1);
    assert.match(clobber.stderr, /already exists/);
    assert.equal((await cli(['lab', 'verify', '--name', l1])).code, 0);
    assert.equal((await cli(['lab', 'verify', '--name', l2])).code, 0);
    await cli(['lab', 'down', '--name', l1]);
    assert.deepEqual(netnsWithPrefix(`${l1}-`), []);
    assert.equal(netnsWithPrefix(`${l2}-`).length, 8, 'the other lab is untouched');
    assert.equal((await cli(['lab', 'verify', '--name', l2])).code, 0);
    await cli(['lab', 'down', '--name', l2]);
  });
});
