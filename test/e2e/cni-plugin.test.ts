import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, run } from '../helpers/cli.js';
import {
  CNI_MODES,
  type CniAgent,
  type CniDirs,
  cniTestEnv,
  installPlugin,
  invoke,
  linksIn,
  netnsAdd,
  netnsDel,
  PFX,
  pluginConf,
  podnetVeths,
  pool,
  processesInNetns,
  reservations,
  rmrf,
  startCniAgent,
  strayFiles,
} from '../helpers/cni.js';

/**
 * The installed plugin against the real kernel, inside a namespace standing for the node: every verb,
 * rollback, 200 ADD/DEL 50 at a time, 50 ADDs SIGKILLed at random points, and a corpus of bad inputs. Twice:
 * without an agent (the client execs the Node.js plugin) and with the agent's CNI server answering.
 */
const skip = cniTestEnv();
const NODE = `${PFX}-rn`;
const NET = `${PFX}r`;
const BR = `${PFX}br`.slice(0, 15);
const WORKERS = 50;
const pods = Array.from({ length: WORKERS }, (_, i) => `${PFX}-r${i}`);
let d: CniDirs;
let conf: string;

const envFor = (cmd: string, cid: string, ns: string | undefined, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: cmd,
  CNI_CONTAINERID: cid,
  CNI_NETNS: ns ? `/run/netns/${ns}` : '',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${cid}`,
  ...extra,
});

/** Everything the plugin may leave behind: reservations, temp files, host veths, pod interfaces. */
function state(): { reservations: string[]; stray: string[]; veths: string[]; podIfs: number } {
  return {
    reservations: reservations(d.ipam, NET),
    stray: strayFiles(d.ipam, NET),
    veths: podnetVeths(NODE),
    podIfs: pods.filter((p) => linksIn(p).includes('eth0')).length,
  };
}
const CLEAN = { reservations: [], stray: [], veths: [], podIfs: 0 };

async function settle(): Promise<void> {
  // Children of killed plugins (ip, flock) may still be finishing in the node namespace.
  for (let i = 0; i < 100 && processesInNetns(NODE).length > 0; i++) await sleep(50);
}

for (const mode of CNI_MODES) {
  describe(`CNI plugin on the real kernel, ${mode}`, { skip }, () => {
    let agent: CniAgent | undefined;
    before(async () => {
      d = await installPlugin({ name: NET, subnet: '10.244.60.0/24', bridge: BR });
      conf = pluginConf(d, NET);
      netnsAdd(NODE);
      for (const p of pods) netnsAdd(p);
      if (mode === 'agent') agent = await startCniAgent(d, NODE);
    });
    after(async () => {
      await agent?.stop();
      for (const p of pods) netnsDel(p);
      netnsDel(`${PFX}-gone`);
      netnsDel(NODE);
      if (d) rmrf(d.root);
    });

    test('ADD, CHECK, duplicate ADD, tampering seen by CHECK, DEL twice, DEL with the netns gone', async () => {
      const ns = pods[0]!;
      const add = await invoke(d.plugin, NODE, envFor('ADD', 'life1', ns), conf);
      assert.equal(add.code, 0, add.stdout + add.stderr);
      assert.equal(add.json!.cniVersion, '1.0.0');
      const ip = add.json!.ips![0]!.address;
      assert.match(ip, /^10\.244\.60\.\d+\/24$/);
      const addrs = execFileSync('ip', ['-n', ns, '-j', 'addr', 'show', 'eth0'], { encoding: 'utf8' });
      assert.ok(addrs.includes(ip.split('/')[0]!), 'the pod has its address');
      // The gateway answers from inside the pod: bridge, veth and route all work.
      execFileSync('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '2', '10.244.60.1']);
      // The host end is a port of our bridge with hairpin on (install writes hairpinMode: true).
      const hostIf = (add.json!.interfaces as { name: string }[])[1]!.name;
      const port = JSON.parse(
        execFileSync('ip', ['-n', NODE, '-d', '-j', 'link', 'show', hostIf], { encoding: 'utf8' }),
      )[0];
      assert.equal(port.master, BR);
      assert.equal(port.linkinfo.info_slave_data.hairpin, true);

      const prev = JSON.stringify({ ...JSON.parse(conf), prevResult: add.json });
      const check = await invoke(d.plugin, NODE, envFor('CHECK', 'life1', ns), prev);
      assert.equal(check.code, 0, check.stdout);
      assert.equal(check.stdout, '');

      const again = await invoke(d.plugin, NODE, envFor('ADD', 'life1', ns), conf);
      assert.equal(again.json!.code, 100, again.stdout);
      const other = await invoke(d.plugin, NODE, envFor('ADD', 'life2', ns), conf);
      assert.equal(other.json!.code, 100, 'eth0 already exists in that netns');
      assert.match(other.json!.msg!, /interface 'eth0' already exists/);
      assert.equal(reservations(d.ipam, NET).length, 1, 'the failed ADD left no reservation');

      execFileSync('ip', ['-n', ns, 'addr', 'flush', 'dev', 'eth0']);
      const bad = await invoke(d.plugin, NODE, envFor('CHECK', 'life1', ns), prev);
      assert.equal(bad.json!.code, 102);
      assert.match(bad.json!.msg!, /address 10\.244\.60\.\d+\/24 is missing/);

      for (const e of [envFor('DEL', 'life1', ns), envFor('DEL', 'life1', undefined)]) {
        const del = await invoke(d.plugin, NODE, e, prev);
        assert.equal(del.code, 0, del.stdout);
      }
      assert.deepEqual(state(), CLEAN);

      // containerd after a reboot: the netns file is gone, DEL must still release everything.
      const gone = `${PFX}-gone`;
      netnsAdd(gone);
      const a2 = await invoke(d.plugin, NODE, envFor('ADD', 'life3', gone), conf);
      assert.equal(a2.code, 0, a2.stdout);
      netnsDel(gone);
      const del = await invoke(d.plugin, NODE, envFor('DEL', 'life3', gone), conf);
      assert.equal(del.code, 0, del.stdout);
      assert.deepEqual(state(), CLEAN);
    });

    test('in-process netlink by default; PODNET_CNI_NO_NETLINK=1 runs ip processes with the same outcome', async () => {
      const ns = pods[1]!;
      const results: unknown[] = [];
      for (const [cid, extra, how] of [
        ['nl1', {}, /in-process over netlink/],
        ['ip1', { PODNET_CNI_NO_NETLINK: '1' }, /through ip processes/],
      ] as const) {
        const trace = { PODNET_CNI_TRACE: '1', ...extra };
        const add = await invoke(d.plugin, NODE, envFor('ADD', cid, ns, trace), conf);
        assert.equal(add.code, 0, add.stdout + add.stderr);
        assert.match(add.stderr, how);
        execFileSync('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '2', '10.244.60.1']);
        const prev = JSON.stringify({ ...JSON.parse(conf), prevResult: add.json });
        const check = await invoke(d.plugin, NODE, envFor('CHECK', cid, ns, extra), prev);
        assert.equal(check.code, 0, check.stdout);
        const del = await invoke(d.plugin, NODE, envFor('DEL', cid, ns, trace), prev);
        assert.equal(del.code, 0, del.stdout);
        assert.match(del.stderr, how);
        assert.deepEqual(state(), CLEAN);
        const { ips, interfaces } = add.json as {
          ips: { address: string }[];
          interfaces: { name: string }[];
        };
        results.push({
          ips: ips.map((i) => i.address.replace(/\d+\//, 'N/')),
          interfaces: interfaces.length,
        });
      }
      assert.deepEqual(results[0], results[1]);

      // The Node.js plugin loads the addon installed beside its code; one that does not load is reported and the
      // plugin runs `ip` processes instead, with the same result.
      if (mode === 'agent') return;
      const addon = join(d.bin, 'podnet.d', 'netlink.node');
      const good = readFileSync(addon);
      writeFileSync(addon, 'damaged');
      try {
        const trace = { PODNET_CNI_TRACE: '1' };
        const add = await invoke(d.plugin, NODE, envFor('ADD', 'heal1', ns, trace), conf);
        assert.equal(add.code, 0, add.stdout + add.stderr);
        assert.match(add.stderr, /in-process netlink unavailable, running ip instead: .*netlink\.node/);
        assert.match(add.stderr, /kernel changes through ip processes/);
        assert.equal((await invoke(d.plugin, NODE, envFor('DEL', 'heal1', ns), conf)).code, 0);
        assert.deepEqual(state(), CLEAN);
      } finally {
        writeFileSync(addon, good);
      }
      const add = await invoke(d.plugin, NODE, envFor('ADD', 'heal2', ns, { PODNET_CNI_TRACE: '1' }), conf);
      assert.equal(add.code, 0, add.stdout + add.stderr);
      assert.match(add.stderr, /in-process over netlink/);
      assert.equal((await invoke(d.plugin, NODE, envFor('DEL', 'heal2', ns), conf)).code, 0);
      assert.deepEqual(state(), CLEAN);
    });

    test('ADD and DEL load only what they need: no child_process, net, crypto, perf_hooks or streams', async () => {
      // A preload (NODE_OPTIONS) records which of Node's own modules the plugin process loaded by the time it exits,
      // and every pathToFileURL call: the bundle's import.meta.url getter makes one, so it must not run on a verb.
      const preload = join(d.root, 'modules.cjs');
      const out = join(d.root, 'modules.txt');
      writeFileSync(
        preload,
        `const url = require('node:url'); const p = url.pathToFileURL; let calls = 0;\n` +
          `url.pathToFileURL = (...a) => { calls++; return p(...a); };\n` +
          `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, [\`pathToFileURL \${calls}\`, ...process.moduleLoadList].join('\\n')));\n`,
      );
      // What Node.js loads for an empty script, in the same environment, is the baseline.
      const empty = join(d.root, 'empty.js');
      writeFileSync(empty, '');
      execFileSync(process.execPath, [empty], {
        env: { PATH: process.env.PATH, NODE_OPTIONS: `--require ${preload}` },
      });
      const baseline = new Set(readFileSync(out, 'utf8').split('\n'));
      const heavy = /^NativeModule (child_process|net|crypto|perf_hooks|stream|internal\/streams\/.*)$/;
      const ns = pods[2]!;
      for (const verb of ['ADD', 'DEL']) {
        rmSync(out, { force: true });
        const r = await invoke(
          d.plugin,
          NODE,
          envFor(verb, 'mods1', ns, { NODE_OPTIONS: `--require ${preload}` }),
          conf,
        );
        assert.equal(r.code, 0, r.stdout + r.stderr);
        if (mode === 'agent') {
          assert.ok(!existsSync(out), `${verb}: the agent answered, no Node.js process started`);
          continue;
        }
        const loaded = readFileSync(out, 'utf8').split('\n');
        assert.ok(loaded.length > 20, 'the module list was recorded');
        assert.equal(
          loaded[0],
          'pathToFileURL 0',
          `${verb} computed a file URL (import.meta.url read at load?)`,
        );
        assert.deepEqual(
          loaded.filter((m) => heavy.test(m) && !baseline.has(m)),
          [],
          `${verb} loaded modules it does not need`,
        );
      }
      assert.deepEqual(state(), CLEAN);
    });

    const noNode = mode === 'agent' && 'the agent answers every verb: no Node.js process, no code cache';
    test(
      "code cache: written after a verb's first and second runs, then reused; a corrupt one is replaced",
      { skip: noNode },
      async () => {
        const dir = join(d.root, 'code-cache');
        const caches = () => readdirSync(dir).filter((f) => /-VERSION(\.first)?\.code-cache$/.test(f));
        const version = async (plugin = d.plugin) => {
          const r = await invoke(plugin, NODE, { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.equal(r.json!.cniVersion, '1.0.0');
          assert.equal(r.stderr, '', 'nothing on stderr (node started --jitless warns unless told not to)');
        };
        await version();
        const [first] = caches();
        assert.ok(
          first?.endsWith('.first.code-cache'),
          `the first VERSION wrote its first cache: ${caches()}`,
        );
        await version();
        const [file] = caches();
        assert.ok(
          file && !file.includes('.first'),
          `the second VERSION wrote the lasting cache: ${caches()}`,
        );
        assert.equal(caches().length, 1, 'and removed the first one');
        const written = statSync(join(dir, file)).mtimeMs;
        await version();
        assert.equal(statSync(join(dir, file)).mtimeMs, written, 'the third run read it and left it alone');
        writeFileSync(join(dir, file), 'not a code cache');
        await version();
        assert.ok(statSync(join(dir, file)).size > 1000, 'the corrupt cache was rejected and written anew');
        assert.deepEqual(caches(), [file]);

        // The client starts node --jitless; the plugin run through its #! line (no --jitless) keeps a cache of
        // its own instead of replacing the client's (V8 rejects a cache made under other flags).
        const own = statSync(join(dir, file)).mtimeMs;
        const jit = () => readdirSync(dir).filter((f) => /-VERSION\.jit(\.first)?\.code-cache$/.test(f));
        await version(join(d.bin, 'podnet.d', 'plugin'));
        await version(join(d.bin, 'podnet.d', 'plugin'));
        assert.deepEqual(
          jit(),
          [file.replace('.code-cache', '.jit.code-cache')],
          'direct runs: a cache of their own',
        );
        await version();
        assert.equal(
          statSync(join(dir, file)).mtimeMs,
          own,
          "and the client's cache was read and left alone",
        );

        // Installing again removes caches of other code (a replaced plugin), and keeps the current one.
        const stale = 'cni-0123456789abcdef-ADD.code-cache';
        writeFileSync(join(dir, stale), 'old');
        // Code files of two replaced plugins: the newest replaced one stays (a plugin process may be about to read
        // it), older ones go.
        const home = join(d.bin, 'podnet.d');
        const codes = () =>
          readdirSync(home)
            .filter((f) => /^code-[0-9a-f]{16}\.js$/.test(f))
            .sort();
        const [current] = codes();
        assert.ok(current && codes().length === 1, `one code file: ${codes()}`);
        for (const [f, age] of [
          ['code-00000000000000aa.js', 60],
          ['code-00000000000000bb.js', 30],
        ] as const) {
          writeFileSync(join(home, f), '(function(){})');
          const t = Date.now() / 1000 - age;
          utimesSync(join(home, f), t, t);
        }
        const again = await run([
          'node',
          join(ROOT, 'bin', 'podnet.js'),
          'cni',
          'install',
          ...['--bin-dir', d.bin, '--conf-dir', d.netd, '--data-dir', d.ipam, '--code-cache-dir', dir],
          ...['--name', NET, '--subnet', '10.244.60.0/24', '--bridge', BR],
        ]);
        assert.equal(again.code, 0, again.stderr);
        assert.ok(!readdirSync(dir).includes(stale), 'the stale cache is gone');
        assert.deepEqual(codes(), ['code-00000000000000bb.js', current].sort());
        assert.match(
          readFileSync(join(home, 'plugin'), 'utf8'),
          new RegExp(`/${current.replace('.', '\\.')}`),
        );
        assert.deepEqual(caches(), [file]);
      },
    );

    test('STATUS is ready; VERSION lists 0.3.0 to 1.1.0; a 0.4.0 config gets a 0.4.0 result', async () => {
      const st = await invoke(d.plugin, NODE, { CNI_COMMAND: 'STATUS' }, conf);
      assert.equal(st.code, 0, st.stdout);
      const v = await invoke(d.plugin, NODE, { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.1.0"}');
      assert.deepEqual(v.json!.supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
      const old = JSON.stringify({ ...JSON.parse(conf), cniVersion: '0.4.0' });
      const add = await invoke(d.plugin, NODE, envFor('ADD', 'v04', pods[1]), old);
      assert.equal(add.json!.cniVersion, '0.4.0');
      assert.equal((add.json!.ips as unknown as { version: string }[])[0]!.version, '4');
      assert.equal((await invoke(d.plugin, NODE, envFor('DEL', 'v04', pods[1]), old)).code, 0);
      assert.deepEqual(state(), CLEAN);
    });

    test('ipMasq: the first ADD of a network installs its masquerade table in the node netns', async () => {
      const masq = JSON.stringify({
        ...JSON.parse(conf),
        name: `${NET}m`,
        bridge: `${BR.slice(0, 13)}m`,
        subnet: '10.244.59.0/24',
        ipMasq: true,
      });
      const add = await invoke(d.plugin, NODE, envFor('ADD', 'masq1', pods[4]), masq);
      assert.equal(add.code, 0, add.stdout + add.stderr);
      const nft = execFileSync('ip', ['netns', 'exec', NODE, 'nft', 'list', 'ruleset'], { encoding: 'utf8' });
      assert.match(nft, /table ip podnet_cni_[0-9a-f]{8} \{/);
      assert.match(nft, /ip saddr 10\.244\.59\.0\/24 ip daddr != 10\.244\.59\.0\/24 masquerade/);
      assert.equal((await invoke(d.plugin, NODE, envFor('DEL', 'masq1', pods[4]), masq)).code, 0);
      assert.deepEqual(reservations(d.ipam, `${NET}m`), []);
    });

    test('rangeStart/rangeEnd: 3 addresses handed out inside the range, the 4th ADD is code 101 and leaves nothing', async () => {
      const net = `${NET}s`;
      const ranged = JSON.stringify({
        ...JSON.parse(conf),
        name: net,
        bridge: `${BR.slice(0, 13)}s`,
        subnet: '10.244.58.0/24',
        rangeStart: '10.244.58.10',
        rangeEnd: '10.244.58.12',
      });
      const inRange = (a: string) => /^10\.244\.58\.(10|11|12)$/.test(a);
      const used = [pods[5]!, pods[6]!, pods[7]!];
      const results = [];
      for (const [i, ns] of used.entries()) {
        const add = await invoke(d.plugin, NODE, envFor('ADD', `rng${i}`, ns), ranged);
        assert.equal(add.code, 0, add.stdout + add.stderr);
        const ip = add.json!.ips![0]!.address.split('/')[0]!;
        assert.ok(inRange(ip), `result address ${ip} is inside rangeStart..rangeEnd`);
        // The kernel agrees: the pod's eth0 holds exactly that address.
        const addrs = JSON.parse(
          execFileSync('ip', ['-n', ns, '-4', '-j', 'addr', 'show', 'eth0'], { encoding: 'utf8' }),
        )[0].addr_info.map((a: { local: string }) => a.local);
        assert.deepEqual(addrs, [ip]);
        results.push(add.json);
      }
      const got = results.map((r) => r!.ips![0]!.address).sort();
      assert.deepEqual(got, ['10.244.58.10/24', '10.244.58.11/24', '10.244.58.12/24']);
      const veths = podnetVeths(NODE).sort();
      const st = await invoke(d.plugin, NODE, { CNI_COMMAND: 'STATUS' }, ranged);
      assert.equal(st.json?.code, 50, `STATUS counts only the range: ${st.stdout}`);

      const extra = pods[8]!;
      const fourth = await invoke(d.plugin, NODE, envFor('ADD', 'rng3', extra), ranged);
      assert.equal(fourth.code, 1, fourth.stdout);
      assert.equal(fourth.json!.code, 101, fourth.stdout);
      assert.match(
        fourth.json!.msg!,
        /no free address in 10\.244\.58\.10-10\.244\.58\.12 of 10\.244\.58\.0\/24/,
      );
      assert.deepEqual(reservations(d.ipam, net), ['10.244.58.10', '10.244.58.11', '10.244.58.12']);
      assert.deepEqual(strayFiles(d.ipam, net), []);
      assert.deepEqual(podnetVeths(NODE).sort(), veths, 'the failed ADD left no host veth');
      assert.deepEqual(linksIn(extra), ['lo'], 'the failed ADD left nothing in the pod netns');

      for (const [i, ns] of used.entries()) {
        const prev = JSON.stringify({ ...JSON.parse(ranged), prevResult: results[i] });
        const del = await invoke(d.plugin, NODE, envFor('DEL', `rng${i}`, ns), prev);
        assert.equal(del.code, 0, del.stdout);
      }
      assert.deepEqual(reservations(d.ipam, net), []);
      assert.deepEqual(podnetVeths(NODE), []);
      assert.deepEqual(
        used.filter((p) => linksIn(p).includes('eth0')),
        [],
      );
    });

    test(
      'bin/podnet.js (the CLI entry) acts as the plugin when CNI_COMMAND is set',
      { skip: mode === 'agent' && 'the CLI entry is the Node.js plugin; it does not ask the agent' },
      async () => {
        const entry = join(ROOT, 'bin', 'podnet.js');
        const add = await invoke(entry, NODE, envFor('ADD', 'viacli', pods[3]), conf);
        assert.equal(add.code, 0, add.stdout + add.stderr);
        assert.match(add.json!.ips![0]!.address, /^10\.244\.60\.\d+\/24$/);
        const del = await invoke(entry, NODE, envFor('DEL', 'viacli', pods[3]), conf);
        assert.equal(del.code, 0, del.stdout);
        assert.deepEqual(state(), CLEAN);
      },
    );

    test(
      '200 ADD/DEL, 50 at a time: no address is ever held twice, nothing leaks',
      { timeout: 300_000 },
      async () => {
        const held = new Map<string, string>();
        const duplicates: string[] = [];
        const failures: string[] = [];
        const items = Array.from({ length: 200 }, (_, i) => i);
        let worker = 0;
        const free = [...pods];
        await pool(items, WORKERS, async (i) => {
          const ns = free.pop()!;
          worker++;
          const cid = `load${i}`;
          const add = await invoke(d.plugin, NODE, envFor('ADD', cid, ns), conf);
          if (add.code !== 0) failures.push(`ADD ${cid}: ${add.stdout}${add.stderr}`);
          else {
            const ip = add.json!.ips![0]!.address;
            if (held.has(ip)) duplicates.push(`${ip} held by ${held.get(ip)} and ${cid}`);
            held.set(ip, cid);
            const del = await invoke(
              d.plugin,
              NODE,
              envFor('DEL', cid, ns),
              JSON.stringify({ ...JSON.parse(conf), prevResult: add.json }),
            );
            held.delete(ip);
            if (del.code !== 0) failures.push(`DEL ${cid}: ${del.stdout}`);
          }
          free.push(ns);
        });
        assert.deepEqual(failures, []);
        assert.deepEqual(duplicates, []);
        assert.equal(worker, 200);
        assert.deepEqual(state(), CLEAN);
      },
    );

    test(
      '50 ADDs SIGKILLed at random points: DEL and GC leave nothing, and the lock is free',
      { timeout: 300_000 },
      async (t) => {
        const kill = async (i: number) => {
          const delay = Math.floor(Math.random() * 150);
          // With the agent, half the clients live to see the agent die (the other half are killed, as without it).
          const spare = mode === 'agent' && i % 2 === 0;
          return invoke(d.plugin, NODE, envFor('ADD', `kill${i}`, pods[i]!), conf, (pid) => {
            if (spare) return;
            setTimeout(() => {
              try {
                process.kill(pid, 'SIGKILL');
              } catch {}
            }, delay);
          });
        };
        // With the agent, the agent itself is SIGKILLed too, in the middle of the burst: the ADDs it had accepted
        // answer error 11 (try again) and leave what a killed plugin leaves; the rest run the Node.js plugin.
        // It dies once a few ADDs have reserved their address, so others are surely in flight in it.
        const agentKill =
          agent &&
          (async () => {
            for (let i = 0; i < 2000 && reservations(d.ipam, NET).length < 5; i++) await sleep(5);
            await agent!.kill();
          })();
        const results = await Promise.all(pods.map((_, i) => kill(i)));
        await agentKill;
        const killed = results.filter((r) => r.code === 128).length;
        await settle();
        if (mode === 'agent') {
          const count = (f: (r: (typeof results)[number]) => boolean) => results.filter(f).length;
          t.diagnostic(
            `agent SIGKILLed mid-burst: ${count((r) => r.code === 0)} ADDs answered (by the agent or the fallback plugin), ${count((r) => r.json?.code === 11)} told to try again, ${killed} clients killed`,
          );
          const unexpected = results.filter((r) => r.code !== 0 && r.code !== 128 && r.json?.code !== 11);
          assert.deepEqual(
            unexpected,
            [],
            'an ADD is answered, killed, or told to try again (11); nothing else',
          );
          agent = await startCniAgent(d, NODE);
        }
        // Half are cleaned up the normal way (the runtime's DEL after a failed ADD) ...
        for (let i = 0; i < WORKERS / 2; i++) {
          const del = await invoke(d.plugin, NODE, envFor('DEL', `kill${i}`, pods[i]!), conf);
          assert.equal(del.code, 0, del.stdout);
        }
        // ... the rest by GC, which keeps one attachment that is still valid.
        const keep = await invoke(d.plugin, NODE, envFor('ADD', 'keeper', pods[0]!), conf);
        assert.equal(keep.code, 0, `lock must not be stuck: ${keep.stdout}`);
        const gcConf = JSON.stringify({
          ...JSON.parse(conf),
          cniVersion: '1.1.0',
          'cni.dev/valid-attachments': [{ containerID: 'keeper', ifname: 'eth0' }],
        });
        const gc = await invoke(d.plugin, NODE, { CNI_COMMAND: 'GC' }, gcConf);
        assert.equal(gc.code, 0, gc.stdout);
        assert.deepEqual(reservations(d.ipam, NET), [keep.json!.ips![0]!.address.split('/')[0]]);
        assert.equal(podnetVeths(NODE).length, 1);
        assert.equal((await invoke(d.plugin, NODE, envFor('DEL', 'keeper', pods[0]!), conf)).code, 0);
        assert.deepEqual(state(), CLEAN, `after ${killed} kills`);
        assert.ok(killed > 0, 'some ADDs were really killed');
      },
    );

    test('bad inputs: each is a CNI error with the right code, and nothing changes', async () => {
      const ns = pods[2]!;
      const notNs = join(d.root, 'not-a-netns');
      writeFileSync(notNs, 'x');
      const c = JSON.parse(conf);
      const cases: {
        what: string;
        env: Record<string, string>;
        stdin?: string;
        code: number;
        msg: RegExp;
      }[] = [
        { what: 'no CNI_COMMAND', env: { CNI_COMMAND: '' }, code: 4, msg: /CNI_COMMAND/ },
        { what: 'no container id', env: envFor('ADD', '', ns), code: 4, msg: /CNI_CONTAINERID is required/ },
        { what: 'no netns', env: envFor('ADD', 'x1', undefined), code: 4, msg: /CNI_NETNS is required/ },
        {
          what: 'no ifname',
          env: { ...envFor('ADD', 'x1', ns), CNI_IFNAME: '' },
          code: 4,
          msg: /CNI_IFNAME is required/,
        },
        {
          what: 'path separator in id',
          env: envFor('ADD', '../../etc/passwd', ns),
          code: 4,
          msg: /CNI_CONTAINERID/,
        },
        { what: 'slash in id', env: envFor('ADD', 'a/b', ns), code: 4, msg: /CNI_CONTAINERID/ },
        {
          what: 'shell metachars in id',
          env: envFor('ADD', '$(touch /tmp/pwn);x', ns),
          code: 4,
          msg: /CNI_CONTAINERID/,
        },
        {
          what: 'ifname too long',
          env: { ...envFor('ADD', 'x1', ns), CNI_IFNAME: 'eth0-way-too-long' },
          code: 4,
          msg: /at most 15/,
        },
        {
          what: 'ifname with slash',
          env: { ...envFor('ADD', 'x1', ns), CNI_IFNAME: 'a/b' },
          code: 4,
          msg: /CNI_IFNAME/,
        },
        {
          what: 'netns not a netns',
          env: { ...envFor('ADD', 'x1', ns), CNI_NETNS: notNs },
          code: 4,
          msg: /not a network namespace/,
        },
        {
          what: 'netns missing',
          env: { ...envFor('ADD', 'x1', ns), CNI_NETNS: '/run/netns/nope-nope' },
          code: 4,
          msg: /not a network namespace/,
        },
        {
          what: 'uts ns, not net',
          env: { ...envFor('ADD', 'x1', ns), CNI_NETNS: '/proc/self/ns/uts' },
          code: 103,
          msg: /cannot attach/,
        },
        {
          what: 'bad CNI_ARGS',
          env: { ...envFor('ADD', 'x1', ns), CNI_ARGS: 'novalue' },
          code: 4,
          msg: /not KEY=VALUE/,
        },
        {
          what: 'bad JSON',
          env: envFor('ADD', 'x1', ns),
          stdin: '{"cniVersion":',
          code: 6,
          msg: /not valid JSON/,
        },
        { what: 'empty stdin', env: envFor('ADD', 'x1', ns), stdin: '', code: 6, msg: /not valid JSON/ },
        {
          what: 'unknown version',
          env: envFor('ADD', 'x1', ns),
          stdin: JSON.stringify({ ...c, cniVersion: '2.0.0' }),
          code: 1,
          msg: /'2.0.0'/,
        },
        {
          what: 'invalid CIDR',
          env: envFor('ADD', 'x1', ns),
          stdin: JSON.stringify({ ...c, subnet: '10.1.0.0/40' }),
          code: 7,
          msg: /subnet: '10.1.0.0\/40'/,
        },
        {
          what: 'host bits',
          env: envFor('ADD', 'x1', ns),
          stdin: JSON.stringify({ ...c, subnet: '10.1.0.1/24' }),
          code: 7,
          msg: /zero host bits/,
        },
        {
          what: 'bad bridge',
          env: envFor('ADD', 'x1', ns),
          stdin: JSON.stringify({ ...c, bridge: 'br;rm -rf /' }),
          code: 7,
          msg: /bridge/,
        },
        {
          what: 'network name with /',
          env: envFor('ADD', 'x1', ns),
          stdin: JSON.stringify({ ...c, name: '../../x' }),
          code: 7,
          msg: /name/,
        },
        { what: 'CHECK without prevResult', env: envFor('CHECK', 'x1', ns), code: 7, msg: /prevResult/ },
      ];
      // The node's bridge is node infrastructure, made by the first ADD and kept (as the reference bridge plugin
      // does): make sure it exists, so that "no change" means no attachment state at all.
      await invoke(d.plugin, NODE, envFor('ADD', 'warm', ns), conf);
      await invoke(d.plugin, NODE, envFor('DEL', 'warm', ns), conf);
      const before = { ...state(), node: linksIn(NODE), pod: linksIn(ns) };
      for (const k of cases) {
        const r = await invoke(d.plugin, NODE, k.env, k.stdin ?? conf);
        assert.equal(r.code, 1, `${k.what}: exit status`);
        assert.ok(r.json, `${k.what}: error JSON on stdout, got ${r.stdout}`);
        assert.equal(r.json.code, k.code, `${k.what}: ${r.stdout}`);
        assert.match(r.json.msg!, k.msg, k.what);
        assert.deepEqual(
          { ...state(), node: linksIn(NODE), pod: linksIn(ns) },
          before,
          `${k.what}: no state change`,
        );
      }
    });
  });
}
