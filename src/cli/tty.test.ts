import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { colorEnabled, paint, progress } from './tty.js';

const stream = (isTTY: boolean) => {
  const written: string[] = [];
  return { isTTY, written, write: (s: string) => written.push(s) > 0 };
};

test('colour only on a terminal, never with NO_COLOR set or TERM=dumb', () => {
  assert.equal(colorEnabled(stream(true), {}), true);
  assert.equal(colorEnabled(stream(false), {}), false);
  assert.equal(colorEnabled(stream(true), { NO_COLOR: '1' }), false);
  assert.equal(
    colorEnabled(stream(true), { NO_COLOR: '' }),
    true,
    'an empty NO_COLOR is unset (no-color.org)',
  );
  assert.equal(colorEnabled(stream(true), { TERM: 'dumb' }), false);
});

test('paint colours the marks and a non-zero failure count, and leaves text alone without colour', () => {
  const text = '  ✓ a0\n  ✗ b\n40 passed, 2 failed\n0 failed';
  assert.equal(paint(text, false), text);
  const out = paint(text, true);
  assert.match(out, /\x1b\[32m✓\x1b\[0m a0/);
  assert.match(out, /\x1b\[31m✗\x1b\[0m b/);
  assert.match(out, /\x1b\[31m\x1b\[1m2 failed\x1b\[0m/);
  assert.match(out, /\n0 failed$/);
  assert.equal(out.replace(/\x1b\[\d+m/g, ''), text);
});

test('progress writes nothing when stderr is not a terminal, and clears its line on a terminal', async () => {
  const pipe = stream(false);
  const stopPipe = progress('working', pipe, 0);
  await sleep(30);
  stopPipe();
  assert.deepEqual(pipe.written, []);

  const tty = stream(true);
  const stop = progress('working', tty, 0);
  await sleep(30);
  stop();
  assert.match(tty.written[0]!, /^\r\x1b\[2Kworking… \d+\.\d s$/);
  assert.equal(tty.written.at(-1), '\r\x1b[2K');

  const quick = stream(true);
  progress('quick', quick, 1000)();
  assert.deepEqual(quick.written, [], 'work shorter than the delay prints nothing');
});
