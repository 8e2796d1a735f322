import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { install } from '../src/cni/install.js';
import { exec } from '../src/exec/process-runner.js';
import { fmtMs, median, percentile, table } from './stats.js';

/**
 * `npm run bench -- cni [N]`: CNI ADD/DEL latency of the installed podnet plugin, with the agent's CNI server
 * answering (`podnet+agent`) and without one (`podnet`: the client finds no socket and execs the Node.js plugin),
 * against the reference bridge + host-local plugins (Debian containernetworking-plugins) with an equivalent
 * configuration, in the same run, with the Node.js process floor (`node -e 0`), plus a burst of 50 concurrent
 * ADDs for each. Everything runs inside throwaway namespaces (one standing for the node, one per pod).
 */
const REF = '/usr/lib/cni';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Timed {
  ms: number;
  code: number;
  stdout: string;
}

function invoke(argv: string[], env: Record<string, string>, stdin: string): Promise<Timed> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.resume();
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code: code ?? 1, stdout }));
  });
}

export async function benchCni(args: string[]): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench cni needs root (it creates network namespaces)');
  const n = Math.max(50, Number(args[0] ?? 80));
  const pfx = `pb${process.pid.toString(36)}`;
  const node = `${pfx}-n`;
  const pods = Array.from({ length: n }, (_, i) => `${pfx}-p${i}`);
  const dir = mkdtempSync(join(tmpdir(), `${pfx}-`));
  let stopServer = () => {};
  const ipNetns = async (...a: string[]) => {
    const r = await exec(['ip', 'netns', ...a]);
    if (r.exitCode !== 0 && a[0] === 'add') throw new Error(r.stderr);
  };
  try {
    await ipNetns('add', node);
    for (const p of pods) await ipNetns('add', p);
    const socket = join(dir, 'cni.sock');
    await install({
      agentSocket: socket,
      binDir: join(dir, 'bin'),
      confDir: join(dir, 'net.d'),
      name: 'benchpn',
      subnet: '10.244.70.0/24',
      bridge: `${pfx}a`,
      mtu: 1500,
      dataDir: join(dir, 'ipam-podnet'),
      ipMasq: false,
      hairpinMode: true,
      portmap: false,
      codeCacheDir: join(dir, 'code-cache'),
    });
    const common = {
      cniVersion: '1.0.0',
      isGateway: true,
      isDefaultGateway: true,
      mtu: 1500,
      hairpinMode: true,
      ipMasq: false,
    };
    const podnetOf = (agentSocket: string) =>
      JSON.stringify({
        ...common,
        name: 'benchpn',
        type: 'podnet',
        bridge: `${pfx}a`,
        subnet: '10.244.70.0/24',
        ipam: { dataDir: join(dir, 'ipam-podnet') },
        agentSocket,
      });
    const refConf = JSON.stringify({
      ...common,
      name: 'benchref',
      type: 'bridge',
      bridge: `${pfx}b`,
      ipam: { type: 'host-local', subnet: '10.244.71.0/24', dataDir: join(dir, 'ipam-ref') },
    });
    const plugins = {
      // No agent: nothing listens on this path, so the client execs the Node.js plugin.
      podnet: {
        argv: [join(dir, 'bin', 'podnet')],
        conf: podnetOf(join(dir, 'no-agent.sock')),
        path: join(dir, 'bin'),
        ifname: 'eth0',
      },
      'podnet+agent': {
        argv: [join(dir, 'bin', 'podnet')],
        conf: podnetOf(socket),
        path: join(dir, 'bin'),
        ifname: 'eth2',
      },
      // A second interface name, so both plugins' pods can share the pod namespaces while samples interleave.
      'bridge+host-local': { argv: [join(REF, 'bridge')], conf: refConf, path: REF, ifname: 'eth1' },
    };
    const inNode = (argv: string[]) => ['nsenter', `--net=/run/netns/${node}`, ...argv];
    const envOf = (cmd: string, i: number, path: string, ifname: string) => ({
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: `bench${i}`,
      CNI_NETNS: `/run/netns/${pods[i]}`,
      CNI_IFNAME: ifname,
      CNI_PATH: path,
    });
    const must = (r: Timed, what: string) => {
      if (r.code !== 0) throw new Error(`${what} failed: ${r.stdout}`);
      return r.ms;
    };
    // The agent's CNI server (what `podnet agent` starts), in the node namespace, warmed up below.
    const server = spawn(
      'nsenter',
      [
        `--net=/run/netns/${node}`,
        process.execPath,
        join(ROOT, 'bin', 'podnet.js'),
        'cni',
        'serve',
        '--socket',
        socket,
        '--bin-dir',
        join(dir, 'bin'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let serverOut = '';
    let serverExit = '';
    server.once('exit', (code, sig) => {
      serverExit = `exit ${code ?? sig}`;
    });
    const serverGone = new Promise<void>((r) => server.once('close', () => r()));
    stopServer = () => server.kill('SIGTERM');
    // The agent must answer every podnet+agent sample (a dead one would make them fallback samples silently).
    const serverAlive = (when: string) => {
      if (serverExit) throw new Error(`podnet cni serve ended (${serverExit}) ${when}: ${serverOut}`);
    };
    await new Promise<void>((resolve, reject) => {
      server.stderr.on('data', (x) => {
        serverOut += x;
      });
      server.stdout.on('data', (x) => {
        serverOut += x;
        if (serverOut.includes('serving CNI requests')) resolve();
      });
      server.once('exit', () => reject(new Error(`podnet cni serve exited: ${serverOut}`)));
    });

    // Every sequential sample is interleaved (floor, plugin start-up, each plugin's ADD), so that load from other
    // work on the shared machine hits all of them alike, and the order turns by one each round: what ran just
    // before a sample (a process's exit, its memory freed) costs the next one measurably, so no sample may always
    // follow the same neighbour. The floor is starting Node.js at all, the same way (nsenter).
    const floor: number[] = [];
    const startBundle: number[] = [];
    const startDist: number[] = [];
    const seq: Record<string, { add: number[]; del: number[] }> = {};
    for (const [name, p] of Object.entries(plugins)) {
      // Warm-up (creates the bridge; lets the agent's code be compiled and optimised), not measured.
      for (let w = 0; w < (name === 'podnet+agent' ? 20 : 1); w++) {
        must(await invoke(inNode(p.argv), envOf('ADD', w, p.path, p.ifname), p.conf), `${name} warm-up ADD`);
        must(await invoke(inNode(p.argv), envOf('DEL', w, p.path, p.ifname), p.conf), `${name} warm-up DEL`);
      }
      seq[name] = { add: [], del: [] };
    }
    const turned = <T>(xs: T[], i: number) => [...xs.slice(i % xs.length), ...xs.slice(0, i % xs.length)];
    for (let i = 0; i < n; i++) {
      const samples: (() => Promise<void>)[] = [
        async () => {
          floor.push((await invoke(inNode([process.execPath, '-e', '0']), {}, '')).ms);
        },
        // Start-up of the bundled plugin alone (VERSION does no work). PODNET_CNI_NO_AGENT: the client execs the
        // Node.js plugin (else the agent would answer VERSION).
        async () => {
          const env = { CNI_COMMAND: 'VERSION', PODNET_CNI_NO_AGENT: '1' };
          startBundle.push((await invoke(inNode(plugins.podnet.argv), env, '{}')).ms);
        },
        ...Object.entries(plugins).map(([name, p]) => async () => {
          const ms = must(
            await invoke(inNode(p.argv), envOf('ADD', i, p.path, p.ifname), p.conf),
            `${name} ADD`,
          );
          seq[name]!.add.push(ms);
        }),
      ];
      for (const sample of turned(samples, i)) await sample();
    }
    for (let i = 0; i < n; i++)
      for (const [name, p] of turned(Object.entries(plugins), i))
        seq[name]!.del.push(
          must(await invoke(inNode(p.argv), envOf('DEL', i, p.path, p.ifname), p.conf), `${name} DEL`),
        );
    // The unbundled dist/ through bin/podnet.js, for comparison only: a heavy process, so in a loop of its own.
    for (let i = 0; i < Math.min(n, 20); i++) {
      const env = { CNI_COMMAND: 'VERSION' };
      startDist.push(
        (await invoke(inNode([process.execPath, join(ROOT, 'bin', 'podnet.js')]), env, '{}')).ms,
      );
    }

    serverAlive('after the sequential samples');
    // CPU time per invocation (user + sys of the plugin and every process it waited for, from wait4's rusage):
    // unlike wall time, it hardly depends on what else the shared machine is doing.
    const cpuPy = join(dir, 'cpu.py');
    writeFileSync(
      cpuPy,
      'import os, sys\npid = os.fork()\nif pid == 0:\n    os.execvp(sys.argv[2], sys.argv[2:])\n' +
        '_, status, ru = os.wait4(pid, 0)\nopen(sys.argv[1], "w").write(str((ru.ru_utime + ru.ru_stime) * 1000))\n' +
        'sys.exit(os.waitstatus_to_exitcode(status))\n',
    );
    const cpuOut = join(dir, 'cpu.out');
    const cpu = async (argv: string[], env: Record<string, string>, stdin: string, what: string) => {
      must(await invoke(['python3', cpuPy, cpuOut, ...argv], env, stdin), what);
      return Number(readFileSync(cpuOut, 'utf8'));
    };
    const cpuN = Math.min(n, 30);
    const cpuFloor: number[] = [];
    const cpuAdd: Record<string, number[]> = {};
    const cpuDel: Record<string, number[]> = {};
    // The agent's CPU is not the client's: CPU is compared only for plugins that do their work in their process.
    const ownProcess = Object.entries(plugins).filter(([name]) => name !== 'podnet+agent');
    for (const [name] of ownProcess) {
      cpuAdd[name] = [];
      cpuDel[name] = [];
    }
    for (let i = 0; i < cpuN; i++) {
      cpuFloor.push(await cpu(inNode([process.execPath, '-e', '0']), {}, '', 'node -e 0'));
      for (const [name, p] of ownProcess) {
        cpuAdd[name]!.push(
          await cpu(inNode(p.argv), envOf('ADD', i, p.path, p.ifname), p.conf, `${name} ADD`),
        );
        cpuDel[name]!.push(
          await cpu(inNode(p.argv), envOf('DEL', i, p.path, p.ifname), p.conf, `${name} DEL`),
        );
      }
    }

    serverAlive('after the CPU samples');
    const rows: string[][] = [];
    const results: Record<string, { add: number[]; del: number[]; burstWall: number; burstAdd: number[] }> =
      {};
    for (const [name, p] of Object.entries(plugins)) {
      const { add, del } = seq[name]!;
      const t0 = performance.now();
      const burst = await Promise.all(
        pods.slice(0, 50).map((_, i) => invoke(inNode(p.argv), envOf('ADD', i, p.path, p.ifname), p.conf)),
      );
      const burstWall = performance.now() - t0;
      for (const [i, r] of burst.entries()) must(r, `${name} burst ADD ${i}`);
      await Promise.all(
        pods.slice(0, 50).map((_, i) => invoke(inNode(p.argv), envOf('DEL', i, p.path, p.ifname), p.conf)),
      );
      results[name] = { add, del, burstWall, burstAdd: burst.map((r) => r.ms) };
      rows.push([
        name,
        fmtMs(median(add)),
        fmtMs(percentile(add, 95)),
        fmtMs(median(del)),
        fmtMs(percentile(del, 95)),
        fmtMs(burstWall),
        fmtMs(median(burst.map((r) => r.ms))),
      ]);
    }
    rows.push(['node -e 0 (floor)', fmtMs(median(floor)), fmtMs(percentile(floor, 95)), '', '', '', '']);
    console.log(`CNI ADD/DEL, ${n} sequential each, then a burst of 50 concurrent ADDs (2 shared cores)\n`);
    console.log(
      table(['plugin', 'ADD p50', 'ADD p95', 'DEL p50', 'DEL p95', 'burst 50 wall', 'burst ADD p50'], rows),
    );
    const pn = results.podnet!;
    const ag = results['podnet+agent']!;
    const ref = results['bridge+host-local']!;
    const f = median(floor);
    const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    // Each round's ADD and floor sample ran back to back: their difference cancels what the shared machine's
    // slower and faster phases do to both (the floor's own median moves by tens of ms between runs; docs/cni.md).
    const overFloor = median(pn.add.map((ms, i) => ms - floor[i]!));
    console.log(
      `\nwithout the agent: podnet ADD = floor + ${fmtMs(overFloor)}, the median of per-round differences (target ≤ floor + 10 ms: ${verdict(overFloor <= 10)}; difference of the medians: + ${fmtMs(median(pn.add) - f)});` +
        ` podnet/reference ADD p50 ratio ${ratio(median(pn.add), median(ref.add))}, DEL ${ratio(median(pn.del), median(ref.del))},` +
        ` burst wall ${ratio(pn.burstWall, ref.burstWall)}`,
    );
    console.log(
      `with the agent: ADD p50 ratio ${ratio(median(ag.add), median(ref.add))} (target ≤ 0.5: ${verdict(median(ag.add) <= 0.5 * median(ref.add))}),` +
        ` DEL p50 ratio ${ratio(median(ag.del), median(ref.del))} (≤ 1: ${verdict(median(ag.del) <= median(ref.del))}),` +
        ` burst wall ratio ${ratio(ag.burstWall, ref.burstWall)} (≤ 1: ${verdict(ag.burstWall <= ref.burstWall)})`,
    );
    console.log(
      `start-up (VERSION): client + Node.js plugin, no agent, p50 ${fmtMs(median(startBundle))} (floor + ${fmtMs(median(startBundle.map((ms, i) => ms - floor[i]!)))} per round), unbundled bin/podnet.js ${fmtMs(median(startDist))}, node -e 0 ${fmtMs(f)}`,
    );
    console.log(
      `\nCPU time per invocation (user+sys incl. child processes, median of ${cpuN}): ` +
        ownProcess
          .map(([name]) => `${name} ADD ${fmtMs(median(cpuAdd[name]!))} DEL ${fmtMs(median(cpuDel[name]!))}`)
          .join('; ') +
        `; node -e 0 ${fmtMs(median(cpuFloor))}` +
        ` → podnet ADD = floor + ${fmtMs(median(cpuAdd.podnet!) - median(cpuFloor))} of CPU`,
    );
    serverAlive('after the bursts');
    server.kill('SIGTERM');
    await serverGone;
    console.log(`the agent's CNI server answered ${/"served":(\d+)/.exec(serverOut)?.[1] ?? '?'} requests`);
    writeFileSync(join(dir, 'done'), '');
  } finally {
    stopServer();
    for (const p of pods) await ipNetns('del', p);
    await ipNetns('del', node);
    rmSync(dir, { recursive: true, force: true });
  }
}
