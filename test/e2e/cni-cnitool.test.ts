import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from '../helpers/cli.js';
import {
  CNI_MODES,
  CNITOOL,
  type CniAgent,
  type CniDirs,
  cniTestEnv,
  installPlugin,
  netnsAdd,
  netnsDel,
  PFX,
  podnetVeths,
  REF_PLUGINS,
  reservations,
  rmrf,
  startCniAgent,
} from '../helpers/cni.js';

/**
 * cnitool (libcni 1.1.2, built offline from Debian's source package) drives the installed conflist: podnet first,
 * the reference portmap chained after it. Runs in a namespace standing for the node.
 */
const skip = cniTestEnv();
const NODE = `${PFX}-cn`;
const P1 = `${PFX}-c1`;
const P2 = `${PFX}-c2`;
const NET = `${PFX}c`;
const RESULTS = '/var/lib/cni/results';
let d: CniDirs;
let httpd: ChildProcess | undefined;
let resultsExisted = true;

function cnitool(verb: string, ns: string, env: Record<string, string> = {}) {
  return run(['nsenter', `--net=/run/netns/${NODE}`, CNITOOL, verb, NET, `/run/netns/${ns}`], {
    env: { NETCONFPATH: d.netd, CNI_PATH: `${d.bin}:${REF_PLUGINS}`, ...env },
  });
}

for (const mode of CNI_MODES) {
  describe(`cnitool + portmap chained after podnet, ${mode}`, { skip }, () => {
    let agent: CniAgent | undefined;
    before(async () => {
      resultsExisted = existsSync(RESULTS);
      d = await installPlugin({ name: NET, subnet: '10.244.61.0/24', bridge: `${PFX}cb`.slice(0, 15) });
      for (const n of [NODE, P1, P2]) netnsAdd(n);
      execFileSync('ip', ['-n', NODE, 'link', 'set', 'lo', 'up']);
      if (mode === 'agent') agent = await startCniAgent(d, NODE);
    });
    after(async () => {
      await agent?.stop();
      if (httpd?.pid) {
        try {
          process.kill(httpd.pid, 'SIGKILL');
        } catch {}
      }
      for (const n of [P1, P2, NODE]) netnsDel(n);
      // libcni caches results under /var/lib/cni/results (not configurable in cnitool): remove ours.
      if (existsSync(RESULTS))
        for (const f of readdirSync(RESULTS)) if (f.startsWith(`${NET}-`)) rmSync(join(RESULTS, f));
      if (!resultsExisted) {
        try {
          execFileSync('rmdir', ['-p', '--ignore-fail-on-non-empty', RESULTS]);
        } catch {}
      }
      if (d) rmrf(d.root);
    });

    test(
      'add, ping between pods, hostPort reaches the pod, check, del leaves nothing',
      { timeout: 120_000 },
      async () => {
        const conflist = JSON.parse(readFileSync(join(d.netd, `10-${NET}.conflist`), 'utf8'));
        assert.deepEqual(
          conflist.plugins.map((p: { type: string }) => p.type),
          ['podnet', 'portmap'],
        );
        assert.equal(conflist.cniVersion, '1.0.0');

        const a1 = await cnitool('add', P1);
        assert.equal(a1.code, 0, a1.stdout + a1.stderr);
        const r1 = JSON.parse(a1.stdout);
        assert.equal(r1.cniVersion, '1.0.0');
        const ip1 = r1.ips[0].address.split('/')[0];

        const caps = {
          CAP_ARGS: JSON.stringify({
            portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
          }),
        };
        const a2 = await cnitool('add', P2, caps);
        assert.equal(a2.code, 0, a2.stdout + a2.stderr);
        const ip2 = JSON.parse(a2.stdout).ips[0].address.split('/')[0];
        assert.notEqual(ip1, ip2);

        const ping = await run(['ip', 'netns', 'exec', P1, 'busybox', 'ping', '-c', '2', '-W', '2', ip2]);
        assert.equal(ping.code, 0, `pod to pod: ${ping.stdout}${ping.stderr}`);

        // hostPort 8080 on the node → port 80 in pod 2 (portmap's DNAT, chained after our result).
        const www = join(d.root, 'www');
        mkdirSync(www, { recursive: true });
        writeFileSync(join(www, 'index.html'), `hello from ${P2}\n`);
        httpd = spawn(
          'nsenter',
          [`--net=/run/netns/${P2}`, 'busybox', 'httpd', '-f', '-p', '80', '-h', www],
          {
            stdio: 'ignore',
          },
        );
        let body = '';
        for (let i = 0; i < 40 && !body.includes('hello'); i++) {
          await sleep(100);
          const c = await run([
            'nsenter',
            `--net=/run/netns/${NODE}`,
            'curl',
            '-s',
            '-m',
            '2',
            'http://10.244.61.1:8080/',
          ]);
          body = c.stdout;
        }
        assert.equal(body, `hello from ${P2}\n`, 'hostPort 8080 reaches pod 2');
        const nat = execFileSync('ip', ['netns', 'exec', NODE, 'iptables', '-t', 'nat', '-S'], {
          encoding: 'utf8',
        });
        assert.match(nat, /--dport 8080/);

        for (const p of [P1, P2]) {
          const c = await cnitool('check', p);
          assert.equal(c.code, 0, `check ${p}: ${c.stdout}${c.stderr}`);
        }
        // Break pod 1's default route: CHECK must now fail with our code.
        execFileSync('ip', ['-n', P1, 'route', 'del', 'default']);
        const broken = await cnitool('check', P1);
        assert.notEqual(broken.code, 0);
        assert.match(broken.stdout + broken.stderr, /route 0\.0\.0\.0\/0 via 10\.244\.61\.1 is missing/);

        // As runtimes do, DEL carries the same port mappings (portmap only removes what it is told about).
        for (const [p, env] of [
          [P2, caps],
          [P1, {}],
        ] as const) {
          const del = await cnitool('del', p, env);
          assert.equal(del.code, 0, `del ${p}: ${del.stdout}${del.stderr}`);
        }
        assert.deepEqual(reservations(d.ipam, NET), []);
        assert.deepEqual(podnetVeths(NODE), []);
        const natAfter = execFileSync('ip', ['netns', 'exec', NODE, 'iptables', '-t', 'nat', '-S'], {
          encoding: 'utf8',
        });
        assert.doesNotMatch(natAfter, /--dport 8080/, 'portmap removed its rules');
        assert.deepEqual(
          existsSync(RESULTS) ? readdirSync(RESULTS).filter((f) => f.startsWith(`${NET}-`)) : [],
          [],
        );
        if (agent) {
          const n = await agent.stop();
          agent = undefined;
          assert.ok(n > 0, `the agent answered podnet's requests (${n})`);
        }
      },
    );
  });
}
