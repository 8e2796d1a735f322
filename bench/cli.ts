import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtMs, median, table } from './stats.js';

/**
 * `npm run bench -- cli [N]`: start-up of the CLI (`podnet --help`, `podnet lab status` of a lab that does not
 * exist, and `podnet lab up -f BAD` refused for an unknown field) beside the Node.js floor (`node -e 0`), all
 * interleaved in the same run, N rounds (default 30). Each runs `node bin/podnet.js …` as a user's `podnet` on
 * PATH does, in a clean environment (PATH only: this machine's NODE_EXTRA_CA_CERTS alone costs ~10 ms a start).
 * Target: each at most floor + 30 ms (median).
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'podnet.js');

function timed(argv: readonly string[], env: Record<string, string>): Promise<{ ms: number; code: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code: code ?? 1 }));
  });
}

export async function benchCli(args: string[]): Promise<void> {
  const rounds = Math.max(5, Number(args[0] ?? 30));
  const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-cli-'));
  try {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  label: {app: web}\n');
    // A state directory of its own: `lab status` finds no lab there whatever labs this machine has.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', PODNET_STATE_DIR: join(dir, 'state') };
    const node = process.execPath;
    const cases: { name: string; argv: string[]; code: number }[] = [
      { name: 'node -e 0 (floor)', argv: [node, '-e', '0'], code: 0 },
      { name: 'podnet --help', argv: [node, CLI, '--help'], code: 0 },
      {
        name: 'podnet lab status (no lab)',
        argv: [node, CLI, 'lab', 'status', '--name', 'benchnone'],
        code: 1,
      },
      {
        name: 'podnet lab up -f BAD (refused)',
        argv: [node, CLI, 'lab', 'up', '-f', bad, '--name', 'benchnone'],
        code: 2,
      },
    ];
    const samples = cases.map(() => [] as number[]);
    const cpu = cases.map(() => [] as number[]);
    // CPU time (user + sys, from wait4's rusage through a small python wrapper): unlike wall time it hardly
    // depends on what else the shared machine runs. Measured in a second interleaved pass, as the wrapper's own
    // start-up would otherwise count in the wall time.
    const cpuPy = join(dir, 'cpu.py');
    writeFileSync(
      cpuPy,
      'import os, sys\npid = os.fork()\nif pid == 0:\n    os.execvp(sys.argv[2], sys.argv[2:])\n' +
        '_, status, ru = os.wait4(pid, 0)\nopen(sys.argv[1], "w").write(str((ru.ru_utime + ru.ru_stime) * 1000))\n' +
        'sys.exit(os.waitstatus_to_exitcode(status))\n',
    );
    const cpuOut = join(dir, 'cpu.out');
    // Warm the page cache once, then interleave: each round runs every case, so load from other work on the
    // shared machine hits all of them alike.
    for (const c of cases) await timed(c.argv, env);
    for (let r = 0; r < rounds; r++) {
      for (const [i, c] of cases.entries()) {
        const t = await timed(c.argv, env);
        if (t.code !== c.code) throw new Error(`${c.name}: exit ${t.code}, expected ${c.code}`);
        samples[i]!.push(t.ms);
      }
      for (const [i, c] of cases.entries()) {
        const t = await timed(['python3', cpuPy, cpuOut, ...c.argv], env);
        if (t.code !== c.code) throw new Error(`${c.name}: exit ${t.code}, expected ${c.code}`);
        cpu[i]!.push(Number(readFileSync(cpuOut, 'utf8')));
      }
    }
    const floor = median(samples[0]!);
    const cpuFloor = median(cpu[0]!);
    const rows = cases.map((c, i) => {
      const m = median(samples[i]!);
      const over = m - floor;
      const mc = median(cpu[i]!);
      return [
        c.name,
        fmtMs(m),
        fmtMs(Math.min(...samples[i]!)),
        i === 0 ? '' : `+${fmtMs(over)}`,
        (m / floor).toFixed(2),
        i === 0 ? '' : over <= 30 ? 'met' : 'missed',
        fmtMs(mc),
        i === 0 ? '' : `+${fmtMs(mc - cpuFloor)}`,
      ];
    });
    console.log(`CLI start-up, ${rounds} interleaved rounds, medians (target: floor + 30 ms)\n`);
    console.log(
      table(['command', 'wall', 'min', 'over floor', 'ratio', 'target', 'CPU', 'CPU over floor'], rows),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
