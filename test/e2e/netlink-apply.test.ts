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
import { LabNames } from '../../src/lab/names.js';
import { planLabNodeFromScratch } from '../../src/lab/plan.js';
import { loadSpec } from '../../src/lab/spec-source.js';
import { resolveCluster } from '../../src/model/resolve.js';
import { Ip } from '../../src/net/ip.js';
import { macFromName } from '../../src/net/mac.js';
import { createBridge } from '../../src/plan/node/devices.js';
import { named, type Plan } from '../../src/plan/ops.js';
import { planPodAttach } from '../../src/plan/pod.js';
import { planUplink } from '../../src/plan/underlay.js';
import { needsRoot } from '../helpers/cli.js';

/**
 * The in-process netlink applier against `ip`: the same plans (the lab's and the CNI plugin's planners) applied
 * both ways, in throwaway namespaces, must leave the same kernel state, read back with `ip -j -d`.
 */
const P = `pnl${process.pid.toString(36)}`;
const NODE = `${P}-n`;
const POD_IP = `${P}-a`;
const POD_NL = `${P}-b`;
// Two labs' node-0 namespaces: the default lab's node plan (vxlan) applied with ip, and as `lab up` applies it.
const LAB_IP = new LabNames(`pnla${process.pid.toString(36)}`);
const LAB_NL = new LabNames(`pnlb${process.pid.toString(36)}`);
const NODES = [LAB_IP.nodeNs('node-0'), LAB_NL.nodeNs('node-0')];
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
      queues: `${l.num_tx_queues}/${l.num_rx_queues}`,
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
    // Asked for on both ends (render/index.ts: no synchronize_net under RTNL while a veth is made).
    for (const end of ['hostIf', 'podIf'] as const)
      assert.equal((viaNl[end] as { queues: string }).queues, '1/1', `${end}: one TX and one RX queue`);
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

/** A lab node as `lab up` builds it from scratch (uplink, bridge, sysctls, vxlan device, neighbours, FDB, routes, nftables). */
function labNodePlan(names: LabNames): Plan {
  const cluster = resolveCluster(loadSpec(undefined, 'default'));
  const node = cluster.nodes[0]!;
  const ns = names.node(node.name);
  return [
    {
      title: 'nodes',
      ops: [
        ...planUplink({ name: node.name, ns, ip: node.ip }, cluster.spec.underlay.subnet),
        ...planLabNodeFromScratch(cluster, names, node.name),
      ],
    },
  ];
}

const sortByJson = (xs: unknown[]) =>
  xs
    .map((x) => JSON.stringify(x))
    .sort()
    .map((x) => JSON.parse(x));

interface LinkJson {
  ifname: string;
  mtu: number;
  flags: string[];
  address: string;
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: { stp_state?: number } };
}

/** Everything the node plan leaves, read back with ip, bridge and sysctl (timers and counters left out). */
function nodeStateOf(netns: string, keys: readonly string[]): unknown {
  const links = ipJson(netns, 'link', 'show').map((l: LinkJson) => ({
    ifname: l.ifname,
    mtu: l.mtu,
    flags: [...l.flags].sort(),
    address: l.address,
    master: l.master,
    kind: l.linkinfo?.info_kind,
    vxlan: l.linkinfo?.info_kind === 'vxlan' ? l.linkinfo.info_data : undefined,
    stp: l.linkinfo?.info_data?.stp_state,
  }));
  const addrs = ipJson(netns, 'addr', 'show').map((l: LinkJson & { addr_info: object[] }) => ({
    ifname: l.ifname,
    addrs: l.addr_info.map((a: object) => ({ ...a, valid_life_time: 0, preferred_life_time: 0 })),
  }));
  const fdb = JSON.parse(
    execFileSync('bridge', ['-n', netns, '-j', 'fdb', 'show', 'dev', 'vxlan.1'], { encoding: 'utf8' }) ||
      '[]',
  );
  const sysctls = keys.map((k) =>
    execFileSync('ip', ['netns', 'exec', netns, 'sysctl', '-n', k], { encoding: 'utf8' }).trim(),
  );
  return {
    links,
    addrs,
    routes: ipJson(netns, 'route', 'show'),
    // Listed in the kernel's hash order: sorted.
    neigh: sortByJson(ipJson(netns, 'neigh', 'show', 'nud', 'permanent')),
    fdb: sortByJson(fdb),
    sysctls,
  };
}

describe('netlink applier on a lab node, as lab up applies it', { skip: needsRoot }, () => {
  let nl: NetlinkApplier;
  let dir: string;
  const runner = new ProcessRunner();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `${P}-`));
    const addon = await compileNetlinkAddon();
    writeFileSync(join(dir, 'netlink.node'), addon.bytes);
    nl = new NetlinkApplier(loadNativeFile(join(dir, 'netlink.node')), runner);
    // The uplink the lab's switch cable would be (a veth whose peer stays in the node: no switch needed here).
    for (const n of NODES) execFileSync('ip', ['netns', 'add', n]);
    for (const n of NODES)
      execFileSync('ip', [
        '-n',
        n,
        'link',
        'add',
        'eth0',
        'address',
        '02:00:00:00:01:01',
        'type',
        'veth',
        'peer',
        'name',
        'peer0',
        'address',
        '02:00:00:00:01:02',
      ]);
  });
  after(() => {
    nl?.close();
    for (const n of NODES)
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      } catch {}
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the node plan leaves the same links, vxlan device, addresses, routes, neighbours, FDB and sysctls as ip does', async () => {
    const viaIp = labNodePlan(LAB_IP);
    const viaNl = labNodePlan(LAB_NL);
    const kinds = new Set(
      viaNl
        .flatMap((p) => p.ops)
        .filter((o) => nl.speaks(o))
        .map((o) => o.kind),
    );
    // The plan exercises every kind the lab sends over netlink on a node.
    for (const k of [
      'link.add-bridge',
      'link.add-vxlan',
      'link.set',
      'addr.add',
      'route.replace',
      'neigh.replace',
      'fdb.replace',
      'sysctl.set',
    ])
      assert.ok(kinds.has(k as never), `the node plan has no ${k} op`);
    await apply(viaIp, runner, { batch: true });
    const taken: string[] = [];
    await apply(viaNl, runner, {
      batch: true,
      inProcess: {
        speaks: (op) => nl.speaks(op),
        applyOp: (op) => {
          taken.push(op.kind);
          return nl.applyOp(op);
        },
      },
    });
    assert.deepEqual(
      taken,
      viaNl
        .flatMap((p) => p.ops)
        .filter((o) => nl.speaks(o))
        .map((o) => o.kind),
      'every op the applier speaks went over netlink, in plan order',
    );
    const sysctls = viaNl.flatMap((p) => p.ops).flatMap((o) => (o.kind === 'sysctl.set' ? [o] : []));
    const keys = sysctls.map((o) => o.key);
    const a = nodeStateOf(NODES[0]!, keys) as Record<string, unknown>;
    const b = nodeStateOf(NODES[1]!, keys) as Record<string, unknown>;
    assert.deepEqual(b, a);
    // Not vacuous: the vxlan device, its entries and the sysctls are there.
    assert.equal((a.fdb as unknown[]).length, 2);
    assert.equal((a.neigh as unknown[]).length, 2);
    assert.deepEqual(
      a.sysctls,
      sysctls.map((o) => String(o.value)),
    );
  });
});
