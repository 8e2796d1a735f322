import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CNI_MODES,
  type CniAgent,
  type CniDirs,
  cniTestEnv,
  installPlugin,
  netnsAdd,
  netnsDel,
  PFX,
  podnetVeths,
  reservations,
  rmrf,
  startCniAgent,
} from '../helpers/cni.js';
import {
  type Containerd,
  criClient,
  importImages,
  startContainerd,
  stopContainerd,
} from '../helpers/cni-cri.js';

/**
 * containerd's CRI plugin (Debian containerd 1.6 + runc) with podnet as the pod network: RunPodSandbox calls our
 * ADD, StopPodSandbox and RemovePodSandbox our DEL (the second time with CNI_NETNS empty). Everything runs in a
 * namespace standing for the node, with containerd's state under a temporary directory.
 */
const skip = cniTestEnv();
const NODE = `${PFX}-kn`;
const NET = `${PFX}k`;
const RESULTS = '/var/lib/cni/results';
const RUN_CONTAINERD = '/run/containerd';
let d: CniDirs;
let ctd: Containerd | undefined;
let cri: ReturnType<typeof criClient> | undefined;
const existed = { results: true, runContainerd: true };

for (const mode of CNI_MODES) {
  describe(`containerd CRI drives the podnet plugin, ${mode}`, { skip }, () => {
    let agent: CniAgent | undefined;
    before(async () => {
      existed.results = existsSync(RESULTS);
      existed.runContainerd = existsSync(RUN_CONTAINERD);
      d = await installPlugin({ name: NET, subnet: '10.244.62.0/24', bridge: `${PFX}kb`.slice(0, 15) });
      netnsAdd(NODE);
      if (mode === 'agent') agent = await startCniAgent(d, NODE);
      const root = mkdtempSync(join('/tmp', `${PFX}-ctd-`));
      ctd = await startContainerd(root, NODE, d.bin, d.netd);
      importImages(ctd, NODE);
      cri = criClient(ctd.socket);
    });
    after(async () => {
      cri?.close();
      if (ctd) {
        await stopContainerd(ctd);
        rmrf(ctd.root);
      }
      await agent?.stop();
      netnsDel(NODE);
      if (existsSync(RESULTS))
        for (const f of readdirSync(RESULTS)) if (f.startsWith(`${NET}-`)) rmSync(join(RESULTS, f));
      if (!existed.results) rmrf('/var/lib/cni');
      if (!existed.runContainerd) rmrf(RUN_CONTAINERD);
      if (d) rmrf(d.root);
    });

    test(
      'RunPodSandbox x3, containers, pod-to-pod exec ping, Stop/Remove leave nothing',
      { timeout: 240_000 },
      async () => {
        const { call } = cri!;
        const status = (await call('Status', {})) as {
          status: { conditions: { type: string; status: boolean }[] };
        };
        const net = status.status.conditions.find((c) => c.type === 'NetworkReady');
        assert.equal(net?.status, true, `NetworkReady: ${JSON.stringify(status.status.conditions)}`);

        const pods: { id: string; ip: string; cid: string; name: string }[] = [];
        for (const name of ['web', 'api', 'db']) {
          const config = {
            metadata: { name, uid: `uid-${name}`, namespace: 'default', attempt: 0 },
            hostname: name,
            logDirectory: join(ctd!.root, 'logs', name),
            linux: {},
          };
          const { podSandboxId } = (await call('RunPodSandbox', { config })) as { podSandboxId: string };
          const s = (await call('PodSandboxStatus', { podSandboxId })) as {
            status: { network: { ip: string } };
          };
          const ip = s.status.network.ip;
          assert.match(ip, /^10\.244\.62\.\d+$/, `${name} got an address from podnet`);
          const c = (await call('CreateContainer', {
            podSandboxId,
            sandboxConfig: config,
            config: {
              metadata: { name: 'app' },
              image: { image: 'docker.io/library/bb:latest' },
              command: ['/bin/sleep', '3600'],
              logPath: 'app.log',
              linux: {},
            },
          })) as { containerId: string };
          await call('StartContainer', { containerId: c.containerId });
          pods.push({ id: podSandboxId, ip, cid: c.containerId, name });
        }
        assert.equal(new Set(pods.map((p) => p.ip)).size, 3, 'three distinct addresses');

        // The reservations record the Kubernetes pod, from CNI_ARGS.
        const recorded = reservations(d.ipam, NET).map((ip) =>
          JSON.parse(readFileSync(join(d.ipam, NET, ip), 'utf8')),
        );
        assert.deepEqual(recorded.map((r) => `${r.podNamespace}/${r.podName}`).sort(), [
          'default/api',
          'default/db',
          'default/web',
        ]);
        assert.equal(podnetVeths(NODE).length, 3);

        for (const [from, to] of [
          [0, 1],
          [1, 2],
          [2, 0],
        ] as const) {
          const ex = (await call('ExecSync', {
            containerId: pods[from]!.cid,
            cmd: ['ping', '-c', '2', '-W', '2', pods[to]!.ip],
            timeout: 20,
          })) as { exitCode: number; stdout: Buffer };
          assert.equal(ex.exitCode, 0, `${pods[from]!.name} -> ${pods[to]!.name}: ${ex.stdout?.toString()}`);
        }
        // Inside the container, eth0 carries the address the runtime reported.
        const addr = (await call('ExecSync', {
          containerId: pods[0]!.cid,
          cmd: ['ip', '-4', 'addr', 'show', 'eth0'],
          timeout: 10,
        })) as {
          stdout: Buffer;
        };
        assert.match(addr.stdout.toString(), new RegExp(`inet ${pods[0]!.ip.replace(/\./g, '\\.')}/24`));

        for (const p of pods) {
          await call('StopContainer', { containerId: p.cid, timeout: 1 });
          await call('StopPodSandbox', { podSandboxId: p.id });
          await call('RemovePodSandbox', { podSandboxId: p.id });
        }
        const left = (await call('ListPodSandbox', {})) as { items: unknown[] };
        assert.equal(left.items.length, 0);
        assert.deepEqual(reservations(d.ipam, NET), [], 'no reservation left');
        assert.deepEqual(podnetVeths(NODE), [], 'no host veth left');
        const cached = existsSync(RESULTS) ? readdirSync(RESULTS).filter((f) => f.startsWith(`${NET}-`)) : [];
        assert.deepEqual(cached, [], 'no cached result left');
        if (agent) {
          const n = await agent.stop();
          agent = undefined;
          assert.ok(n > 0, `the agent answered podnet's requests (${n})`);
        }
      },
    );
  });
}
