import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { needsRoot, ROOT } from '../helpers/cli.js';

/**
 * A bench stopped by SIGTERM (its finally blocks never run) still removes its namespaces, the processes it
 * started inside them and its temporary directories (bench/leftovers.ts, installed by bench/index.ts).
 */
test(
  'a bench stopped by SIGTERM leaves no namespace, process or directory of its own',
  { skip: needsRoot },
  async () => {
    const script = `
    import { execFileSync, spawn } from 'node:child_process';
    import { mkdtempSync } from 'node:fs';
    import { tmpdir } from 'node:os';
    import { join } from 'node:path';
    import { benchPrefixes, removeLeftoversOnSignal } from ${JSON.stringify(join(ROOT, 'dist', 'bench', 'leftovers.js'))};
    removeLeftoversOnSignal('leftovers test');
    const [a, b] = benchPrefixes();
    for (const ns of [a + '-n', b + '-s']) execFileSync('ip', ['netns', 'add', ns]);
    const sleeper = spawn('ip', ['netns', 'exec', b + '-s', 'sleep', '300'], { stdio: 'ignore', detached: true });
    const dir = mkdtempSync(join(tmpdir(), a + '-'));
    setTimeout(() => console.log(JSON.stringify({ namespaces: [a + '-n', b + '-s'], sleeper: sleeper.pid, dir })), 300);
    setInterval(() => {}, 1000);
  `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const made = await new Promise<{ namespaces: string[]; sleeper: number; dir: string }>(
      (resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(JSON.parse(out));
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      },
    );
    const listed = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    try {
      for (const ns of made.namespaces) assert.ok(listed().includes(ns), `${ns} was made`);
      assert.ok(existsSync(made.dir));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 143, err);
      assert.match(err, /stopped by SIGTERM; removed /);
      for (const ns of made.namespaces) assert.ok(!listed().includes(ns), `${ns} is gone`);
      assert.ok(!existsSync(made.dir), 'the temporary directory is gone');
      await new Promise((r) => setTimeout(r, 100));
      const alive = (() => {
        try {
          process.kill(made.sleeper, 0);
          return !/^Z/m.test(
            execFileSync('ps', ['-o', 'stat=', '-p', String(made.sleeper)], { encoding: 'utf8' }),
          );
        } catch {
          return false;
        }
      })();
      assert.equal(alive, false, 'the process inside the namespace was killed');
    } finally {
      for (const ns of made.namespaces) if (listed().includes(ns)) execFileSync('ip', ['netns', 'del', ns]);
      try {
        process.kill(made.sleeper, 'SIGKILL');
      } catch {}
    }
  },
);
