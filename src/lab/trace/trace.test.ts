import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../errors.js';
import { resolveCluster } from '../../model/resolve.js';
import { natOf, parseConntrackEvent } from '../../observe/conntrack-events.js';
import { LabNames } from '../names.js';
import { loadSpec } from '../spec-source.js';
import { expectedPath } from './expect.js';
import { buildHops, routeFor } from './hops.js';
import { resolveTrace } from './target.js';
import { visitsOf } from './visits.js';

const SPEC = `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: t}
spec:
  crossNode: vxlan
  outside: true
  nodes:
    - {name: node-0, ip: 192.168.64.4}
    - {name: node-1, ip: 192.168.64.5}
    - {name: node-2, ip: 192.168.64.6}
  pods:
    - {name: a0, node: node-0, labels: {app: web}}
    - {name: a1, node: node-0, labels: {app: client}}
    - {name: b, node: node-1, labels: {app: web}}
    - {name: c, node: node-2, labels: {app: client}}
  services:
    - metadata: {name: web}
      spec: {type: NodePort, clusterIP: 10.96.0.2, selector: {app: web}, ports: [{name: http, port: 8080, nodePort: 30080}]}
`;
const cluster = resolveCluster(loadSpec(SPEC, 'test'));
const names = new LabNames('lab');

test('TO resolves a pod, a service by name or address, a NodePort and the outside host', () => {
  const to = (t: string) => resolveTrace(cluster, 'c', t, undefined).target;
  assert.deepEqual([to('b').kind, to('b').ip, to('b').port], ['pod', '10.200.1.2', 8080]);
  assert.deepEqual(
    to('default/web:http').endpoints.map((e) => e.pod),
    ['a0', 'b'],
  );
  assert.equal(to('10.96.0.2:8080').label, 'service default/web:http');
  assert.deepEqual(
    [to('node-1:30080').kind, to('node-1:30080').ip, to('node-1:30080').nodePortNode],
    ['nodeport', '192.168.64.5', 'node-1'],
  );
  assert.deepEqual([to('outside').ip, to('outside').port], ['203.0.113.10', 80]);
  assert.equal(resolveTrace(cluster, 'node-0', 'node-1:30080', undefined).client.ip, '192.168.64.4');
});

test('bad FROM, TO and --proto are all reported at once', () => {
  assert.throws(
    () => resolveTrace(cluster, 'zz', 'default/nope', 'sctp'),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(
        e.issues.map((i) => i.path),
        ['--proto', 'FROM', 'TO'],
      );
      assert.match(e.message, /'zz' is neither a pod nor a node/);
      assert.match(e.message, /no service 'default\/nope'/);
      return true;
    },
  );
  assert.throws(() => resolveTrace(cluster, 'c', 'default/web', 'icmp'), /a ClusterIP answers no ICMP/);
});

test('expected path across VXLAN: client pod, its node, the tunnel both ends, the endpoint node and pod', () => {
  const req = resolveTrace(cluster, 'c', 'default/web:http', undefined);
  const p = expectedPath(cluster, names, req, req.target.endpoints[1]);
  assert.deepEqual(
    p.request.map((s) => `${s.place}/${s.layer}`),
    [
      'pod c/inner',
      'node-2/inner',
      'node-2/outer',
      'switch/outer',
      'node-1/outer',
      'node-1/inner',
      'pod b/inner',
    ],
  );
  assert.match(p.request[1]!.expect, /DNAT 10\.96\.0\.2:8080 to one of a0, b/);
  assert.deepEqual(
    p.reply.map((s) => s.place),
    ['pod b', 'node-1', 'node-1', 'switch', 'node-2', 'node-2', 'pod c'],
  );
});

test('conntrack events: the tuples and the NAT they imply', () => {
  const e = parseConntrackEvent(
    '    [NEW] tcp      6 120 SYN_SENT src=10.200.2.2 dst=10.96.0.2 sport=40555 dport=8080 [UNREPLIED] src=10.200.1.2 dst=10.200.2.2 sport=8080 dport=40555',
  );
  assert.deepEqual(natOf(e!), { dnat: { src: '10.200.2.2', dst: '10.200.1.2', sport: 40555, dport: 8080 } });
  const m = parseConntrackEvent(
    ' [NEW] tcp 6 120 SYN_SENT src=10.200.0.3 dst=192.168.64.5 sport=44658 dport=30080 [UNREPLIED] src=192.168.64.5 dst=192.168.64.4 sport=30080 dport=5752',
  );
  assert.deepEqual(natOf(m!).snat, { src: '192.168.64.4', dst: '192.168.64.5', sport: 5752, dport: 30080 });
  const i = parseConntrackEvent(
    ' [NEW] icmp 1 30 src=10.200.2.2 dst=10.200.1.2 type=8 code=0 id=7 [UNREPLIED] src=10.200.1.2 dst=10.200.2.2 type=0 code=0 id=7',
  );
  assert.deepEqual(natOf(i!), {});
});

test('routes: the longest prefix wins, the default route last', () => {
  const rs = [
    { dst: 'default', gateway: '192.168.64.1', dev: 'eth0', flags: [] },
    { dst: '10.200.0.0/24', gateway: '10.200.0.0', dev: 'vxlan.1', flags: ['onlink'] },
    { dst: '10.200.0.0/16', dev: 'cni0', flags: [] },
  ];
  assert.equal(routeFor(rs, '10.200.0.7')?.dev, 'vxlan.1');
  assert.equal(routeFor(rs, '10.200.9.7')?.dev, 'cni0');
  assert.equal(routeFor(rs, '8.8.8.8')?.dst, 'default');
  assert.equal(routeFor(rs.slice(1), '8.8.8.8'), undefined);
});

// A namespace's monitor lines as nft 1.0.6 printed them (node-2, c → 10.96.0.2:8080, shortened headers).
const T = 'podnet-trace-p1x1';
const NODE2 = [
  `trace id 16930d1e bridge ${T} trace-pre packet: iif "veth-c" ether saddr f6:39:0e:b3:a1:63 ether daddr 2a:02:13:62:70:f4 ip saddr 10.200.2.2 ip daddr 10.96.0.2 ip ttl 64 ip id 45019 ip protocol tcp ip length 60 tcp sport 40123 tcp dport 8080 tcp flags == syn tcp window 64860`,
  `trace id 16930d1e bridge ${T} trace-pre rule ip saddr 10.200.2.2 tcp sport 40123 tcp flags syn,rst meta nftrace set 1 comment "request" # handle 5 (verdict continue)`,
  `trace id 16930d1e inet ${T} trace-pre packet: iif "cni0" ip saddr 10.200.2.2 ip daddr 10.96.0.2 ip ttl 64 ip id 45019 ip protocol tcp ip length 60 tcp sport 40123 tcp dport 8080 tcp flags == syn`,
  `trace id 16930d1e inet ${T} trace-pre rule ip saddr 10.200.2.2 tcp sport 40123 tcp flags syn,rst meta nftrace set 1 comment "request" # handle 6 (verdict continue)`,
  'trace id 16930d1e ip podnet-services services rule meta mark vmap @classes # handle 81 (verdict goto pick-2)',
  'trace id 16930d1e ip podnet-services pick-2 rule meta l4proto { tcp, udp } dnat ip to ip daddr . meta mark map @endpoints # handle 18 (verdict accept)',
  `trace id 4ec4bcc0 inet ${T} seen-fwd packet: iif "cni0" oif "vxlan.1" ip saddr 10.200.2.2 ip daddr 10.200.0.2 ip ttl 63 ip id 45019 ip protocol tcp ip length 60 tcp sport 40123 tcp dport 8080 tcp flags == syn`,
  `trace id 4ec4bcc0 inet ${T} seen-post packet: iif "cni0" oif "vxlan.1" ip saddr 10.200.2.2 ip daddr 10.200.0.2 ip ttl 63 ip id 45019 ip protocol tcp ip length 60 tcp sport 40123 tcp dport 8080 tcp flags == syn`,
  `trace id b004b43d inet ${T} trace-out packet: oif "eth0" ip saddr 192.168.64.6 ip daddr 192.168.64.4 ip ttl 64 ip id 14621 ip protocol udp ip length 110 udp sport 51641 udp dport 4789 udp length 90 @th,64,96 0x8000000000001002aa66e4b`,
  `trace id b004b43d inet ${T} trace-out rule udp dport 4789 @th,336,32 0xac80202 @th,400,16 0x9cbb meta nftrace set 1 comment "request" # handle 28 (verdict continue)`,
  `trace id b004b43d inet ${T} seen-post packet: iif "vxlan.1" oif "eth0" ip saddr 192.168.64.6 ip daddr 192.168.64.4 ip ttl 64 ip id 14621 ip protocol udp ip length 110 udp sport 51641 udp dport 4789 udp length 90 @th,64,96 0x8000000000001002aa66e4b`,
];

test('visits: one per packet per namespace, joined across trace ids by the IP id; NAT rules kept', () => {
  const vs = visitsOf('lab-node-2', NODE2, T, 4789);
  assert.deepEqual(
    vs.map((v) => `${v.direction}/${v.layer}/${v.seen.map((s) => `${s.family}:${s.hook}`).join(',')}`),
    [
      'request/inner/bridge:prerouting,inet:prerouting,inet:forward,inet:postrouting',
      'request/outer/inet:output,inet:postrouting',
    ],
  );
  assert.deepEqual(
    vs[0]!.rules.map((r) => r.verdict),
    ['goto pick-2', 'accept'],
  );
});

test('hops: DNAT named with its service, endpoint and rule; the route; VXLAN with VNI and outer addresses', () => {
  const req = resolveTrace(cluster, 'c', 'default/web:http', undefined);
  const visits = visitsOf('lab-node-2', NODE2, T, 4789);
  const expected = expectedPath(cluster, names, req, req.target.endpoints[0]);
  const hops = buildHops({
    names,
    req,
    visits,
    expected,
    routes: new Map([
      ['lab-node-2', [{ dst: '10.200.0.0/24', gateway: '10.200.0.0', dev: 'vxlan.1', flags: ['onlink'] }]],
    ]),
    sockets: new Map(),
    clientNs: 'lab-pod-c',
    vxlanDevice: 'vxlan.1',
  });
  const [c, n2, outer] = hops.request;
  assert.equal(c!.seen, false, 'pod c was not observed in this fixture');
  assert.deepEqual(hops.missing?.place, 'pod c');
  assert.deepEqual(n2!.dnat, {
    from: { ip: '10.96.0.2', port: 8080 },
    to: { ip: '10.200.0.2', port: 8080 },
    endpoint: 'a0',
    rule: 'podnet-services pick-2 handle 18',
  });
  assert.equal(n2!.route, '10.200.0.0/24 via 10.200.0.0 dev vxlan.1 onlink');
  assert.deepEqual([n2!.in, n2!.out], ['veth-c', 'vxlan.1']);
  assert.deepEqual(outer!.vxlan, {
    vni: 1,
    src: '192.168.64.6',
    dst: '192.168.64.4',
    sport: 51641,
    dport: 4789,
  });
  assert.match(
    outer!.actions[0]!,
    /^encapsulated by vxlan\.1: VNI 1, outer 192\.168\.64\.6:51641 → 192\.168\.64\.4:4789/,
  );
  assert.deepEqual(
    hops.request.filter((h) => h.seen).map((h) => h.n),
    [1, 2],
  );
});

test('explain --walk: one numbered walk per endpoint, from the model alone', async () => {
  const { walkText } = await import('./walk.js');
  const w = walkText(cluster, 'lab', 'c', 'default/web:http');
  assert.match(w, /^walk c → default\/web:http: service default\/web:http \(10\.96\.0\.2:8080, tcp\)/);
  assert.match(w, /if the service picks a0 \(10\.200\.0\.2 on node-0\):\n {3}1\. pod c: sent by eth0/);
  assert.match(
    w,
    / {3}3\. node-2 \(outer packet\): encapsulated: VXLAN VNI 1, 192\.168\.64\.6 → 192\.168\.64\.5:4789/,
  );
  assert.equal((w.match(/^ {3}7\. pod (a0|b): delivered to :8080$/gm) ?? []).length, 2);
});
