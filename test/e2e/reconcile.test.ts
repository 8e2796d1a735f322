/**
 * Drift repair on the real kernel, for every cross-node backend and service proxy mode: a lab comes up in
 * sync (reconcile runs zero kernel-changing commands), objects of each kind are deleted by hand inside a node
 * namespace, `lab verify` names each one and fails, `lab reconcile` repairs exactly them, verify passes again
 * (traffic flows), and a foreign route and a foreign nftables table added by hand survive.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cli, needsRoot, netnsWithPrefix, run, uniqueLab } from '../helpers/cli.js';

const labs: string[] = [];
after(async () => {
  for (const l of labs) await cli(['lab', 'down', '--name', l]);
  for (const l of labs) assert.deepEqual(netnsWithPrefix(`${l}-`), [], `lab ${l} left namespaces`);
});

interface VerifyJson {
  failed: number;
  results: { ok: boolean; from: string; to: string; kind: string }[];
  nodes: { node: string; drift: string[] }[];
}
interface ReconcileJson {
  drift: string[];
  commands: number;
  script: string;
}

const env = { PODNET_PROBE_TIMEOUT_S: '5' };
async function verify(lab: string): Promise<{ code: number; r: VerifyJson }> {
  const v = await cli(['lab', 'verify', '--name', lab, '--json'], { env });
  return { code: v.code, r: JSON.parse(v.stdout) as VerifyJson };
}
async function reconcile(lab: string, ...flags: string[]): Promise<ReconcileJson> {
  const r = await cli(['lab', 'reconcile', '--name', lab, '--json', ...flags]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ReconcileJson;
}
async function sh(...argv: string[]): Promise<string> {
  const r = await run(argv);
  assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const BACKENDS = [
  { name: 'host-gw', args: ['--cross-node', 'host-gw'] },
  { name: 'vxlan', args: ['--cross-node', 'vxlan'] },
  { name: 'vxlan multicast', args: ['--cross-node', 'vxlan', '--vxlan-learning', 'multicast'] },
] as const;
const PROXIES = ['nftables', 'iptables', 'none'] as const;

describe('lab reconcile repairs drift (real kernel)', { skip: needsRoot }, () => {
  for (const b of BACKENDS)
    for (const proxy of PROXIES)
      test(`${b.name}, proxy ${proxy}: hand-deleted objects are named, repaired; foreign ones stay`, async () => {
        const lab = uniqueLab(`${b.name.replace(/[^a-z]/g, '').slice(0, 3)}${proxy.slice(0, 2)}`);
        labs.push(lab);
        const up = await cli(['lab', 'up', '--name', lab, ...b.args, '--proxy', proxy]);
        assert.equal(up.code, 0, up.stderr);

        // Healthy: nothing to repair, and reconcile changes nothing.
        const healthy = await reconcile(lab);
        assert.deepEqual(healthy.drift, []);
        assert.equal(healthy.commands, 0, 'zero kernel-changing commands on a healthy lab');

        // Foreign objects, added by hand: podnet owns neither.
        const ns = `${lab}-node-1`;
        await sh('ip', '-n', ns, 'route', 'add', '10.99.0.0/24', 'dev', 'eth0');
        await sh('ip', 'netns', 'exec', ns, 'nft', 'add', 'table', 'inet', 'foreign');
        await sh('ip', 'netns', 'exec', ns, 'nft', 'add', 'chain', 'inet', 'foreign', 'keep');

        // Delete one object of each kind podnet owns on node-1; `expect` is what verify must name.
        const expect: RegExp[] = [];
        await sh('ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=0');
        expect.push(/node-1: sysctl net\.ipv4\.ip_forward = 0, want 1/);
        if (b.name === 'vxlan multicast') {
          await sh('ip', '-n', ns, 'route', 'del', '10.200.0.0/16', 'dev', 'cni0');
          expect.push(/node-1: route 10\.200\.0\.0\/16 dev cni0 missing/);
        } else {
          await sh('ip', '-n', ns, 'route', 'del', '10.200.2.0/24');
          expect.push(/node-1: route 10\.200\.2\.0\/24 via \S+ dev \S+.* missing/);
        }
        if (b.name === 'vxlan') {
          const fdb = JSON.parse(await sh('bridge', '-n', ns, '-j', 'fdb', 'show', 'dev', 'vxlan.1')) as {
            mac: string;
            dst?: string;
          }[];
          const e = fdb.find((f) => f.dst === '192.168.64.4')!;
          await sh('bridge', '-n', ns, 'fdb', 'del', e.mac, 'dev', 'vxlan.1', 'dst', '192.168.64.4');
          expect.push(new RegExp(`node-1: fdb ${e.mac} dev vxlan\\.1 dst 192\\.168\\.64\\.4 missing`));
          await sh('ip', '-n', ns, 'neigh', 'del', '10.200.0.0', 'dev', 'vxlan.1');
          expect.push(/node-1: neighbour 10\.200\.0\.0 dev vxlan\.1 missing/);
        }
        if (proxy !== 'none') {
          await sh('ip', '-n', ns, 'route', 'del', '10.96.0.0/12');
          expect.push(/node-1: route 10\.96\.0\.0\/12 dev cni0 missing/);
        }
        if (proxy === 'nftables') {
          const nft = (...a: string[]) => sh('ip', 'netns', 'exec', ns, 'nft', ...a);
          await nft('delete', 'element', 'ip', 'podnet-services', 'endpoints', '{ 10.96.0.2 . 0x00000001 }');
          expect.push(/node-1: nft endpoints element 10\.96\.0\.2 \. 1 missing/);
          const chain = await nft('-a', 'list', 'chain', 'ip', 'podnet-services', 'postrouting');
          const handle = /egress: pod traffic leaving the cluster CIDR" # handle (\d+)/.exec(chain)![1]!;
          await nft('delete', 'rule', 'ip', 'podnet-services', 'postrouting', 'handle', handle);
          expect.push(/node-1: nft chain postrouting has 2 rule\(s\), want 3 \(missing: 'egress/);
        }
        if (proxy === 'iptables') {
          const ipt = (...a: string[]) => sh('ip', 'netns', 'exec', ns, 'iptables', '-t', 'nat', ...a);
          const saved = await sh('ip', 'netns', 'exec', ns, 'iptables-save', '-t', 'nat');
          const rule = (chain: string, what: string) =>
            saved
              .split('\n')
              .find((l) => l.startsWith(`-A ${chain} `) && l.includes(what))!
              .replace(/^-A /, '')
              .match(/(?:[^\s"]+|"[^"]*")+/g)!
              .map((t) => t.replace(/^"(.*)"$/, '$1'));
          await ipt('-D', ...rule('PODNET-POSTROUTING', 'egress: pod traffic leaving the cluster CIDR'));
          expect.push(/node-1: iptables chain nat\/PODNET-POSTROUTING has 1 podnet rule\(s\), want 2/);
          await ipt('-D', ...rule('PODNET-SERVICES', 'default/web:http cluster IP'));
          expect.push(/node-1: iptables chain nat\/PODNET-SERVICES has \d+ podnet rule\(s\)/);
        }

        // verify names every one of them, and fails.
        const broken = await verify(lab);
        assert.equal(broken.code, 3);
        const lines = broken.r.nodes.flatMap((n) => n.drift);
        for (const re of expect)
          assert.ok(
            lines.some((l) => re.test(l)),
            `verify names ${re}: ${lines.join(' | ')}`,
          );
        assert.ok(
          broken.r.nodes.find((n) => n.node === 'node-0')!.drift.length === 0,
          'node-0 untouched, in sync',
        );

        // A dry run prints the repair and changes nothing.
        const dry = await reconcile(lab, '--dry-run');
        assert.equal(dry.commands, 0);
        assert.deepEqual(dry.drift, lines);
        assert.match(dry.script, /^# node-1: /m);

        // reconcile repairs exactly those; verify passes and traffic flows again.
        const fix = await reconcile(lab);
        assert.deepEqual(fix.drift, lines);
        assert.ok(fix.commands > 0 && fix.commands <= lines.length + 2, `${fix.commands} command(s)`);
        const healed = await verify(lab);
        const bad = healed.r.results.filter((x) => !x.ok).map((x) => `${x.from}>${x.to}:${x.kind}`);
        assert.equal(
          healed.r.failed,
          0,
          `after reconcile: ${bad.join(', ')} ${JSON.stringify(healed.r.nodes)}`,
        );
        assert.equal(healed.code, 0);
        const again = await reconcile(lab);
        assert.equal(again.commands, 0, 'in sync after the repair: zero commands');

        // The foreign route and table are still there.
        assert.match(await sh('ip', '-n', ns, 'route', 'show', '10.99.0.0/24'), /10\.99\.0\.0\/24 dev eth0/);
        assert.match(await sh('ip', 'netns', 'exec', ns, 'nft', 'list', 'tables'), /table inet foreign/);
        assert.equal((await cli(['lab', 'down', '--name', lab])).code, 0);
      });
});
