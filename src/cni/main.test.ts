import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FakeRunner } from '../exec/fake-runner.js';
import { formatCommand } from '../exec/shell-quote.js';
import { parseCniArgs } from './env.js';
import { CNI_ERR, CniError } from './errors.js';
import { runCni } from './main.js';
import { hostIfName } from './plan.js';
import { type PluginDeps, storeFor } from './plugin.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-cni-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const conf = (extra: object = {}) =>
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'unit',
    type: 'podnet',
    bridge: 'br9',
    subnet: '10.244.9.0/24',
    ipam: { dataDir: dir },
    ...extra,
  });

function fakeDeps(links: Set<string>, runner = new FakeRunner()): PluginDeps & { runner: FakeRunner } {
  return { runner, links: () => links, isNetns: (p) => p.startsWith('/run/netns/'), store: storeFor };
}
const env = (cmd: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: cmd,
  CNI_CONTAINERID: 'c1',
  CNI_NETNS: '/run/netns/p1',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web',
  ...extra,
});
const reservations = () => readdirSync(join(dir, 'unit')).filter((n) => /^\d/.test(n));

test('ADD creates the bridge once, then one node-side and one pod-side ip batch, and returns a 1.0.0 result', async () => {
  const deps = fakeDeps(new Set(['lo']));
  const out = await runCni(env('ADD'), conf(), deps);
  assert.equal(out.exitCode, 0, out.stdout);
  const r = JSON.parse(out.stdout);
  assert.equal(r.cniVersion, '1.0.0');
  assert.deepEqual(r.ips, [{ address: '10.244.9.2/24', gateway: '10.244.9.1', interface: 2 }]);
  assert.equal(r.interfaces[2].sandbox, '/run/netns/p1');
  assert.equal(r.interfaces[2].mtu, undefined, '1.0.0 has no interface mtu');
  const cmds = deps.runner.calls.map(formatCommand);
  assert.equal(cmds.length, 4, cmds.join('\n'));
  assert.match(
    cmds[0]!,
    /^ip -batch - <<'EOF'\nlink add br9 address [0-9a-f:]{17} mtu 1500 type bridge\naddr replace 10.244.9.1\/24 dev br9\nlink set br9 up/,
  );
  assert.match(cmds[1]!, /^sysctl -q -w net.ipv4.ip_forward=1/);
  assert.match(
    cmds[2]!,
    new RegExp(
      `link add ${hostIfName('c1', 'eth0')} mtu 1500 numtxqueues 1 numrxqueues 1 type veth peer name eth0 address [0-9a-f:]{17} mtu 1500 numtxqueues 1 numrxqueues 1 netns /run/netns/p1`,
    ),
  );
  assert.match(
    cmds[3]!,
    /^nsenter --net=\/run\/netns\/p1 ip -batch - <<'EOF'\nlink set lo up\naddr replace 10.244.9.2\/24 dev eth0\nlink set eth0 up\nroute replace default via 10.244.9.1 dev eth0/,
  );
  assert.deepEqual(reservations(), ['10.244.9.2']);
});

test('the K8S_POD_* CNI_ARGS are recorded with the reservation', () => {
  const r = storeFor({ dataDir: dir, name: 'unit' } as never).read('10.244.9.2');
  assert.deepEqual(r, {
    containerId: 'c1',
    ifname: 'eth0',
    podNamespace: 'default',
    podName: 'web',
    ip: '10.244.9.2',
  });
});

test('a failing pod side rolls back the veth and the reservation', async () => {
  const hostIf = hostIfName('c2', 'eth0');
  const links = new Set(['lo', 'br9']);
  const runner = new FakeRunner();
  const orig = runner.run.bind(runner);
  runner.run = async (cmd) => {
    if (cmd.argv[0] === 'nsenter') throw Object.assign(new Error('boom'), {});
    if (String(cmd.stdin ?? '').includes('type veth')) links.add(hostIf);
    if (cmd.argv.includes('del')) links.delete(hostIf);
    return orig(cmd);
  };
  const out = await runCni(env('ADD', { CNI_CONTAINERID: 'c2' }), conf(), fakeDeps(links, runner));
  assert.equal(out.exitCode, 1);
  assert.equal(JSON.parse(out.stdout).code, CNI_ERR.KERNEL);
  assert.ok(!links.has(hostIf), 'veth removed');
  assert.deepEqual(reservations(), ['10.244.9.2'], 'only c1 keeps an address');
  assert.ok(runner.calls.some((c) => formatCommand(c) === `ip link del ${hostIf}`));
});

test('DEL releases by container ID + ifname without netns or prevResult, and again succeeds', async () => {
  const deps = fakeDeps(new Set(['lo', 'br9']));
  for (let i = 0; i < 2; i++) {
    const out = await runCni(env('DEL', { CNI_NETNS: '' }), conf(), deps);
    assert.deepEqual(out, { stdout: '', exitCode: 0 });
  }
  assert.deepEqual(reservations(), []);
});

test('round-robin: the next ADD gets the address after the last one handed out', async () => {
  // .2 went to c1 and is free again; .3 was handed to c2 before its rollback: round-robin continues at .4.
  const out = await runCni(env('ADD', { CNI_CONTAINERID: 'c3' }), conf(), fakeDeps(new Set(['br9'])));
  assert.equal(JSON.parse(out.stdout).ips[0].address, '10.244.9.4/24');
});

test('bad environments are code 4 and name the problem; nothing is reserved', async () => {
  const before = reservations();
  const cases: [Record<string, string>, RegExp][] = [
    [{ CNI_COMMAND: 'FROB' }, /CNI_COMMAND 'FROB'/],
    [{ CNI_CONTAINERID: '' }, /CNI_CONTAINERID is required/],
    [{ CNI_CONTAINERID: '../../etc' }, /CNI_CONTAINERID '..\/..\/etc'/],
    [{ CNI_CONTAINERID: 'a;rm -rf /' }, /CNI_CONTAINERID/],
    [{ CNI_IFNAME: 'eth0123456789012' }, /at most 15/],
    [{ CNI_NETNS: 'relative' }, /CNI_NETNS 'relative'/],
    [{ CNI_NETNS: '/tmp/not-a-netns' }, /not a network namespace/],
    [{ CNI_ARGS: 'garbage' }, /not KEY=VALUE/],
  ];
  for (const [extra, re] of cases) {
    const out = await runCni(env('ADD', extra), conf(), fakeDeps(new Set()));
    const e = JSON.parse(out.stdout);
    assert.equal(out.exitCode, 1);
    assert.equal(e.code, CNI_ERR.INVALID_ENV, JSON.stringify(extra));
    assert.match(e.msg, re);
    assert.equal(e.cniVersion, '1.0.0');
  }
  assert.deepEqual(reservations(), before);
});

test('bad configurations are codes 6, 7 and 1', async () => {
  const deps = fakeDeps(new Set());
  assert.equal(JSON.parse((await runCni(env('ADD'), '{nope', deps)).stdout).code, 6);
  assert.equal(JSON.parse((await runCni(env('ADD'), conf({ subnet: '300.1.1.0/24' }), deps)).stdout).code, 7);
  assert.equal(JSON.parse((await runCni(env('ADD'), conf({ cniVersion: '0.1.0' }), deps)).stdout).code, 1);
});

test('STATUS is ready with free addresses, code 50 when the range is full', async () => {
  assert.equal((await runCni({ CNI_COMMAND: 'STATUS' }, conf(), fakeDeps(new Set()))).exitCode, 0);
  const full = await runCni(
    { CNI_COMMAND: 'STATUS' },
    conf({ name: 'tiny', subnet: '10.1.1.0/29' }),
    fakeDeps(new Set()),
  );
  assert.equal(full.exitCode, 0);
  const deps = fakeDeps(new Set(['br9']));
  for (let i = 0; i < 5; i++)
    await runCni(
      env('ADD', { CNI_CONTAINERID: `t${i}` }),
      conf({ name: 'tiny', subnet: '10.1.1.0/29' }),
      deps,
    );
  const out = await runCni({ CNI_COMMAND: 'STATUS' }, conf({ name: 'tiny', subnet: '10.1.1.0/29' }), deps);
  assert.equal(JSON.parse(out.stdout).code, CNI_ERR.NOT_AVAILABLE);
  assert.match(JSON.parse(out.stdout).msg, /no free address in 10.1.1.0\/29/);
  const add = await runCni(
    env('ADD', { CNI_CONTAINERID: 't9' }),
    conf({ name: 'tiny', subnet: '10.1.1.0/29' }),
    deps,
  );
  assert.equal(JSON.parse(add.stdout).code, CNI_ERR.RANGE_EXHAUSTED);
});

test('GC releases everything not in cni.dev/valid-attachments', async () => {
  const deps = fakeDeps(new Set());
  const c = conf({
    name: 'tiny',
    subnet: '10.1.1.0/29',
    'cni.dev/valid-attachments': [{ containerID: 't1', ifname: 'eth0' }],
  });
  const out = await runCni({ CNI_COMMAND: 'GC' }, c, deps);
  assert.deepEqual(out, { stdout: '', exitCode: 0 });
  const left = storeFor({ dataDir: dir, name: 'tiny' } as never).list();
  assert.deepEqual(
    left.map((r) => r.containerId),
    ['t1'],
  );
  const refuse = await runCni({ CNI_COMMAND: 'GC' }, conf({ name: 'tiny' }), deps);
  assert.equal(JSON.parse(refuse.stdout).code, 7);
});

test('VERSION needs nothing but the command', async () => {
  const out = await runCni({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.3.1"}', fakeDeps(new Set()));
  assert.deepEqual(JSON.parse(out.stdout), {
    cniVersion: '0.3.1',
    supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
  });
});

test('CNI_ARGS parsing', () => {
  assert.deepEqual(
    [...parseCniArgs('A=1;B=x=y;;')],
    [
      ['A', '1'],
      ['B', 'x=y'],
    ],
  );
  assert.throws(() => parseCniArgs('A'), /not KEY=VALUE/);
});

test('the IPAM lock is exclusive: concurrent holders never overlap', async () => {
  const store = storeFor({ dataDir: dir, name: 'locktest' } as never);
  let inside = 0;
  let maxInside = 0;
  await Promise.all(
    Array.from({ length: 20 }, () =>
      store.withLock(async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        await new Promise((r) => setTimeout(r, 2));
        inside--;
      }),
    ),
  );
  assert.equal(maxInside, 1);
});

test('a lock held longer than the timeout is error 11 (try again later)', async () => {
  const store = storeFor({ dataDir: dir, name: 'locktest2' } as never);
  let release!: () => void;
  const held = store.withLock(
    () =>
      new Promise<void>((r) => {
        release = r;
      }),
  );
  await new Promise((r) => setTimeout(r, 20));
  await assert.rejects(
    store.withLock(async () => {}, 100),
    (e: unknown) =>
      e instanceof CniError && e.cniCode === CNI_ERR.TRY_AGAIN && /still locked/.test(e.message),
  );
  release();
  await held;
  await store.withLock(async () => {}, 1000);
});
