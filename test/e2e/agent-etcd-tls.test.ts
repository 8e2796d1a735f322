/**
 * `podnet agent` against a real etcd that speaks TLS only and requires client certificates (certificates made
 * by openssl in a temp dir). etcd and the agent run inside a namespace of this test's own (its loopback, a
 * veth uplink): the agent takes its lease, watches a peer's lease arrive and routes to it, all over TLS; an
 * agent that trusts another CA stays unhealthy and says why; bad TLS files are refused before start-up.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI, cli, needsRoot, netnsWithPrefix, run, uniqueLab } from '../helpers/cli.js';
import { noEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { makeTestTls, noOpenssl, type TestTls } from '../helpers/etcd-tls.js';

const skip = needsRoot || noEtcd || noOpenssl;
const prefix = uniqueLab('tls');
const ns = `${prefix}-node`;
const dir = mkdtempSync(join(tmpdir(), 'podnet-agent-tls-'));
let tls: TestTls | undefined;
let etcd: TestEtcd | undefined;
const agents: ChildProcess[] = [];

before(async () => {
  if (skip) return;
  for (const argv of [
    ['ip', 'netns', 'add', ns],
    ['ip', '-n', ns, 'link', 'set', 'lo', 'up'],
    // The uplink: a veth whose peer stays in the namespace too (no dummy module on every kernel).
    ['ip', '-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0peer'],
    ['ip', '-n', ns, 'link', 'set', 'eth0peer', 'up'],
    ['ip', '-n', ns, 'addr', 'add', '192.168.64.10/24', 'dev', 'eth0'],
    ['ip', '-n', ns, 'link', 'set', 'eth0', 'up'],
  ]) {
    const r = await run(argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
  }
  tls = makeTestTls();
  etcd = await startEtcd({ tls, netns: ns });
  const config = '{"Network": "10.200.0.0/16", "SubnetLen": 24, "Backend": {"Type": "host-gw"}}';
  const r = await run([...etcd.etcdctl, 'put', '/podnet/config', config]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
  await etcd?.stop();
  tls?.remove();
  if (!skip) await run(['ip', 'netns', 'del', ns]);
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(netnsWithPrefix(prefix), [], 'the test namespace is gone');
});

interface Agent {
  readonly child: ChildProcess;
  readonly logs: { msg: string; error?: string; subnet?: string }[];
  readonly exited: Promise<number | null>;
}

/** A real agent inside the namespace; its JSON log lines are collected. */
function startAgent(node: string, tlsFlags: string[]): Agent {
  const d = join(dir, node);
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      // The lab's V8 flags: a code cache made under other flags would be refused (and rewritten) by lab agents.
      '--lite-mode',
      '--no-expose-wasm',
      CLI,
      'agent',
      '--node',
      node,
      '--datastore',
      'etcd',
      '--etcd-endpoints',
      etcd!.endpoint,
      ...tlsFlags,
      '--iface',
      'eth0',
      '--proxy',
      'none',
      '--listen',
      '127.0.0.1:0',
      '--state-dir',
      join(d, 'state'),
      '--cni-conf-dir',
      join(d, 'net.d'),
      '--cni-data-dir',
      join(d, 'ipam'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  agents.push(child);
  const logs: Agent['logs'] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    buf += c;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith('{')) logs.push(JSON.parse(line));
    }
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, logs, exited };
}

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 20000): Promise<void> {
  for (const end = Date.now() + ms; !(await f()); ) {
    if (Date.now() > end) assert.fail(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test(
  'agent over etcd TLS: lease, a peer learnt through the watch and routed, a clean stop',
  { skip },
  async () => {
    const a = startAgent('tls1', [
      '--etcd-cafile',
      tls!.ca,
      '--etcd-certfile',
      tls!.cert,
      '--etcd-keyfile',
      tls!.key,
    ]);
    await until('agent started', () => a.logs.some((l) => l.msg === 'agent started'));
    const subnet = a.logs.find((l) => l.msg === 'agent started')!.subnet!;
    // The lease as etcdctl (TLS) reads it back.
    const got = await run([...etcd!.etcdctl, 'get', '--prefix', '/podnet/subnets/', '--print-value-only']);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /"PublicIP":"192\.168\.64\.10"/);
    assert.match(got.stdout, /"NodeName":"tls1"/);
    const conf = JSON.parse(readFileSync(join(dir, 'tls1', 'net.d', '10-podnet.conflist'), 'utf8'));
    assert.equal(conf.plugins[0].subnet, subnet);
    // A peer's lease written by etcdctl reaches the agent through its TLS watch: a route to it appears.
    const peer = '{"PublicIP":"192.168.64.11","BackendType":"host-gw","BackendData":{},"NodeName":"tls2"}';
    const put = await run([...etcd!.etcdctl, 'put', '/podnet/subnets/10.200.77.0-24', peer]);
    assert.equal(put.code, 0, put.stderr);
    await until('route to the peer', async () => {
      const r = await run(['ip', '-n', ns, 'route', 'show', '10.200.77.0/24']);
      return /via 192\.168\.64\.11 dev eth0/.test(r.stdout);
    });
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0);
  },
);

test(
  'agent over etcd TLS trusting another CA: no lease, unhealthy, and the log says why',
  { skip },
  async () => {
    const a = startAgent('tls3', [
      '--etcd-cafile',
      tls!.otherCa,
      '--etcd-certfile',
      tls!.cert,
      '--etcd-keyfile',
      tls!.key,
    ]);
    await until('datastore unreachable logged', () =>
      a.logs.some((l) => l.msg === 'datastore unreachable; keeping the last state'),
    );
    const why = a.logs.find((l) => l.msg === 'datastore unreachable; keeping the last state')!.error!;
    assert.match(why, /etcd https:\/\/127\.0\.0\.1:2379.*unable to verify/);
    const status = JSON.parse(readFileSync(join(dir, 'tls3', 'state', 'status.json'), 'utf8'));
    assert.equal(status.healthy, false);
    assert.equal(status.lease, undefined);
    assert.ok(!a.logs.some((l) => l.msg === 'subnet lease acquired'));
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0);
  },
);

test(
  'agent with bad etcd TLS files: exit 2 before start-up, every problem named',
  { skip: noOpenssl },
  async () => {
    const d = join(dir, 'bad');
    const r = await cli([
      'agent',
      '--node',
      'bad',
      '--datastore',
      'etcd',
      '--etcd-endpoints',
      'https://127.0.0.1:9',
      '--etcd-cafile',
      join(d, 'missing-ca.pem'),
      '--etcd-certfile',
      CLI,
      '--etcd-keyfile',
      CLI,
      '--iface',
      'lo',
      '--listen',
      '127.0.0.1:0',
      '--state-dir',
      join(d, 'state'),
    ]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /--etcd-cafile: cannot read '.*missing-ca\.pem': ENOENT/);
    assert.match(r.stderr, /--etcd-certfile: '.*podnet\.js' is not a PEM certificate/);
    assert.match(r.stderr, /--etcd-keyfile: '.*podnet\.js' is not a PEM private key/);
    assert.equal(existsSync(join(d, 'state')), false, 'nothing was started or written');
  },
);
