import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { needsRoot } from '../helpers/cli.js';
import {
  CNI_MODES,
  type CniAgent,
  type CniDirs,
  installPlugin,
  invoke,
  netnsAdd,
  netnsDel,
  PFX,
  pluginConf,
  rmrf,
  startCniAgent,
} from '../helpers/cni.js';

/**
 * The CNI plugin's input to the letter of SPEC.md: each bad input is refused with its code, and the node
 * namespace (every link and address) and the IPAM directory are exactly as before. Runs the installed plugin
 * in a throwaway namespace standing for the node, with and without its native netlink addon; without an agent
 * (the client execs the Node.js plugin) and with the agent's CNI server answering.
 */
const NODE = `${PFX}-sn`;
const POD = `${PFX}-sp`;
const NET = `${PFX}s`;
const BR = `${PFX}sb`.slice(0, 15);
const VETH = `${PFX}sv`.slice(0, 15);
let d: CniDirs;
let conf: Record<string, unknown>;

const env = (cmd: string) => ({
  CNI_COMMAND: cmd,
  CNI_CONTAINERID: 'spec1',
  CNI_NETNS: `/run/netns/${POD}`,
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=spec1',
});

/** Everything on the node the plugin could change: links with their addresses, and the IPAM directory. */
function nodeState(): unknown {
  const addrs = JSON.parse(execFileSync('ip', ['-n', NODE, '-j', 'addr', 'show'], { encoding: 'utf8' })) as {
    ifname: string;
    flags: string[];
    addr_info: { local: string; prefixlen: number }[];
  }[];
  const pod = execFileSync('ip', ['-n', POD, '-o', 'link', 'show'], { encoding: 'utf8' });
  return {
    links: addrs.map((l) => ({
      name: l.ifname,
      up: l.flags.includes('UP'),
      addrs: l.addr_info.map((a) => `${a.local}/${a.prefixlen}`),
    })),
    podLinks: pod.split('\n').filter(Boolean).length,
    ipam: existsSync(d.ipam) ? readdirSync(d.ipam, { recursive: true }).map(String).sort() : [],
  };
}

const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

for (const mode of CNI_MODES) {
  describe(`CNI plugin input, to the letter of the spec, ${mode}`, { skip: needsRoot }, () => {
    let agent: CniAgent | undefined;
    before(async () => {
      d = await installPlugin({ name: NET, subnet: '10.244.61.0/24', bridge: BR });
      conf = JSON.parse(pluginConf(d, NET));
      netnsAdd(NODE);
      netnsAdd(POD);
      execFileSync('ip', ['-n', NODE, 'link', 'add', VETH, 'type', 'veth', 'peer', 'name', `${VETH}p`]);
      if (mode === 'agent') agent = await startCniAgent(d, NODE);
    });
    after(async () => {
      const served = await agent?.stop();
      if (agent) assert.ok(served! > 0, 'the agent answered the requests');
      netnsDel(POD);
      netnsDel(NODE);
      if (d) rmrf(d.root);
    });

    const prev = { cniVersion: '1.0.0', ips: [{ address: '10.244.61.2/24', interface: 0 }] };
    const cases: { what: string; verb: string; stdin: () => string; code: number; msg: RegExp }[] = [
      {
        what: "ADD with bridge 'lo' (an existing non-bridge)",
        verb: 'ADD',
        stdin: () => JSON.stringify({ ...conf, bridge: 'lo' }),
        code: 7,
        msg: /bridge 'lo' names an existing interface that is not a bridge/,
      },
      {
        what: 'ADD with bridge naming a veth',
        verb: 'ADD',
        stdin: () => JSON.stringify({ ...conf, bridge: VETH }),
        code: 7,
        msg: /not a bridge \(a veth link\)/,
      },
      {
        what: 'CHECK with cniVersion 0.3.1',
        verb: 'CHECK',
        stdin: () =>
          JSON.stringify({ ...conf, cniVersion: '0.3.1', prevResult: { ...prev, cniVersion: '0.3.1' } }),
        code: 1,
        msg: /CHECK needs cniVersion 0.4.0 or later/,
      },
      {
        what: 'CHECK with cniVersion 0.3.0',
        verb: 'CHECK',
        stdin: () =>
          JSON.stringify({ ...conf, cniVersion: '0.3.0', prevResult: { ...prev, cniVersion: '0.3.0' } }),
        code: 1,
        msg: /'0.3.0'/,
      },
      {
        what: 'CHECK with prevResult not an object',
        verb: 'CHECK',
        stdin: () => JSON.stringify({ ...conf, prevResult: 5 }),
        code: 7,
        msg: /prevResult: 5 is not a result/,
      },
      {
        what: 'CHECK with prevResult.ips of the wrong type',
        verb: 'CHECK',
        stdin: () => JSON.stringify({ ...conf, prevResult: { cniVersion: '1.0.0', ips: 'x' } }),
        code: 7,
        msg: /prevResult.ips: 'x' must be a list/,
      },
      {
        what: 'CHECK with prevResult of an unknown version',
        verb: 'CHECK',
        stdin: () => JSON.stringify({ ...conf, prevResult: { ...prev, cniVersion: '9.9.9' } }),
        code: 7,
        msg: /prevResult.cniVersion: '9.9.9'/,
      },
      {
        what: 'CHECK with several problems in prevResult (all listed)',
        verb: 'CHECK',
        stdin: () =>
          JSON.stringify({
            ...conf,
            prevResult: {
              cniVersion: '1.0.0',
              interfaces: [{ mac: 1 }],
              ips: [{ address: 5, interface: 4 }],
            },
          }),
        code: 7,
        msg: /interfaces\[0\].name: is required.*interfaces\[0\].mac.*ips\[0\].address: 5.*ips\[0\].interface: 4/,
      },
      {
        what: 'ADD with a malformed prevResult',
        verb: 'ADD',
        stdin: () => JSON.stringify({ ...conf, prevResult: { cniVersion: '1.0.0', routes: [{ gw: 1 }] } }),
        code: 7,
        msg: /prevResult.routes\[0\].dst: is required; prevResult.routes\[0\].gw: 1 must be a string/,
      },
      {
        what: 'ADD with 100,000 nested lists',
        verb: 'ADD',
        stdin: () => deep(100_000),
        code: 6,
        msg: /nests deeper than/,
      },
      {
        what: 'ADD with 100,000 nested objects',
        verb: 'ADD',
        stdin: () => `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`,
        code: 6,
        msg: /nests deeper than/,
      },
      {
        what: 'ADD with a deeply nested unknown field in a valid configuration',
        verb: 'ADD',
        stdin: () => JSON.stringify({ ...conf }).replace(/^\{/, `{"x":${deep(100_000)},`),
        code: 6,
        msg: /nests deeper than/,
      },
    ];

    for (const mode of ['in-process netlink', 'ip processes'] as const) {
      test(`bad inputs, ${mode}: each is its spec error code and nothing changes on the node`, async () => {
        const extra: Record<string, string> = mode === 'ip processes' ? { PODNET_CNI_NO_NETLINK: '1' } : {};
        const before = nodeState();
        for (const k of cases) {
          const r = await invoke(d.plugin, NODE, { ...env(k.verb), ...extra }, k.stdin());
          assert.equal(r.code, 1, `${k.what}: exit status (${r.stdout}${r.stderr})`);
          assert.ok(r.json, `${k.what}: error JSON on stdout, got ${r.stdout} ${r.stderr}`);
          assert.equal(r.json.code, k.code, `${k.what}: ${r.stdout}`);
          assert.match(r.json.msg!, k.msg, k.what);
          assert.deepEqual(nodeState(), before, `${k.what}: nothing changed on the node`);
        }
        // The same plugin still works: a good ADD then DEL (so the refusals were not a broken plugin).
        const ok = await invoke(d.plugin, NODE, { ...env('ADD'), ...extra }, JSON.stringify(conf));
        assert.equal(ok.code, 0, ok.stdout + ok.stderr);
        assert.equal(
          (await invoke(d.plugin, NODE, { ...env('DEL'), ...extra }, JSON.stringify(conf))).code,
          0,
        );
      });
    }

    test(
      'the installed plugin loads its native addon from its own directory, and writes none into the IPAM data',
      { skip: mode === 'agent' && 'the agent answers: the Node.js plugin never ran' },
      async () => {
        const ok = await invoke(d.plugin, NODE, env('ADD'), JSON.stringify(conf));
        assert.equal(ok.code, 0, ok.stdout + ok.stderr);
        assert.equal((await invoke(d.plugin, NODE, env('DEL'), JSON.stringify(conf))).code, 0);
        const home = readdirSync(join(d.bin, 'podnet.d'));
        assert.ok(home.includes('netlink.node'), `addon in podnet.d: ${home}`);
        assert.deepEqual(
          readdirSync(join(d.root, 'code-cache')).filter((f) => !f.endsWith('.code-cache')),
          [],
          'the code cache directory holds code caches only',
        );
        const ipam = readdirSync(d.ipam, { recursive: true }).map(String);
        assert.deepEqual(
          ipam.filter((f) => !f.startsWith(NET)),
          [],
          'the IPAM directory holds only the network directory',
        );
        assert.deepEqual(
          ipam.filter((f) => /\.node$|native/.test(f)),
          [],
          'no addon in the IPAM directory',
        );
      },
    );
  });
}
