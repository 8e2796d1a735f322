import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ProcessRunner } from '../../src/exec/process-runner.js';
import type { Op } from '../../src/plan/ops.js';
import { render } from '../../src/render/index.js';
import { needsRoot } from '../helpers/cli.js';

/**
 * A pod started as the dry-run script starts it (unshare --fork, nsenter --pid: processes that fork and wait)
 * and as `lab up` starts it through the spawner's direct forms (runner.ts DirectForm) must look the same from
 * inside: the same namespaces, the same processes in its PID namespace, the same hostname; from outside, the
 * direct form has the two waiting parents fewer.
 */
const NS = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'uts'] as const;
const nsOf = (pid: number | 'self', t: string) => readlinkSync(`/proc/${pid}/ns/${t}`);
const hostNs = Object.fromEntries(NS.map((t) => [t, nsOf('self', t)]));

/** Host PIDs whose PID namespace, or whose children's, is `podPidNs`. */
function processesOf(podPidNs: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (nsOf(Number(d), 'pid') === podPidNs || nsOf(Number(d), 'pid_for_children') === podPidNs)
        out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('pods started through the spawner direct forms', { skip: needsRoot }, () => {
  const dir = mkdtempSync(join(tmpdir(), `pnsd${process.pid}-`));
  const started: number[] = [];
  after(() => {
    for (const pid of started)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    rmSync(dir, { recursive: true, force: true });
  });

  async function startPod(way: 'script' | 'direct') {
    const runner = new ProcessRunner({ spawner: way === 'direct', onDaemon: (pid) => started.push(pid) });
    const pid = `${way.toUpperCase()}_PID`;
    const ops: Op[] = [
      { kind: 'pod.pause', pod: way, pid, log: join(dir, `${way}.pause.log`) },
      { kind: 'pod.hostname', pid, hostname: `pnsd-${way}` },
      {
        kind: 'pod.container',
        pid,
        pod: way,
        container: { name: 'c', command: ['sleep', '1000'], log: join(dir, `${way}.c.log`) },
      },
    ];
    for (const op of ops) await runner.run(render(op));
    runner.close();
    const pause = Number(runner.vars.get(pid));
    const podPidNs = nsOf(pause, 'pid_for_children');
    // The container has started once two processes live in the pod's PID namespace (PID 1 and it).
    await until(
      `${way} container`,
      () => processesOf(podPidNs).filter((p) => nsOf(p, 'pid') === podPidNs).length === 2,
    );
    const inPod = processesOf(podPidNs).filter((p) => nsOf(p, 'pid') === podPidNs);
    await until(`${way} container exec`, () =>
      inPod.every((p) => readFileSync(`/proc/${p}/comm`, 'utf8') === 'sleep\n'),
    );
    const view = (p: number) => ({
      nspid: readFileSync(`/proc/${p}/status`, 'utf8').match(/^NSpid:\s.*\s(\d+)$/m)?.[1],
      cmdline: readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ').trim(),
      // As nsenter leaves them: setns into the pod's mount namespace puts root and directory at its root.
      root: readlinkSync(`/proc/${p}/root`),
      cwd: readlinkSync(`/proc/${p}/cwd`),
      ownNamespaces: NS.filter((t) => nsOf(p, t) !== hostNs[t]),
    });
    return {
      pause,
      processesOutside: processesOf(podPidNs).length,
      inside: inPod.map(view).sort((a, b) => Number(a.nspid) - Number(b.nspid)),
      ps: execFileSync(
        'nsenter',
        [
          '--target',
          String(pause),
          '--mount',
          `--pid=/proc/${pause}/ns/pid_for_children`,
          'ps',
          '-e',
          '-o',
          'pid=,comm=',
        ],
        {
          encoding: 'utf8',
        },
      )
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/)),
      hostname: execFileSync('nsenter', ['--target', String(pause), '--uts', 'hostname'], {
        encoding: 'utf8',
      }).trim(),
      podPidNs,
    };
  }

  test('the same pod from inside, two processes fewer from outside; killing PID 1 ends it', async () => {
    const script = await startPod('script');
    const direct = await startPod('direct');
    assert.deepEqual(
      { inside: direct.inside, ps: direct.ps, hostname: direct.hostname.replace('direct', 'WAY') },
      { inside: script.inside, ps: script.ps, hostname: script.hostname.replace('script', 'WAY') },
    );
    assert.deepEqual(script.inside[0], {
      nspid: '1',
      cmdline: 'sleep infinity',
      root: '/',
      cwd: readlinkSync(`/proc/${script.pause}/cwd`),
      ownNamespaces: ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'uts'],
    });
    assert.equal(script.processesOutside, 4, 'unshare, its sleep, nsenter and its sleep');
    assert.equal(direct.processesOutside, 2, 'the pause sleep and the container, nothing waiting on them');
    // The pause PID the lab records is the pod's PID 1: one SIGKILL ends the pod, as --kill-child did.
    process.kill(direct.pause, 'SIGKILL');
    await until('the direct pod to end', () =>
      processesOf(direct.podPidNs).every((p) => {
        try {
          return readFileSync(`/proc/${p}/stat`, 'utf8').split(' ')[2] === 'Z';
        } catch {
          return true;
        }
      }),
    );
  });
});
