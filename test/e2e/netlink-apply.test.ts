import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { apply } from '../../src/apply/apply.js';
import { NetlinkApplier } from '../../src/apply/netlink.js';
import { KernelError } from '../../src/errors.js';
import { isAlreadyExists, isNotFound } from '../../src/exec/kernel-answers.js';
import { compileNetlinkAddon } from '../../src/exec/netlink/build.js';
import { loadNativeFile } from '../../src/exec/netlink/native.js';
import { ProcessRunner } from '../../src/exec/process-runner.js';
import { Ip } from '../../src/net/ip.js';
import { macFromName } from '../../src/net/mac.js';
import { createBridge } from '../../src/plan/node/devices.js';
import { named, type Plan } from '../../src/plan/ops.js';
import { planPodAttach } from '../../src/plan/pod.js';
import { needsRoot } from '../helpers/cli.js';

/**
 * The in-process netlink applier against `ip`: the same plans (the lab's and the CNI plugin's planners) applied
 * both ways, in throwaway namespaces, must leave the same kernel state, read back with `ip -j -d`.
 */
const P = `pnl${process.pid.toString(36)}`;
const NODE = `${P}-n`;
const POD_IP = `${P}-a`;
const POD_NL = `${P}-b`;
const ns = (n: string) => named(n);

function plan(way: 'ip' | 'nl', podNs: string, third: number): Plan {
  const bridge = `br${way}`;
  const gateway = Ip.parse(`10.98.${third}.1`);
  return [
    {
      title: 'node',
      ops: createBridge(ns(NODE), 'n', {
        name: bridge,
        address: `${gateway}/24`,
        mac: macFromName(`bridge/${bridge}/${gateway}`),
        mtu: 1450,
        nfCallIptables: true,
      }),
    },
    {
      title: 'pod',
      ops: planPodAttach({
        pod: way,
        nodeNs: ns(NODE),
        podNs: ns(podNs),
        bridge,
        hostIf: `v${way}`,
        podIf: 'eth0',
        ip: Ip.parse(`10.98.${third}.2`),
        prefix: 24,
        gateway,
        mtu: 1450,
        hairpin: true,
        podMac: way === 'ip' ? '02:00:00:00:00:0a' : '02:00:00:00:00:0b',
      }),
    },
  ];
}

const ipJson = (netns: string, ...args: string[]) =>
  JSON.parse(execFileSync('ip', ['-n', netns, '-j', '-d', ...args], { encoding: 'utf8' }) || '[]');

/** The kernel state of one side, with what differs by design (names, indices, addresses, MACs) renamed. */
function stateOf(way: 'ip' | 'nl', podNs: string, third: number): unknown {
  const swap = (text: string) =>
    text
      .replaceAll(`br${way}`, 'BRIDGE')
      .replaceAll(`v${way}`, 'HOSTIF')
      .replaceAll(`10.98.${third}.`, 'NET.')
      .replaceAll(podNs, 'PODNS');
  const link = (netns: string, dev: string) => {
    const [l] = ipJson(netns, 'link', 'show', 'dev', dev);
    const info = l.linkinfo ?? {};
    return {
      mtu: l.mtu,
      flags: [...l.flags].sort(),
      operstate: l.operstate,
      master: l.master,
      kind: info.info_kind,
      slaveKind: info.info_slave_kind,
      hairpin: info.info_slave_data?.hairpin,
      learning: info.info_slave_data?.learning,
      stp: info.info_data?.stp_state,
      nfCallIptables: info.info_data?.nf_call_iptables,
    };
  };
  const addrs = (netns: string, dev: string) =>
    ipJson(netns, 'addr', 'show', 'dev', dev)[0]
      .addr_info.filter((a: { family: string }) => a.family === 'inet')
      .map((a: object) => ({ ...a, valid_life_time: undefined, preferred_life_time: undefined }));
  const routes = (netns: string) => ipJson(netns, 'route', 'show');
  return JSON.parse(
    swap(
      JSON.stringify({
        bridge: link(NODE, `br${way}`),
        bridgeAddrs: addrs(NODE, `br${way}`),
        hostIf: link(NODE, `v${way}`),
        podIf: link(podNs, 'eth0'),
        podMac: ipJson(podNs, 'link', 'show', 'dev', 'eth0')[0].address,
        podAddrs: addrs(podNs, 'eth0'),
        podLo: link(podNs, 'lo').flags,
        podRoutes: routes(podNs),
      }),
    ),
  );
}

describe('netlink applier on the real kernel', { skip: needsRoot }, () => {
  let nl: NetlinkApplier;
  let dir: string;
  const runner = new ProcessRunner();

  before(async () => {
    for (const n of [NODE, POD_IP, POD_NL]) execFileSync('ip', ['netns', 'add', n]);
    dir = mkdtempSync(join(tmpdir(), `${P}-`));
    const addon = await compileNetlinkAddon();
    writeFileSync(join(dir, 'netlink.node'), addon.bytes);
    nl = new NetlinkApplier(loadNativeFile(join(dir, 'netlink.node')), runner);
  });
  after(() => {
    nl?.close();
    for (const n of [NODE, POD_IP, POD_NL])
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      } catch {}
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the same plan leaves the same links, addresses and routes as ip does', async () => {
    await apply(plan('ip', POD_IP, 1), runner, { batch: true });
    await nl.apply(plan('nl', POD_NL, 2));
    const viaIp = stateOf('ip', POD_IP, 1) as Record<string, unknown>;
    const viaNl = stateOf('nl', POD_NL, 2) as Record<string, unknown>;
    assert.deepEqual(viaNl.podMac === '02:00:00:00:00:0b', true, 'the pod interface got the planned MAC');
    assert.deepEqual({ ...viaNl, podMac: 0 }, { ...viaIp, podMac: 0 });
    assert.equal(
      (viaNl.bridge as { nfCallIptables: number }).nfCallIptables,
      1,
      "the bridge's own br_netfilter",
    );
    // The bridge's switch turned off in place, both ways.
    const off = (way: 'ip' | 'nl'): Plan => [
      {
        title: 'b',
        ops: [{ kind: 'link.set-bridge', netns: ns(NODE), name: `br${way}`, nfCallIptables: false }],
      },
    ];
    await apply(off('ip'), runner, { batch: true });
    await nl.apply(off('nl'));
    const [ipOff, nlOff] = [stateOf('ip', POD_IP, 1), stateOf('nl', POD_NL, 2)] as Record<string, unknown>[];
    assert.equal((nlOff!.bridge as { nfCallIptables: number }).nfCallIptables, 0);
    assert.deepEqual({ ...nlOff, podMac: 0 }, { ...ipOff, podMac: 0 });
    // And it carries traffic: the pod reaches its gateway on the bridge.
    execFileSync('ip', ['netns', 'exec', POD_NL, 'busybox', 'ping', '-c', '1', '-W', '2', '10.98.2.1'], {
      stdio: 'ignore',
    });
  });

  test('refusals are KernelErrors that read like ip and classify as exists / not found', async () => {
    await assert.rejects(nl.apply(plan('nl', POD_NL, 2).slice(1)), (e: Error & { cause?: unknown }) => {
      assert.ok(e.cause instanceof KernelError);
      assert.ok(isAlreadyExists(e.cause));
      assert.match(e.message, /ip -n \S+ link add vnl .*RTNETLINK answers: File exists/);
      return true;
    });
    await assert.rejects(
      nl.apply([{ title: 't', ops: [{ kind: 'link.set', netns: ns(NODE), name: 'nosuch0', up: true }] }]),
      (e: Error & { cause?: unknown }) => isNotFound(e.cause),
    );
    assert.equal(nl.hasLink(ns(NODE), 'vnl'), true);
    assert.equal(nl.hasLink(ns(NODE), 'nosuch0'), false);
    nl.applyOp({ kind: 'link.del', netns: ns(NODE), name: 'vnl' });
    assert.equal(nl.hasLink(ns(NODE), 'vnl'), false);
    assert.deepEqual(
      ipJson(POD_NL, 'link', 'show').map((l: { ifname: string }) => l.ifname),
      ['lo'],
      'deleting the host end removed the pod end',
    );
  });
});
