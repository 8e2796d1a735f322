import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { startTimeOf } from './procs.js';

test('startTimeOf: a live process has a start time; an exited one not yet reaped (a zombie) counts as gone', async () => {
  assert.ok(startTimeOf(process.pid));
  // Python forks a child that exits at once, prints its PID and sleeps without reaping it: a zombie.
  const py = spawn(
    'python3',
    [
      '-c',
      'import os,sys,time\npid=os.fork()\nif pid==0: os._exit(0)\ntime.sleep(0.2)\nprint(pid,flush=True)\ntime.sleep(5)',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = (await once(py.stdout!, 'data')) as [Buffer];
  const zombie = Number(line.toString().trim());
  try {
    assert.match(readFileSync(`/proc/${zombie}/stat`, 'utf8'), /\) Z /);
    assert.equal(startTimeOf(zombie), undefined);
    assert.ok(startTimeOf(py.pid!), 'its parent still runs');
  } finally {
    py.kill('SIGKILL');
  }
});
