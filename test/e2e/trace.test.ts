/**
 * `podnet lab trace` on the real kernel: observed hops for same-node (bridge and veth), cross-node (host-gw and
 * vxlan, VNI and outer addresses checked against an independent tshark capture), the seed's three ClusterIP
 * client cases (hairpin included), NodePort from another node and egress to the outside host; faults injected by
 * hand (route, FDB entry, drop rule, pod MTU) named at the node and entry at fault; the verdict the same with and
 * without tracing; nothing left behind, even when podnet is killed with SIGKILL mid-trace.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CLI,
  cli,
  liveProcessesMentioning,
  needsRoot,
  netnsWithPrefix,
  ROOT,
  run,
  STATE_DIR,
  uniqueLab,
} from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/** The node-side end of a pod's cable, read from the kernel: the link whose index is the pod eth0's peer index. */
async function hostVeth(lab: string, node: string, pod: string): Promise<string> {
  const [eth0] = JSON.parse(
    (await run(['ip', '-n', `${lab}-pod-${pod}`, '-j', 'link', 'show', 'eth0'])).stdout,
  ) as {
    link_index: number;
  }[];
  const links = JSON.parse((await run(['ip', '-n', `${lab}-${node}`, '-j', 'link', 'show'])).stdout) as {
    ifindex: number;
    ifname: string;
  }[];
  const peer = links.find((l) => l.ifindex === eth0!.link_index);
  assert.ok(peer, `${pod}'s host veth on ${node}`);
  return peer.ifname;
}

interface Addr {
  ip: string;
  port?: number;
}
interface Hop {
  n: number;
  place: string;
  ns: string;
  layer: 'inner' | 'outer';
  seen: boolean;
  onPath: boolean;
  in?: string;
  out?: string;
  actions: string[];
  dnat?: { from: Addr; to: Addr; endpoint?: string };
  snat?: { from: Addr; to: Addr };
  dst?: Addr;
  route?: string;
  vxlan?: { vni: number; src: string; dst: string; sport?: number; dport?: number };
  drop?: { family: string; table: string; chain: string; handle?: number; rule: string };
  delivered?: string;
}
interface Report {
  probe: { verdict: string; answer: string };
  client: { ip: string; sport: number };
  endpoint?: string;
  request: Hop[];
  reply: Hop[];
  answer?: { kind: string; node?: string; answer: string };
  findings: string[];
  namespaces: string[];
  ms: number;
}

const labs: string[] = [];
after(async () => {
  for (const l of labs) await cli(['lab', 'down', '--name', l]);
  for (const l of labs) assert.deepEqual(netnsWithPrefix(`${l}-`), [], `lab ${l} left namespaces`);
});

async function up(tag: string, spec: string): Promise<string> {
  const lab = uniqueLab(tag);
  labs.push(lab);
  const file = join(tempDir('podnet-trace'), 'cluster.yaml');
  writeFileSync(file, spec);
  const r = await cli(['lab', 'up', '--name', lab, '-f', file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return lab;
}

const exec = (ns: string, ...argv: string[]) => run(['ip', 'netns', 'exec', ns, ...argv]);

/**
 * The trace's observers still alive: `nft monitor` and `conntrack -E` processes inside the lab's namespaces
 * (found by their network namespace: their command lines do not name it), and its kernel session.
 */
function observersLeft(lab: string): string[] {
  const inodes = new Set(netnsWithPrefix(`${lab}-`).map((n) => statSync(`/run/netns/${n}`).ino));
  const out: string[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const comm = readFileSync(`/proc/${e}/comm`, 'utf8').trim();
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const net = /net:\[(\d+)\]/.exec(readlinkSync(`/proc/${e}/ns/net`))?.[1];
      if ((comm === 'nft' || comm === 'conntrack') && net && inodes.has(Number(net)))
        out.push(`${e} ${comm}`);
    } catch {}
  }
  return [...out, ...liveProcessesMentioning(SESSION).map((p) => `${p} trace-session`)];
}
const SESSION = join(ROOT, 'assets', 'trace-session.py');

/** Trace tables left in any of the lab's namespaces. */
async function traceTablesLeft(lab: string): Promise<string[]> {
  const left: string[] = [];
  for (const ns of netnsWithPrefix(`${lab}-`)) {
    const r = await exec(ns, 'nft', 'list', 'tables');
    for (const l of r.stdout.split('\n')) if (l.includes('podnet-trace-')) left.push(`${ns}: ${l}`);
  }
  return left;
}

async function trace(lab: string, ...args: string[]): Promise<Report> {
  const r = await cli(['lab', 'trace', '--name', lab, ...args, '--json']);
  assert.ok(r.code === 0 || r.code === 3, `trace exit ${r.code}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(r.code, report.probe.verdict === 'answered' ? 0 : 3);
  assert.deepEqual(await traceTablesLeft(lab), [], 'the trace removed its tables');
  assert.deepEqual(observersLeft(lab), [], 'no observer is left running');
  return report;
}

const seenOnPath = (hs: Hop[]) =>
  hs.filter((h) => h.seen && h.onPath).map((h) => `${h.place}${h.layer === 'outer' ? '(outer)' : ''}`);
const hopAt = (hs: Hop[], place: string, layer: 'inner' | 'outer' = 'inner') => {
  const h = hs.find((x) => x.seen && x.place === place && x.layer === layer);
  assert.ok(h, `a hop at ${place} (${layer}): ${JSON.stringify(hs.map((x) => x.place))}`);
  return h;
};

function assertHealthy(r: Report): void {
  assert.equal(r.probe.verdict, 'answered', JSON.stringify(r.probe));
  assert.equal(r.answer, undefined);
  assert.deepEqual(r.findings, [], 'everything seen matches the model');
  // Numbered hops, request then reply, without gaps.
  const ns = [...r.request, ...r.reply].filter((h) => h.seen).map((h) => h.n);
  assert.deepEqual(
    ns,
    ns.map((_, i) => i + 1),
  );
}

const SPEC = (crossNode: string, outside: boolean) => `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: trace}
spec:
  crossNode: ${crossNode}
  outside: ${outside}
  nodes:
    - {name: node-0, ip: 192.168.64.4}
    - {name: node-1, ip: 192.168.64.5}
    - {name: node-2, ip: 192.168.64.6}
  pods:
    - {name: a0, node: node-0, labels: {app: web}}
    - {name: a1, node: node-0, labels: {app: client}}
    - {name: b, node: node-1, labels: {app: web}}
    - {name: c, node: node-2, labels: {app: client}}
    - {name: e, node: node-1, labels: {app: echo}, containers: [{name: echo, command: [python3, ${ECHO}, e, '9000']}]}
  services:
    - metadata: {name: web}
      spec: {type: NodePort, clusterIP: 10.96.0.2, selector: {app: web}, ports: [{name: http, port: 8080, nodePort: 30080}]}
    - metadata: {name: echo-udp}
      spec: {clusterIP: 10.96.0.4, selector: {app: echo}, ports: [{name: dns, protocol: UDP, port: 53, targetPort: 9000}]}
`;
const ECHO = join(ROOT, 'assets', 'echo.py');

/** tshark on the underlay switch: VXLAN packets with their outer and inner headers. */
function captureVxlan(lab: string): { stop: () => Promise<string[][]> } {
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      `${lab}-switch`,
      'tshark',
      '-n',
      '-l',
      '-i',
      'sw0',
      '-f',
      'udp port 4789',
      '-T',
      'fields',
      '-E',
      'separator=/t',
      '-e',
      'ip.src',
      '-e',
      'ip.dst',
      '-e',
      'udp.srcport',
      '-e',
      'vxlan.vni',
      '-e',
      'tcp.srcport',
      '-e',
      'tcp.dstport',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const ready = new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (/Capturing on/.test(err) || child.exitCode !== null) {
        clearInterval(t);
        resolve();
      }
    }, 20);
  });
  return {
    async stop() {
      await ready;
      // libpcap gets the kernel's ring in blocks: a SIGINT before the block is retired loses its packets.
      for (let t = Date.now(); !out && child.exitCode === null && Date.now() - t < 3000; )
        await new Promise((r) => setTimeout(r, 20));
      const closed = new Promise((r) => child.on('close', r));
      child.kill('SIGINT');
      await closed;
      return out
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t'));
    },
    ...{ ready },
  } as { stop: () => Promise<string[][]>; ready: Promise<void> };
}

describe('lab trace, vxlan (real kernel)', { skip: needsRoot }, () => {
  let lab = '';
  before(async () => {
    lab = await up('trv', SPEC('vxlan', true));
  });

  test('same node, bridge: a1 → a0 is bridged by cni0 on node-0 and delivered to the web server', async () => {
    const r = await trace(lab, 'a1', 'a0');
    assertHealthy(r);
    assert.deepEqual(seenOnPath(r.request), ['pod a1', 'node-0', 'pod a0']);
    const n0 = hopAt(r.request, 'node-0');
    assert.equal(n0.in, await hostVeth(lab, 'node-0', 'a1'));
    assert.equal(n0.out, await hostVeth(lab, 'node-0', 'a0'));
    assert.match(hopAt(r.request, 'pod a0').delivered ?? '', /:8080 \(busybox, pid \d+\)/);
    assert.deepEqual(seenOnPath(r.reply), ['pod a0', 'node-0', 'pod a1']);
    assert.ok(
      r.request.every((h) => h.layer === 'inner'),
      'nothing encapsulated on one node',
    );
  });

  test('cross node, vxlan: c → b encapsulated with VNI 1 between the nodes, as tshark sees it on the switch', async () => {
    const cap = captureVxlan(lab) as unknown as { stop: () => Promise<string[][]>; ready: Promise<void> };
    await cap.ready;
    const r = await trace(lab, 'c', 'b');
    const wire = await cap.stop();
    assertHealthy(r);
    assert.deepEqual(seenOnPath(r.request), [
      'pod c',
      'node-2',
      'node-2(outer)',
      'switch(outer)',
      'node-1(outer)',
      'node-1',
      'pod b',
    ]);
    const enc = hopAt(r.request, 'node-2', 'outer');
    assert.deepEqual(
      [enc.vxlan?.vni, enc.vxlan?.src, enc.vxlan?.dst, enc.vxlan?.dport],
      [1, '192.168.64.6', '192.168.64.5', 4789],
    );
    assert.match(enc.actions.join(';'), /encapsulated by vxlan\.1/);
    assert.match(hopAt(r.request, 'node-1', 'outer').actions.join(';'), /decapsulated/);
    assert.equal(hopAt(r.request, 'node-2').route, '10.200.1.0/24 via 10.200.1.0 dev vxlan.1 onlink');
    // The independent capture: the SYN's outer packet, found by the probe's inner source port.
    const syn = wire.find((f) => f[4] === String(r.client.sport) && f[5] === '8080');
    assert.ok(syn, `tshark saw the probe: ${JSON.stringify(wire)}`);
    const [src, dst, sport, vni] = syn;
    assert.equal(src?.split(',')[0], enc.vxlan?.src);
    assert.equal(dst?.split(',')[0], enc.vxlan?.dst);
    assert.equal(src?.split(',')[1], '10.200.2.2', 'inner source is c');
    assert.equal(Number(sport), enc.vxlan?.sport);
    assert.equal(Number(vni), enc.vxlan?.vni);
  });

  test('--capture: the trace checks each encapsulation against its own tshark capture of the underlay', async () => {
    const r = (await trace(lab, 'c', 'b', '--capture')) as Report & {
      wire: {
        outer: { src: string; dst: string; sport: number };
        vni: number;
        inner: { src: string; sport?: number };
      }[];
    };
    assertHealthy(r);
    const enc = hopAt(r.request, 'node-2', 'outer').vxlan!;
    const syn = r.wire.find((w) => w.inner.src === '10.200.2.2' && w.inner.sport === r.client.sport);
    assert.ok(syn, `tshark saw the probe: ${JSON.stringify(r.wire)}`);
    assert.deepEqual(
      [syn.outer.src, syn.outer.dst, syn.outer.sport, syn.vni],
      [enc.src, enc.dst, enc.sport, enc.vni],
    );
  });

  test('ClusterIP, client on a node without endpoints (c): DNAT on node-2 to the endpoint that answered', async () => {
    const r = await trace(lab, 'c', 'default/web:http');
    assertHealthy(r);
    assert.ok(r.endpoint === 'a0' || r.endpoint === 'b', `endpoint ${r.endpoint}`);
    assert.match(r.probe.answer, new RegExp(`^pod=${r.endpoint} `));
    const d = hopAt(r.request, 'node-2').dnat;
    assert.deepEqual(d?.from, { ip: '10.96.0.2', port: 8080 });
    assert.equal(d?.endpoint, r.endpoint);
    // The DNAT target is the chosen endpoint's own address, and the packet came in by c's cable.
    assert.deepEqual(d?.to, { ip: r.endpoint === 'a0' ? '10.200.0.2' : '10.200.1.2', port: 8080 });
    assert.equal(hopAt(r.request, 'node-2').in, await hostVeth(lab, 'node-2', 'c'));
    assert.ok(hopAt(r.request, `pod ${r.endpoint}`).delivered);
    assert.match(
      hopAt(r.reply, 'node-2').actions.join(';'),
      /source restored 10\.200\.\d\.2:8080 → 10\.96\.0\.2:8080/,
    );
  });

  test('ClusterIP, client on an endpoint node (a1): DNAT on node-0; a0 is bridged back, b crosses the tunnel', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 12 && seen.size < 2; i++) {
      const r = await trace(lab, 'a1', 'default/web:http');
      assertHealthy(r);
      seen.add(r.endpoint ?? '?');
      assert.equal(hopAt(r.request, 'node-0').dnat?.endpoint, r.endpoint);
      const outer = r.request.filter((h) => h.layer === 'outer' && h.seen).length;
      assert.equal(outer, r.endpoint === 'a0' ? 0 : 3, `${r.endpoint}: outer hops`);
    }
    assert.deepEqual([...seen].sort(), ['a0', 'b'], 'both endpoints chosen across traces');
  });

  test('ClusterIP, hairpin (a0 → its own service): when a0 is chosen, node-0 DNATs and masquerades it back to a0', async () => {
    let hair: Report | undefined;
    for (let i = 0; i < 16 && !hair; i++) {
      const r = await trace(lab, 'a0', 'default/web:http');
      assertHealthy(r);
      if (r.endpoint === 'a0') hair = r;
    }
    assert.ok(hair, 'a0 chose itself in 16 traces');
    const n0 = hopAt(hair.request, 'node-0');
    const a0 = await hostVeth(lab, 'node-0', 'a0');
    assert.equal(n0.in, a0);
    assert.equal(n0.out, a0, 'out the port it came in: hairpin');
    assert.equal(n0.dnat?.to.ip, '10.200.0.2');
    assert.equal(n0.snat?.to.ip, '10.200.0.1', 'masqueraded to the bridge address');
    assert.deepEqual(seenOnPath(hair.request), ['pod a0', 'node-0', 'pod a0']);
    assert.match(hair.request.at(-1)?.delivered ?? '', /:8080/);
  });

  test('NodePort from another node: node-0 → node-1:30080, DNAT on node-1', async () => {
    const r = await trace(lab, 'node-0', 'node-1:30080');
    assertHealthy(r);
    const n1 = hopAt(r.request, 'node-1');
    assert.deepEqual(n1.dnat?.from, { ip: '192.168.64.5', port: 30080 });
    assert.equal(n1.dnat?.endpoint, r.endpoint);
    assert.equal(n1.in, 'eth0');
    assert.ok(n1.snat, 'Cluster policy: masqueraded on node-1');
    assert.equal(hopAt(r.request, 'switch').in, 'sw-node-0');
  });

  test('egress to the outside host: masqueraded to node-0, routed by the router, the server sees node-0', async () => {
    const r = await trace(lab, 'a1', 'outside');
    assertHealthy(r);
    assert.deepEqual(seenOnPath(r.request), ['pod a1', 'node-0', 'switch', 'router', 'outside']);
    const n0 = hopAt(r.request, 'node-0');
    assert.equal(n0.snat?.to.ip, '192.168.64.4');
    assert.equal(n0.route, 'default via 192.168.64.1 dev eth0');
    assert.match(r.probe.answer, /client=192\.168\.64\.4:/);
    assert.equal(`${r.probe.answer.split('client=')[1]}`, `192.168.64.4:${n0.snat?.to.port}`);
  });

  test('UDP through a ClusterIP: DNAT to the echo pod, which sees the client itself; a closed UDP port answers ICMP', async () => {
    let r: Report | undefined;
    for (let i = 0; i < 20 && r?.probe.verdict !== 'answered'; i++) {
      r = await trace(lab, 'c', 'default/echo-udp:dns'); // the echo server starts asynchronously
      if (r.probe.verdict !== 'answered') await new Promise((res) => setTimeout(res, 250));
    }
    assert.ok(r);
    assertHealthy(r);
    assert.equal(r.endpoint, 'e');
    assert.deepEqual(hopAt(r.request, 'node-2').dnat?.to, {
      ip: r.request.find((h) => h.place === 'pod e')?.dst?.ip,
      port: 9000,
    });
    assert.equal(r.probe.answer, `pod=e client=10.200.2.2:${r.client.sport}`);
    const closed = await trace(lab, 'c', 'b:9', '--proto', 'udp');
    assert.equal(closed.probe.verdict, 'refused');
    const icmp = closed.reply.find((h) =>
      h.actions.some((a) => a.startsWith('ICMP destination-unreachable')),
    );
    assert.ok(icmp, `the ICMP error is traced back: ${JSON.stringify(closed.reply.map((h) => h.actions))}`);
    assert.match(icmp.actions.join(';'), /port-unreachable/);
  });

  test('lab diagram --trace: the topology with the observed hops drawn as a numbered path', async () => {
    const file = join(STATE_DIR, `diagram-${process.pid}.svg`);
    const r = await cli(['lab', 'diagram', '--name', lab, '--trace', 'c', 'b', '-o', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /trace c → b: answered/);
    const svg = readFileSync(file, 'utf8');
    for (const t of [
      'node-0',
      'node-1',
      'node-2',
      'pod a0',
      '10.200.0.2/24',
      'pod c',
      '10.200.2.2/24',
      'switch sw0',
      'router',
      'vxlan.1',
    ])
      assert.ok(svg.includes(t), t);
    const badges = [...svg.matchAll(/<g class="hop (request|reply)" data-n="(\d+)"/g)].map((m) =>
      Number(m[2]),
    );
    assert.deepEqual(
      badges,
      Array.from({ length: 14 }, (_, i) => i + 1),
      'c → b over vxlan: 7 hops each way',
    );
    assert.deepEqual(await traceTablesLeft(lab), []);
  });

  test('fault: a deleted route is named: no route on node-2 for node-0 pod CIDR', async () => {
    const ns = `${lab}-node-2`;
    await exec(ns, 'ip', 'route', 'del', '10.200.0.0/24');
    try {
      const r = await trace(lab, 'c', 'a0');
      assert.equal(r.probe.verdict, 'timeout');
      assert.equal(r.answer?.kind, 'no-route');
      assert.equal(r.answer?.node, 'node-2');
      assert.match(r.answer?.answer ?? '', /^no route on node-2 for 10\.200\.0\.0\/24/);
    } finally {
      await exec(
        ns,
        'ip',
        'route',
        'replace',
        '10.200.0.0/24',
        'via',
        '10.200.0.0',
        'dev',
        'vxlan.1',
        'onlink',
      );
    }
  });

  test("fault: a deleted FDB entry is named: vxlan FDB on node-2 has no entry for node-0's VTEP", async () => {
    const ns = `${lab}-node-2`;
    const fdb = JSON.parse((await exec(ns, 'bridge', '-j', 'fdb', 'show', 'dev', 'vxlan.1')).stdout) as {
      mac: string;
      dst?: string;
    }[];
    const entry = fdb.find((e) => e.dst === '192.168.64.4');
    assert.ok(entry, 'node-2 has an FDB entry for node-0');
    await exec(ns, 'bridge', 'fdb', 'del', entry.mac, 'dev', 'vxlan.1', 'dst', '192.168.64.4');
    try {
      const r = await trace(lab, 'c', 'a0');
      assert.equal(r.answer?.kind, 'no-fdb');
      assert.equal(
        r.answer?.answer.split(':')[0],
        `vxlan FDB on node-2 has no entry for node-0's VTEP (MAC ${entry.mac})`.split(':')[0],
      );
      assert.ok(r.answer?.answer.includes(entry.mac));
    } finally {
      await exec(
        ns,
        'bridge',
        'fdb',
        'append',
        entry.mac,
        'dev',
        'vxlan.1',
        'dst',
        '192.168.64.4',
        'self',
        'permanent',
      );
    }
  });

  test('fault: a drop rule added by hand is named with its hook, table, chain and handle; the verdict is the same untraced', async () => {
    const ns = `${lab}-node-1`;
    const rules =
      'table inet handmade {\n chain f {\n  type filter hook forward priority 0; policy accept;\n  ip daddr 10.200.1.2 tcp dport 8080 drop\n }\n}\n';
    const add = await run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], { input: rules });
    assert.equal(add.code, 0, add.stderr);
    try {
      const handle = /handle (\d+)/.exec(
        (await exec(ns, 'nft', '-a', 'list', 'chain', 'inet', 'handmade', 'f')).stdout
          .split('\n')
          .find((l) => l.includes('drop')) ?? '',
      )?.[1];
      const r = await trace(lab, 'c', 'b');
      assert.equal(r.answer?.kind, 'drop');
      assert.equal(r.answer?.node, 'node-1');
      assert.equal(
        r.answer?.answer,
        `dropped at node-1, hook forward, inet table handmade, chain f, rule handle ${handle}: ip daddr 10.200.1.2 tcp dport 8080 drop`,
      );
      const h = hopAt(r.request, 'node-1');
      assert.equal(h.drop?.table, 'handmade');
      const untraced = await cli(['lab', 'trace', '--name', lab, 'c', 'b', '--no-observe', '--json']);
      assert.equal((JSON.parse(untraced.stdout) as Report).probe.verdict, r.probe.verdict);
    } finally {
      await exec(ns, 'nft', 'delete', 'table', 'inet', 'handmade');
    }
  });

  test("fault: a pod MTU other than the model's is named, with the packet that does not fit", async () => {
    const ns = `${lab}-pod-c`;
    await exec(ns, 'ip', 'link', 'set', 'eth0', 'mtu', '1500');
    try {
      const r = await trace(lab, 'c', 'b', '--proto', 'icmp', '--size', '1440');
      assert.equal(r.probe.verdict, 'timeout');
      assert.equal(r.answer?.kind, 'mtu');
      assert.equal(r.answer?.node, 'pod c');
      const peer = await hostVeth(lab, 'node-2', 'c');
      assert.ok(
        (r.answer?.answer ?? '').startsWith(
          `pod c's eth0 has MTU 1500, the model sets 1450; its peer ${peer} on node-2 has 1450: the 1468-byte packet`,
        ),
        r.answer?.answer,
      );
      const small = await trace(lab, 'c', 'b', '--proto', 'icmp', '--size', '1000');
      assert.equal(small.probe.verdict, 'answered', 'packets that fit the path still pass');
    } finally {
      await exec(ns, 'ip', 'link', 'set', 'eth0', 'mtu', '1450');
    }
  });

  test('tracing does not change the verdict: healthy, refused and black-holed probes, traced and not', async () => {
    for (const [from, to] of [
      ['c', 'default/web:http'],
      ['a1', 'b:9'],
      ['c', 'outside'],
    ] as const) {
      const traced = await trace(lab, from, to);
      const plain = JSON.parse(
        (await cli(['lab', 'trace', '--name', lab, from, to, '--no-observe', '--json'])).stdout,
      ) as Report;
      assert.equal(plain.probe.verdict, traced.probe.verdict, `${from} → ${to}`);
    }
  });

  test('SIGKILL mid-trace: the trace tables and observers are removed all the same', async () => {
    // A probe that waits: node-1 drops it, so podnet is still tracing when it is killed.
    const ns = `${lab}-node-1`;
    const rules =
      'table inet handmade {\n chain f {\n  type filter hook forward priority 0; policy accept;\n  ip daddr 10.200.1.2 drop\n }\n}\n';
    assert.equal((await run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], { input: rules })).code, 0);
    const ready = join(STATE_DIR, `ready-${process.pid}`);
    try {
      const child = spawn('node', [CLI, 'lab', 'trace', '--name', lab, 'c', 'b', '--timeout', '10'], {
        env: { ...process.env, PODNET_STATE_DIR: STATE_DIR, PODNET_TRACE_READY_FILE: ready },
        stdio: 'ignore',
      });
      const deadline = Date.now() + 15000;
      while (!existsSync(ready) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(existsSync(ready), 'the trace got ready');
      assert.equal(Number(readFileSync(ready, 'utf8')), child.pid);
      assert.ok((await traceTablesLeft(lab)).length >= 5, 'tables are in place while it runs');
      assert.ok(observersLeft(lab).length >= 5, `observers are running: ${observersLeft(lab)}`);
      const closed = new Promise((r) => child.on('close', r));
      child.kill('SIGKILL');
      await closed;
      let left: string[] = [];
      let procs: string[] = [];
      for (const end = Date.now() + 5000; Date.now() < end; ) {
        left = await traceTablesLeft(lab);
        procs = observersLeft(lab);
        if (!left.length && !procs.length) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(left, [], 'no trace table survives podnet');
      assert.deepEqual(procs, [], 'no observer survives podnet');
    } finally {
      await exec(ns, 'nft', 'delete', 'table', 'inet', 'handmade');
    }
  });
});

describe('lab trace, host-gw (real kernel)', { skip: needsRoot }, () => {
  let lab = '';
  before(async () => {
    lab = await up('trh', SPEC('host-gw', false));
  });

  test('cross node, host-gw: c → b routed node to node on the underlay, nothing encapsulated', async () => {
    const r = await trace(lab, 'c', 'b');
    assertHealthy(r);
    assert.deepEqual(seenOnPath(r.request), ['pod c', 'node-2', 'switch', 'node-1', 'pod b']);
    const n2 = hopAt(r.request, 'node-2');
    assert.equal(n2.route, '10.200.1.0/24 via 192.168.64.5 dev eth0');
    assert.equal(n2.out, 'eth0');
    assert.equal(hopAt(r.request, 'switch').in, 'sw-node-2');
    assert.equal(hopAt(r.request, 'switch').out, 'sw-node-1');
    assert.ok([...r.request, ...r.reply].every((h) => h.layer === 'inner'));
  });

  test('ClusterIP across host-gw: DNAT on the client node, routed to the endpoint node', async () => {
    const r = await trace(lab, 'c', '10.96.0.2:8080');
    assertHealthy(r);
    assert.equal(hopAt(r.request, 'node-2').dnat?.endpoint, r.endpoint);
  });

  test('fault: without the route (and no default route) node-2 has no route for node-1 pod CIDR', async () => {
    const ns = `${lab}-node-2`;
    await exec(ns, 'ip', 'route', 'del', '10.200.1.0/24');
    try {
      const r = await trace(lab, 'c', 'b');
      assert.equal(r.answer?.kind, 'no-route');
      assert.match(r.answer?.answer ?? '', /^no route on node-2 for 10\.200\.1\.0\/24/);
      const n2 = hopAt(r.request, 'node-2');
      assert.equal(n2.in, await hostVeth(lab, 'node-2', 'c'));
      assert.equal(n2.out, undefined, 'it left by no interface');
    } finally {
      await exec(ns, 'ip', 'route', 'replace', '10.200.1.0/24', 'via', '192.168.64.5', 'dev', 'eth0');
    }
  });
});

describe('lab trace, same node with a veth pair (real kernel)', { skip: needsRoot }, () => {
  test('a → b over the veth pair: no node in between', async () => {
    const lab = await up(
      'trp',
      `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: pair}
spec:
  sameNode: veth
  nodes: [{name: node-0, ip: 192.168.64.4}]
  pods: [{name: a, node: node-0}, {name: b, node: node-0}]
`,
    );
    const r = await trace(lab, 'a', 'b');
    assertHealthy(r);
    assert.deepEqual(seenOnPath(r.request), ['pod a', 'pod b']);
    assert.ok(hopAt(r.request, 'pod a').out, 'left by its end of the pair');
    assert.ok(hopAt(r.request, 'pod b').delivered);
    assert.deepEqual(seenOnPath(r.reply), ['pod b', 'pod a']);
  });
});
